"""Hostile sample: leaves a process behind that keeps rewriting the report file.

The constructor starts a detached process (a new session, its parent gone) that rewrites
`report.json` with a forged, perfect report every few milliseconds for a minute, hoping to
replace the grader's report after the runner wrote it and before the host reads it. The
module itself trains honestly. Expected: the file is rewritten under the grader's eyes,
which is reported; no forged report is believed, and no process of the run survives.
"""

import os
import subprocess
import sys

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

SLEEP_MARKER = "3600"  # the test rewrites it to find its process afterwards

REWRITER = """
import json, os, sys, time
claim = json.dumps({"payload": json.dumps({"stage": "done", "predictions": [1] * 1000}), "signature": "0" * 64})
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        with open("report.json.tmp", "w") as handle:
            handle.write(claim)
        os.replace("report.json.tmp", "report.json")
    except OSError:
        pass
    time.sleep(0.005)
"""


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        if not os.path.exists("race-started"):
            open("race-started", "w").close()
            # hostile: a rewriter in its own session, and a marked sleep to find it by
            subprocess.Popen([sys.executable, "-c", REWRITER, SLEEP_MARKER], start_new_session=True)

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


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
