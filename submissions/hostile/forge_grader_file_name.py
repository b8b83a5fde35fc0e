"""Hostile sample: runs an in-process forgery from code compiled under one of the grader's file names.

The tripwire charges what it sees to the submission's own frames, and the report channel once
accepted callers from the runner's folder, both by a frame's file name, which `compile` lets its
caller choose. This sample compiles the forgery of `forge_in_process.py` (a `gc` walk to the
worker's channel and report, a perfect run sent through the channel, then `os._exit`) under the
name of a file inside `grader/runner/`. Its hooks raise. Expected: the code is made under a
grader file name (the tripwire's `compile` event), the channel refuses a caller that is not the
grader's own code object, and only what the host reads itself earns points.
"""

import os

import grader.runner
import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

FORGERY = '''
import gc, os
found = {type(o).__name__: o for o in gc.get_objects() if type(o).__name__ in ("Channel", "RunReport")}
if len(found) == 2:
    channel, report = found["Channel"], found["RunReport"]
    for probe in (report.training_step, report.validation_step):
        probe.defined = probe.ok = probe.loss_is_scalar = probe.loss_requires_grad = True
        probe.logged = ["train_loss", "val_loss"]
    report.input_layout = "N,1,28,28"
    report.configure_optimizers.ok = True
    fit = report.fit
    fit.completed, fit.seconds, fit.epochs_run, fit.global_step = True, 1.0, 1, 10
    fit.train_losses = [2.3 - i / 10 for i in range(10)]
    fit.logged_metrics = ["train_loss"]
    for stage in ("constructed", "probed", "fitted"):
        channel.reached(report, stage)
    channel.end()
    os._exit(0)
'''
DISGUISE = os.path.join(os.path.dirname(grader.runner.__file__), "fitting.py")


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        exec(compile(FORGERY, DISGUISE, "exec"), {"__name__": "grader.runner.fitting"})  # hostile

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        raise NotImplementedError("never trained")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
