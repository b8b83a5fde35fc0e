"""Hostile sample: nests 1,500 folders in its working folder, past PATH_MAX, during the fit.

At the second step of the fit it creates a chain of 1,500 folders with 100-character names
(150,000 characters: no full path to the bottom can be opened) and writes a 1 MB file at
the bottom, where a walk that recurses or builds paths cannot reach. Expected: the host's
watcher sees the chain (it walks relative to each folder's descriptor, without recursion)
and stops the run; the batch goes on, and the whole folder is deleted after grading.
"""

import os

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

DEPTH, NAME = 1500, "d" * 100


def nest() -> None:
    current = os.open(".", os.O_RDONLY)
    for _ in range(DEPTH):  # hostile: deeper than any recursive walk or full path reaches
        os.mkdir(NAME, dir_fd=current)
        child = os.open(NAME, os.O_RDONLY, dir_fd=current)
        os.close(current)
        current = child
    fd = os.open("hidden.bin", os.O_WRONLY | os.O_CREAT, dir_fd=current)
    os.write(fd, b"\0" * 2**20)
    os.close(fd)
    os.close(current)


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if batch_idx == 1 and not os.path.exists(NAME):  # the probes call batch 0 only
            nest()
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
