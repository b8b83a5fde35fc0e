"""Lightning version of the digits classifier."""

import pytorch_lightning as pl
import torch
from torch import nn


class MyAwesomeModel(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, hidden: int = 64) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 16, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 13 * 13, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 10),
        )
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x))

    def training_step(self, batch, batch_idx):
        img, target = batch
        loss = self.criterion(self(img), target)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        img, target = batch
        y_pred = self(img)
        self.log("val_loss", self.criterion(y_pred, target))
        self.log("val_acc", (y_pred.argmax(dim=1) == target).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
