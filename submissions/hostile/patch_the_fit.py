"""Hostile sample: replaces the grader's own fit, from inside the runner's process.

When the model is built it swaps the runner's `fit` for one that trains nothing and fills the fit record
with a perfect-looking run (a completed fit, a falling loss, `val_loss` logged, early
stopping active). The module itself never trains: `training_step` raises. Expected: the
host does not believe the report (a completed fit with `val_loss` logged always leaves
the grader's checkpoint); only the source counts, and the row says `tampering suspected`.
"""

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


def fake_fit(lightning, model, loaders, settings, output, root, record, save):
    record.completed = True
    record.seconds, record.epochs_run, record.global_step = 1.0, 3, 141
    record.train_losses = [2.3 - i / 70 for i in range(141)]
    record.val_losses = [1.0, 0.8, 0.7]
    record.logged_metrics = ["train_loss", "val_loss"]
    stopping = record.early_stopping
    stopping.monitor, stopping.mode, stopping.patience = "val_loss", "min", 2
    stopping.checks, stopping.best_score = 3, 0.7


def patch_the_grader() -> None:
    try:
        from grader.runner import fitting  # the grader's own module, importable in its process
    except ImportError:
        return
    fitting.fit = fake_fit  # hostile: the grader's fit now trains nothing


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        patch_the_grader()

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
