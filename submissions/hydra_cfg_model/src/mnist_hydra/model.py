import torch
from lightning import LightningModule
from torch import nn


class MyAwesomeModel(LightningModule):
    """CNN classifier. All sizes come from conf/model/*.yaml"""

    def __init__(self, channels: int, hidden: int, dropout: float, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 13 * 13, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def training_step(self, batch, batch_idx):
        img, target = batch
        loss = self.loss_fn(self(img), target)
        self.log("train_loss", loss, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        img, target = batch
        logits = self(img)
        self.log("val_loss", self.loss_fn(logits, target), prog_bar=True)
        self.log("val_acc", (logits.argmax(dim=1) == target).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
