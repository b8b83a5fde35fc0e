"""The grader's own fit: the student's metric names never crash it, and its own failures are its own."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from grader.contract import FitRecord, FitSettings, RunReport
from grader.host.judge.verdict import status_of, status_reason
from grader.runner import fitting
from grader.runner.frameworks import import_trusted
from grader.sandbox import SandboxOutcome

pytestmark = pytest.mark.slow  # trains small models
SETTINGS = FitSettings(seed=0, batch_size=16, max_epochs=2, patience=2, threads=1)
LIGHTNING = import_trusted()["lightning.pytorch"]


class Tiny(pl.LightningModule):
    def __init__(self, metric: str = "validation_loss") -> None:
        super().__init__()
        self.metric = metric
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log(self.metric, nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loaders() -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.rand(64, 1, 28, 28, generator=generator), torch.randint(0, 10, (64,), generator=generator)
    )
    return DataLoader(data, batch_size=16), DataLoader(data, batch_size=16)


def fit(tmp_path: Path, model: pl.LightningModule, submission: Path | None = None) -> FitRecord:
    """`submission`: the folder whose code counts as the student's (errors located there)."""
    record = FitRecord()
    fitting.fit(
        LIGHTNING, model, loaders(), SETTINGS, tmp_path, submission or tmp_path, record, save=lambda: None
    )
    return record


def test_a_module_that_never_logs_val_loss_still_fits_to_the_end(tmp_path: Path) -> None:
    record = fit(tmp_path, Tiny("validation_loss"))
    assert record.completed and record.problem is None
    assert record.global_step == record.max_steps == 8
    assert "validation_loss" in record.logged_metrics
    assert record.checkpoint.best_model_path is None  # nothing to monitor, nothing saved
    assert record.early_stopping.checks == 0


def test_a_failure_of_the_graders_own_callback_is_a_grader_error(tmp_path: Path, monkeypatch) -> None:
    class Broken(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            raise RuntimeError("a bug in the grader's callback")

    monkeypatch.setattr(
        fitting, "monitored_checkpoint", lambda lightning: fitting.guarded(lightning, _Checkpoint(Broken))
    )
    record = fit(tmp_path, Tiny("val_loss"))
    assert not record.completed
    assert record.problem.by_grader and record.problem.location is None
    assert "a bug in the grader's callback" in record.problem.message
    report = RunReport(stage="done", fit=record)
    outcome = SandboxOutcome(backend="none", exit_code=0, wall_seconds=1.0)
    assert status_of(outcome, report) == "grader_error"
    assert "not your code" in status_reason(None, report)


def test_the_students_own_error_during_the_fit_stays_theirs(tmp_path: Path) -> None:
    class Raises(Tiny):
        def training_step(self, batch, batch_idx):
            raise ValueError("student bug")

    record = fit(tmp_path, Raises(), submission=Path(__file__).parent)
    assert not record.problem.by_grader
    assert record.problem.location and record.problem.location.startswith("test_fitting.py:")


def _Checkpoint(callback: type) -> type:
    """A stand-in for the grader's checkpoint class that accepts its arguments."""

    class Checkpoint(callback):
        def __init__(self, **kwargs) -> None:
            self.monitor = kwargs["monitor"]
            self.best_model_score = None
            self.best_model_path = ""

    return Checkpoint
