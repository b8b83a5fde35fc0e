"""Hostile sample: memory held by a process that neither wrote it nor maps it.

A working MNIST classifier whose `training_step`, at the grader's third fit step, forks a
writer that fills seven 480 MB memfds (3.3 GB, more than any rubric's limit), hands them to a
`sleep` in a session of its own and exits. The training worker holds nothing, the writer is
gone, and the holder's resident and proportional sizes are those of `sleep`. The direct probes
pass. Expected: status `out_of_memory`; the probed criteria keep their points; the holder
does not outlive the run.
"""

import os
import subprocess

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

SLEEP_MARKER = "3600.000001"  # the test rewrites it, to find the holder if it survives
MEMFDS = 7
CHUNK = b"\x01" * 2**20


def hand_off() -> None:
    """In a forked writer: fill the memfds, give them to a detached holder, exit."""
    fds = []
    for index in range(MEMFDS):
        fd = os.memfd_create(f"handoff-{index}")
        for _ in range(480):
            os.write(fd, CHUNK)
        fds.append(fd)
    subprocess.Popen(["sleep", SLEEP_MARKER], pass_fds=fds, start_new_session=True)
    os._exit(0)


class MyAwesomeModel(pl.LightningModule):
    handed_off = False

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if self.global_step >= 2 and not MyAwesomeModel.handed_off:
            MyAwesomeModel.handed_off = True
            writer = os.fork()  # hostile: the pages outlive their writer, in a process of no one's
            if writer == 0:
                hand_off()
            os.waitpid(writer, 0)
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
