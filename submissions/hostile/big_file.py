"""Hostile sample: the constructor tries to write 4 GB files, and files outside its folder.

A working MNIST classifier whose first construction writes up to 4 GB into the working
directory and into /tmp, tries to plant files next to and above it, records what each
attempt achieved in `hostile-findings.json`, and then trains normally. Expected: each
file stops at the sandbox's file-size limit (or its scratch space), nothing lands outside
the run's own folders, and the honest parts are graded as usual.
"""

import json
import os

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

BLOCK = 2**20


def fill(path: str, megabytes: int) -> dict:
    """Write up to `megabytes` MB to `path`; how many were written and how it ended."""
    written, error = 0, None
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes):
                handle.write(b"\0" * BLOCK)
                written += 1
    except OSError as failure:
        error = failure.errno
    return {"mb": written, "errno": error}


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            found = {path: fill(path, 4096) for path in ("hostile-big.bin", "/tmp/hostile-big.bin")}
            planted = ["../hostile-planted", "/hostile-planted", os.path.expanduser("~/hostile-planted")]
            found["planted"] = {path: fill(path, 1) for path in planted}
            with open("hostile-findings.json", "w") as handle:
                json.dump(found, handle)
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
