"""Hostile sample: walks up the call stack into the grader's own frames and edits its report.

`configure_optimizers` is called by the grader right after it probed `training_step`, whose
result sits in a local of a grader frame, not yet sent. The hook climbs the stack with
`sys._getframe`, finds the runner's `report` and marks the failed `training_step` probe as
passed, so the grader would send the forged result itself. `training_step` raises.
Expected: reading the grader's frames trips the tripwire; only the source earns points.
"""

import sys

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


def mark_training_step_passed() -> None:
    depth = 1
    while True:
        try:
            frame = sys._getframe(depth)  # hostile: the grader's frames, one by one
        except ValueError:
            return
        report = frame.f_locals.get("report")
        if type(report).__name__ == "RunReport":
            probe = report.training_step
            probe.ok = probe.loss_is_scalar = probe.loss_requires_grad = True
            probe.problem, probe.loss_value, probe.logged = None, 2.3, ["train_loss"]
            return
        depth += 1


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        raise NotImplementedError("never trained")

    def configure_optimizers(self):
        mark_training_step_passed()
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
