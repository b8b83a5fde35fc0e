"""Hostile sample: ignores the polite signals, hides a process in its own session, and
never finishes building.

The constructor ignores SIGTERM, SIGINT and SIGHUP, starts a `sleep` in a new session
(which inherits the ignored signals) and then sleeps forever, waking every half second.
Expected: the grader stops it at the wall-clock limit anyway (`timeout`), no process of the
run survives, and the class and the source still earn their points.
"""

import signal
import subprocess
import time

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

# The test writes a unique duration here, to find the process on the host afterwards.
SLEEP_MARKER = "3600.000003"


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        for name in ("SIGTERM", "SIGINT", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        subprocess.Popen(["sleep", SLEEP_MARKER], start_new_session=True)
        while True:  # hostile: never returns, and shrugs off SIGTERM
            time.sleep(0.5)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
