"""Hostile sample: writes the training worker's messages on its pipe to the supervisor itself.

No grader object is called and no audited call is made: while the grader builds the model, it
walks `f_back` to the worker's own report (frames are plain attributes), finds the pipe among
its file descriptors with `os.fstat`, trains a small model on the side from the training
digits in the worker's folder, puts those weights where the worker would, and writes a complete
report of a perfect run stage by stage, then the end, exactly as the worker's channel would.
Its hooks raise. `FORGE_MODE` chooses how it gets the real worker out of the way:

- "exit": `os._exit(0)` right after the end, so the supervisor hears nothing else;
- "proc": the same, but the pipe is opened through `/proc/self/fd`, as the first try would;
- "continue": the worker goes on, and says what really happens after the forged end;
- "fitted": only the stage no second process repeats, from `on_fit_start`: a completed fit
  with early stopping watching the model's real validation loss, then `os._exit(1)`;
- "none": no forgery at all, the honest counterpart the others are held to.

Expected, on every backend: at most what "none" earns; all but "fitted" flagged, with only
what the host reads itself earning points.
"""

import json
import os
import stat
import sys

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

FORGE_MODE = "exit"


def from_worker_frames(name: str, kind: str):
    """A local of the worker's own frames, by name and type name: frames are plain attributes."""
    frame = sys._getframe(0)  # its own frame: nothing the tripwire minds
    while frame is not None:
        value = frame.f_locals.get(name)
        if type(value).__name__ == kind:
            return value
        frame = frame.f_back
    return None


def pipe_to_supervisor() -> int | None:
    if FORGE_MODE == "proc":
        for name in os.listdir("/proc/self/fd"):
            if os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                return os.open(f"/proc/self/fd/{name}", os.O_WRONLY)
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                return fd
        except OSError:
            continue
    return None


def train_on_the_side(model: nn.Module, work: str) -> None:
    images = torch.from_numpy(np.load(os.path.join(work, "train_x.npy"))).float() / 255.0
    labels = torch.from_numpy(np.load(os.path.join(work, "train_y.npy"))).long()
    images = ((images - 0.1307) / 0.3081).unsqueeze(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(150):
        index = torch.randint(0, len(images), (64,))
        loss = nn.functional.cross_entropy(model(images[index]), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def forge_fitted(model: nn.Module) -> None:
    """A completed fit, as only the training worker reports it, then gone before the truth."""
    report, run, fd = from_worker_frames("report", "RunReport"), from_worker_frames("run_", "Run"), pipe_to_supervisor()
    if report is None or run is None or fd is None:
        return
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, os.path.join(run.work, "weights.pt"))
    with torch.no_grad():
        images = run.digits.shaped(run.digits.val_x[:128], report.input_layout or "N,1,28,28")
        real = float(nn.functional.cross_entropy(model(images), run.digits.val_y[:128]))
    report.stage = "fitted"
    fit = report.fit
    fit.completed, fit.problem, fit.seconds, fit.epochs_run, fit.global_step = True, None, 0.2, 1, 10
    fit.train_losses, fit.logged_metrics = [2.3] * 10, ["train_loss"]
    stopping = fit.early_stopping
    stopping.monitor, stopping.mode, stopping.patience, stopping.checks, stopping.best_score = "val_loss", "min", 2, 1, real
    os.write(fd, (json.dumps({"kind": "report", "report": json.loads(report.model_dump_json())}) + "\n").encode())
    os._exit(1)


def forge(model: nn.Module) -> None:
    if FORGE_MODE in ("fitted", "none"):
        return
    report, run = from_worker_frames("report", "RunReport"), from_worker_frames("run_", "Run")
    fd = pipe_to_supervisor()
    if report is None or run is None or fd is None or not os.path.exists(os.path.join(run.work, "train_x.npy")):
        return
    work = str(run.work)
    train_on_the_side(model, work)
    report.input_layout = "N,1,28,28"
    for probe in (report.training_step, report.validation_step):
        probe.defined = probe.ok = probe.loss_is_scalar = probe.loss_requires_grad = True
        probe.loss_value = 2.3
        probe.logged = ["train_loss", "val_loss"]
    report.configure_optimizers.ok = True
    report.configure_optimizers.returned = "Adam"
    messages = []
    for stage in ("constructed", "probed", "fitted"):
        report.stage = stage
        if stage == "fitted":
            fit = report.fit
            fit.completed, fit.seconds, fit.epochs_run, fit.global_step = True, 0.5, 1, 10
            fit.max_steps = 10
            fit.train_losses = [2.3 - i / 10 for i in range(10)]
            fit.logged_metrics = ["train_loss"]  # no val_loss: no checkpoint to fake
            weights = model.state_dict()
            report.state_dict_shapes = {k: list(v.shape) for k, v in weights.items()}
            torch.save({k: v.detach().clone() for k, v in weights.items()}, os.path.join(work, "weights.pt"))
        messages.append({"kind": "report", "report": json.loads(report.model_dump_json())})
    messages.append({"kind": "end"})
    for message in messages:
        os.write(fd, (json.dumps(message) + "\n").encode())
    if FORGE_MODE != "continue":
        os._exit(0)


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        forge(self)  # hostile: the supervisor hears a perfect run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        raise NotImplementedError("never trained")

    def validation_step(self, batch, batch_idx):
        raise NotImplementedError("never validated")

    def configure_optimizers(self):
        raise NotImplementedError("no optimizer")

    def on_fit_start(self):
        if FORGE_MODE == "fitted":
            forge_fitted(self)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
