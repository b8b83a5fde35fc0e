"""Hostile sample: the constructor starts 2,000 background processes and leaves them running.

A working MNIST classifier whose first construction spawns `sleep` processes until the
sandbox refuses (at most 2,000), records how far it got in `hostile-findings.json`, and
then trains normally. Expected: the sandbox caps the process count, the grader finishes,
and no `sleep` survives the run on the host.
"""

import json
import subprocess

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

# The test writes a unique duration here, to find the processes on the host afterwards.
SLEEP_MARKER = "3600.000001"


class MyAwesomeModel(pl.LightningModule):
    spawned = None

    def __init__(self) -> None:
        super().__init__()
        if MyAwesomeModel.spawned is None:
            MyAwesomeModel.spawned = []
            refused = None
            for _ in range(2000):  # hostile: as many processes as the sandbox allows
                try:
                    MyAwesomeModel.spawned.append(subprocess.Popen(["sleep", SLEEP_MARKER]))
                except OSError as error:
                    refused = f"{type(error).__name__}: {error}"
                    break
            with open("hostile-findings.json", "w") as handle:
                json.dump({"spawned": len(MyAwesomeModel.spawned), "refused": refused}, handle)
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
