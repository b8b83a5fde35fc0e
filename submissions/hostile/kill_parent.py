"""Hostile sample: forges a report, leaves a process behind and kills its parent process.

The constructor writes a report claiming a finished run, starts a background `sleep`, and
sends SIGKILL to its parent (in the hope of taking the supervisor down before the real
runner overwrites the forged report). If it survives, it records what happened in
`hostile-findings.json` and trains normally. Expected: the grader finishes, the forged
report is never taken, no process of the run survives it, and the score is what the
honest evidence supports.
"""

import json
import os
import signal
import subprocess

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

# The test writes a unique duration here, to find the process on the host afterwards.
SLEEP_MARKER = "3600.000002"
CLAIM = {"stage": "done", "fit": {"completed": True}, "predictions": [1] * 1000}


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            with open("report.json", "w") as handle:
                json.dump(CLAIM, handle)
            subprocess.Popen(["sleep", SLEEP_MARKER], start_new_session=True)
            # A parent outside its PID namespace shows as 0: then it aims at the sandbox's init.
            parent = os.getppid() or 1
            try:
                os.kill(parent, signal.SIGKILL)  # hostile: take the supervisor down
                outcome = "sent"
            except OSError as error:
                outcome = f"{type(error).__name__}: {error}"
            with open("hostile-findings.json", "w") as handle:
                json.dump({"parent": parent, "kill": outcome}, handle)
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
