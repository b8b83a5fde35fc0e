"""A stand-in for pytorch_lightning that makes any module look trained.

Its Trainer records a falling loss, logs `val_loss` and writes a "checkpoint" without
running a single training step. It only works if it wins over the real package on
sys.path; the grader imports the real one first.
"""

import torch
from torch import nn

from . import callbacks  # noqa: F401  (pytorch_lightning.callbacks.ModelCheckpoint, ...)


class LightningModule(nn.Module):
    def log(self, name, value, *args, **kwargs):
        self._logged = getattr(self, "_logged", {})
        self._logged[name] = value

    def fake_progress(self):
        return torch.tensor(2.3 / (1 + getattr(self, "_step", 0)), requires_grad=True)


class Callback:
    pass


class Trainer:
    def __init__(self, *args, callbacks=(), **kwargs):
        self.callbacks, self.global_step, self.current_epoch = list(callbacks), 0, 0
        self.callback_metrics, self.interrupted = {"val_loss": torch.tensor(0.01)}, False

    def fit(self, model, *args, **kwargs):
        for step in range(100):
            model._step = step
            self.global_step = step + 1
        self.current_epoch = 3


def seed_everything(seed, verbose=True):
    torch.manual_seed(seed)
