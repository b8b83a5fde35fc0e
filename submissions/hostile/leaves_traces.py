"""Hostile sample: leaves traces wherever a later run could find them, and looks for earlier ones.

Each time the model is built it first looks for what another process may have left: files in
/tmp, /dev/shm, HOME and the working folder, an environment variable, a module added to
`sys.modules`, and a monkeypatched `torch.nn.functional.relu`, each marked with the pid that
left it. It raises if it finds any (its own are fine: a worker builds the model several times),
then leaves all of them itself. Expected: the grader builds the model in each worker of
each submission from a clean start, so every copy of this sample trains and scores like an
honest one.
"""

import contextlib
import os
import sys
import types
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

FILES = [Path("/tmp/trace.txt"), Path("/dev/shm/trace.txt"), Path.home() / "trace.txt", Path("trace.txt")]


def left_by_another(mark: object) -> bool:
    return mark is not None and str(mark) != str(os.getpid())


def traces() -> list[str]:
    found = [f"the file {path}" for path in FILES if path.exists() and left_by_another(path.read_text())]
    if left_by_another(os.environ.get("GRADER_TRACE")):
        found.append("the environment variable GRADER_TRACE")
    if left_by_another(getattr(sys.modules.get("grader_trace"), "pid", None)):
        found.append("the module grader_trace")
    if left_by_another(getattr(F.relu, "patched_by", None)):
        found.append("a patched torch.nn.functional.relu")
    return found


def leave_traces() -> None:
    pid = str(os.getpid())
    for path in FILES:
        with contextlib.suppress(OSError):
            path.write_text(pid)
    os.environ["GRADER_TRACE"] = pid
    module = types.ModuleType("grader_trace")
    module.pid = pid
    sys.modules["grader_trace"] = module
    relu = getattr(F.relu, "original", F.relu)

    def patched(*args, **kwargs):
        return relu(*args, **kwargs)

    patched.patched_by, patched.original = pid, relu
    F.relu = patched  # hostile: a later run would call this one


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        found = traces()
        if found:
            raise RuntimeError(f"an earlier run left traces: {', '.join(found)}")
        leave_traces()
        self.hidden = nn.Linear(784, 128)
        self.out = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.hidden(x.flatten(1))))

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        self.log("val_loss", F.cross_entropy(self(images), labels))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(MyAwesomeModel())
