"""Hostile sample: `training_step` never returns once the real fit has started, shrugs off
the polite signals and hides a process in its own session.

The model is a working MNIST classifier. The grader's direct probes of `training_step`
(outside a Trainer, `global_step` is 0) pass; at the fourth step of the grader's
`Trainer.fit` it ignores SIGTERM, SIGINT and SIGHUP, starts a `sleep` in a new session (which
inherits the ignored signals) and burns CPU forever. Expected: status `timeout` at the
wall-clock limit anyway, saying how far the fit got; no process of the run survives; the
probed criteria keep their points.
"""

import signal
import subprocess

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

# The test writes a unique duration here, to find the process on the host afterwards.
SLEEP_MARKER = "3600.000001"


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if self.global_step >= 3:
            for name in ("SIGTERM", "SIGINT", "SIGHUP"):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
            subprocess.Popen(["sleep", SLEEP_MARKER], start_new_session=True)
            spins = 0
            while True:  # hostile: burns CPU until the grader gives up
                spins += 1
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
