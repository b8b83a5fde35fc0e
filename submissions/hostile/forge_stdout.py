"""Hostile sample: prints a perfect result on stdout and leaves before it is tested.

The constructor prints a made-up grade and a made-up runner report as JSON, then ends
the process with exit code 0. Expected: the grader never reads results from stdout: the
run is `crashed` and only what the grader saw itself (the class, the source) earns points.
"""

import json
import os

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

PERFECT = {
    "submission": "forge_stdout",
    "rubric": "m14",
    "score": 100.0,
    "max_score": 100.0,
    "status": "ok",
    "criteria": [],
}


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        print(json.dumps(PERFECT))
        print(json.dumps({"stage": "done", "predictions": [0] * 10, "fit": {"completed": True}}))
        os._exit(0)  # hostile: leave before any honest evidence exists

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
