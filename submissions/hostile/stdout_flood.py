"""Hostile sample: floods stdout with 200 MB (and stderr with 20 MB), then trains normally.

Expected: the grader keeps only a bounded head and tail of each stream, marks the cut,
and grades the honest parts as usual.
"""

import sys

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

LINE = "flood " * 170 + "\n"  # 1,021 bytes


class MyAwesomeModel(pl.LightningModule):
    flooded = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.flooded:
            MyAwesomeModel.flooded = True
            block = LINE * 1024  # about 1 MB
            for _ in range(200):  # hostile: 200 MB of output
                sys.stdout.write(block)
            for _ in range(20):
                sys.stderr.write(block)
            sys.stdout.flush()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
