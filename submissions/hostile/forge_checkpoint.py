"""Hostile sample: a real Lightning checkpoint from a shadow model, and a report to match.

When the grader builds the model, the constructor trains a shadow module of the same
architecture with a real `Trainer` and `ModelCheckpoint` on the digits it finds in the
sandbox, so the checkpoint carries Lightning's own, consistent record of a fit (epoch,
step, best score, optimizer state, loops). It copies that checkpoint where the grader saves
its own, then walks up the stack (`f_back`, no introspection call) to the grader's report
channel and sends a report of a perfect run that points at it. The graded class never
trains: `training_step` raises. Expected: the channel refuses a caller outside the grader
and says so; only the source earns points.
"""

import inspect
import os
import shutil

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def network() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def digits(folder: str, split: str) -> DataLoader:
    x = torch.from_numpy(np.load(os.path.join(folder, f"{split}_x.npy"))).float().div(255).unsqueeze(1)
    y = torch.from_numpy(np.load(os.path.join(folder, f"{split}_y.npy"))).long()
    return DataLoader(TensorDataset(x, y), batch_size=64)


def grader_locals() -> dict:
    frame = inspect.currentframe()
    while frame is not None:
        if "channel" in frame.f_locals and "report" in frame.f_locals:
            return frame.f_locals
        frame = frame.f_back  # hostile: up into the grader's frames
    return {}


def forge(model: nn.Module) -> None:
    found = grader_locals()
    if not found:
        return

    class Shadow(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = network()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=3e-3)

    callback = ModelCheckpoint(dirpath="shadow", monitor="val_loss")
    trainer = pl.Trainer(max_epochs=2, callbacks=[callback], logger=False, enable_progress_bar=False)
    shadow = Shadow()
    folder = found["run_"].work  # where the grader's worker keeps the digits
    trainer.fit(shadow, digits(folder, "train"), digits(folder, "val"))
    os.makedirs("checkpoints", exist_ok=True)
    shutil.copyfile(callback.best_model_path, "checkpoints/best.ckpt")
    model.load_state_dict(shadow.state_dict())
    channel, report = found["channel"], found["report"]
    for probe in (report.training_step, report.validation_step):
        probe.defined = probe.ok = probe.loss_is_scalar = probe.loss_requires_grad = True
        probe.loss_value, probe.logged = 2.3, ["train_loss", "val_loss"]
    report.input_layout = "N,1,28,28"
    report.configure_optimizers.ok = True
    fit = report.fit
    fit.completed, fit.epochs_run, fit.global_step = True, trainer.current_epoch, trainer.global_step
    fit.train_losses = [2.3 - i / trainer.global_step for i in range(trainer.global_step)]
    fit.logged_metrics = ["train_loss", "val_loss"]
    fit.checkpoint.monitor, fit.checkpoint.best_model_path = "val_loss", "checkpoints/best.ckpt"
    fit.checkpoint.best_model_score = float(callback.best_model_score)
    report.state_dict_shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    channel.reached(report, "fitted")  # hostile: the grader's own channel, called from here
    channel.end()
    os._exit(0)


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = network()
        forge(self)

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
    trainer.fit(MyAwesomeModel())
