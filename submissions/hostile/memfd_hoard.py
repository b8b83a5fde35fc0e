"""Hostile sample: `training_step` hoards memory the process does not map, in memfds.

A working MNIST classifier whose `training_step`, from the grader's third fit step on,
creates anonymous memory files (`os.memfd_create`) and writes 480 MB into each, never
mapping them: seven of them hold 3.3 GB, more than any rubric's limit, while the process's
own resident and proportional sizes stay those of a small fit. The direct probes pass.
Expected: status `out_of_memory`; the probed criteria keep their points.
"""

import os

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

MEMFDS = 7
CHUNK = b"\x01" * 2**20
HOARD = []


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if self.global_step >= 2:
            while len(HOARD) < MEMFDS:  # hostile: 480 MB per memfd, written, never mapped
                fd = os.memfd_create(f"hoard-{len(HOARD)}")
                for _ in range(480):
                    os.write(fd, CHUNK)
                HOARD.append(fd)
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
