"""Hostile sample: replaces its saved checkpoint with a deflate bomb for the host to open.

It trains honestly; when the fit ends, every file in the checkpoint folder becomes a small
zip whose one member inflates to 600 MB of zeros, more than the host ever opens. Expected:
the host checks the declared sizes before `torch.load` and never inflates it; the student
loses only `checkpoint-saved`, and the grader's memory does not grow.
"""

import os
import zipfile

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

INFLATED_MB = 600


def bomb(path: str) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            zeros = b"\0" * 2**20
            for _ in range(INFLATED_MB):
                member.write(zeros)


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)

    def on_train_end(self) -> None:
        for name in os.listdir("checkpoints") if os.path.isdir("checkpoints") else []:
            bomb(os.path.join("checkpoints", name))  # hostile: for the host's torch.load


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
