"""Hostile sample: writes an unsigned `report.json` claiming a finished run, and leaves.

The constructor writes a plain runner report (stage `done`, a completed fit) as JSON where
the runner writes its report, and exits with code 0. Expected: an unsigned report is
refused, the run is `crashed`, and only the static source check earns points.
"""

import json
import os

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

CLAIM = {
    "stage": "done",
    "training_step": {"defined": True, "ok": True, "loss_is_scalar": True, "loss_requires_grad": True},
    "validation_step": {"defined": True, "ok": True, "logged": ["val_loss"]},
    "configure_optimizers": {"ok": True},
    "fit": {"completed": True, "epochs_run": 3, "train_losses": [2.0 - i / 20 for i in range(20)]},
    "predictions": [1] * 1000,
}


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        with open("report.json", "w") as handle:
            json.dump(CLAIM, handle)
        os._exit(0)  # hostile: the forged file is the last word

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
