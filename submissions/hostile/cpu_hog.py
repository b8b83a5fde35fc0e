"""Hostile sample: takes every core of the grading machine from the run beside it.

A working MNIST classifier whose first construction forks four processes that spin for
two seconds each, and records in `hostile-findings.json` how much CPU they got per second
of wall time. It then trains normally. Expected: a run gets the rubric's threads' worth of
CPU and no more (a cgroup CPU quota in `process` as root, `nano_cpus` in Docker), so a share
of about 1 under a one-thread rubric, where the machine would give it every core.
"""

import json
import os
import time

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

SPINNERS = 4
SPIN_SECONDS = 2.0


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            started, before = time.monotonic(), os.times()
            children = []
            for _ in range(SPINNERS):  # hostile: as many busy processes as it likes
                pid = os.fork()
                if pid == 0:
                    while time.monotonic() - started < SPIN_SECONDS:
                        pass
                    os._exit(0)
                children.append(pid)
            for pid in children:
                os.waitpid(pid, 0)
            after = os.times()
            cpu = (after.children_user - before.children_user) + (
                after.children_system - before.children_system
            )
            wall = time.monotonic() - started
            with open("hostile-findings.json", "w") as handle:
                json.dump({"cpu_seconds": cpu, "wall_seconds": wall, "share": cpu / wall}, handle)
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
