"""Hostile sample: has the runner send a forged report, from inside the runner's process.

The student's code runs in the same Python process as the grader's training worker, so it
can find the worker's report channel and its report in memory (`gc`), fill the report with
a perfect run (every probe passed, a completed fit with a falling loss, a checkpoint whose
weights fit, early stopping active) and send it as the runner would, then exit. The model
itself never trains: `training_step` raises. Expected: the worker holds no key, the channel
refuses a caller outside the grader, the tripwire reports the `gc` walk, and only what the
host reads itself earns points.
"""

import gc
import glob
import os

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


def take_over(model: nn.Module) -> None:
    found = {type(o).__name__: o for o in gc.get_objects() if type(o).__name__ in ("Channel", "RunReport")}
    if len(found) < 2:
        return
    channel, report = found["Channel"], found["RunReport"]
    for probe in (report.training_step, report.validation_step):
        probe.defined = probe.ok = probe.loss_is_scalar = probe.loss_requires_grad = True
        probe.loss_value = 2.3
        probe.logged = ["train_loss", "val_loss"]
    report.input_layout = "N,1,28,28"
    report.configure_optimizers.ok = True
    report.configure_optimizers.returned = "Adam"
    fit = report.fit
    fit.completed = True
    fit.seconds, fit.epochs_run, fit.global_step = 1.0, 3, 60
    fit.train_losses = [2.3 - i / 30 for i in range(60)]
    fit.val_losses = [1.0, 0.8, 0.7]
    fit.logged_metrics = ["train_loss", "val_loss"]
    fit.checkpoint.monitor = "val_loss"
    fit.checkpoint.best_model_score = 0.7
    fit.checkpoint.best_model_path = "checkpoints/best.ckpt"
    stopping = fit.early_stopping
    stopping.monitor, stopping.mode, stopping.patience = "val_loss", "min", 2
    stopping.checks, stopping.best_score = 3, 0.7
    os.makedirs("checkpoints", exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, "checkpoints/best.ckpt")
    report.state_dict_shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    images = glob.glob("/*/test_x.npy") + glob.glob("/*/*/test_x.npy")
    report.predictions = [1] * (len(np.load(images[0])) if images else 1000)
    channel.reached(report, "fitted")
    channel.end()
    os._exit(0)


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        take_over(self)  # hostile: the runner signs whatever is in its report

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
