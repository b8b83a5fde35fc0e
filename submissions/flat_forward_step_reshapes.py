# MNIST MLP in pytorch lightning
# forward() takes already flattened images (N, 784), the steps do the reshaping

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MyAwesomeModel(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x):
        # x must be (batch, 784)
        return self.layers(x)

    def training_step(self, batch):
        x, y = batch
        x = x.view(x.size(0), -1)
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch):
        x, y = batch
        x = x.view(x.size(0), -1)
        out = self(x)
        self.log("val_loss", self.loss_fn(out, y))
        self.log("val_acc", (out.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    train_ds = TensorDataset(torch.load("data/processed/train_images.pt"), torch.load("data/processed/train_target.pt"))
    test_ds = TensorDataset(torch.load("data/processed/test_images.pt"), torch.load("data/processed/test_target.pt"))

    model = MyAwesomeModel()
    trainer = pl.Trainer(
        max_epochs=20,
        accelerator="gpu",
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss", patience=3)],
    )
    trainer.fit(model, DataLoader(train_ds, batch_size=64, shuffle=True), DataLoader(test_ds, batch_size=64))
