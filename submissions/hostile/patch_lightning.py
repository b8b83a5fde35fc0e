"""Hostile sample: monkeypatches Lightning itself so that the grader's fit trains nothing.

When the model is built, `Trainer.fit` is replaced by a function that marks the trainer as finished
without a single step, and `LightningModule.log` by one that records whatever it is given
as logged. The module's own `training_step` raises. Expected: changing Lightning's classes
trips the tripwire; only the source earns points.
"""

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


def fit_nothing(trainer, model, *args, **kwargs):
    return None


def patch_lightning() -> None:
    pl.Trainer.fit = fit_nothing  # hostile: the grader's Trainer is this same class
    pl.LightningModule.log = lambda self, name, value, *args, **kwargs: None


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        patch_lightning()

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
