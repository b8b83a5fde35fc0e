"""Lightning + wandb + torchmetrics, trained at import time like in the lecture notebook."""

import lightning.pytorch as pl
import torch
import torchmetrics
import wandb
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from torch import nn

wandb.login()
wandb.init(project="dtu_mlops", entity="my-team")

DATA_PATH = "data/processed"
train_images = torch.load(f"{DATA_PATH}/train_images.pt")
train_target = torch.load(f"{DATA_PATH}/train_target.pt")


class MyAwesomeModel(pl.LightningModule):
    def __init__(self, lr: float = 3e-3) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
        )
        self.lr = lr
        self.criterion = nn.CrossEntropyLoss()
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=10)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=10)

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        data, target = batch
        preds = self(data)
        loss = self.criterion(preds, target)
        self.train_acc(preds, target)
        self.log("train_loss", loss)
        self.log("train_acc", self.train_acc, on_step=True, on_epoch=False)
        self.logger.experiment.log({"logits": wandb.Histogram(preds.detach().cpu())})
        return loss

    def validation_step(self, batch, batch_idx):
        data, target = batch
        preds = self(data)
        self.val_acc(preds, target)
        self.log("val_loss", self.criterion(preds, target), prog_bar=True)
        self.log("val_acc", self.val_acc)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)}


model = MyAwesomeModel().cuda()
dataset = torch.utils.data.TensorDataset(train_images, train_target)
trainer = pl.Trainer(
    max_epochs=50,
    accelerator="gpu",
    logger=WandbLogger(project="dtu_mlops"),
    callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss", patience=5)],
)
trainer.fit(model, torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=4))
torch.save(model.state_dict(), "models/model.pth")
