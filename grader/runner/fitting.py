"""The grader's own short, seeded `Trainer.fit` with checkpoint and early stopping."""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grader.contract import (
    CHECKPOINT_DIR,
    MAX_CHECKPOINT_BYTES,
    FitRecord,
    FitSettings,
    InputLayout,
    inflated_size,
)
from grader.runner.frameworks import Lightning
from grader.runner.harness import inert_logger
from grader.runner.problems import GraderFault, problem_from

MAX_RECORDED_STEPS = 2000
PROGRESS_SAVE_SECONDS = 1.0
# Test images per forward pass: memory stays small whatever the test split's size.
PREDICT_BATCH = 256


def _number(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = float(value.detach())
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as error:
            raise GraderFault(f"the grader's {type(args[0]).__name__} failed") from error

    return call


def guarded(lightning: Lightning, cls: type) -> type:
    """`cls` with every callback hook marked as the grader's: its failures are not the student's."""
    hooks = {
        name: _guarded(getattr(cls, name))
        for name in vars(lightning.Callback)
        if name.startswith("on_") or name in ("setup", "teardown", "state_dict", "load_state_dict")
    }
    return type(cls.__name__, (cls,), hooks)


def monitored_checkpoint(lightning: Lightning) -> type:
    """Lightning's `ModelCheckpoint`, except that a metric the student never logs skips the save.

    Lightning raises when the monitored key is missing, which would end the fit; the missing
    `val_loss` costs the checkpoint criteria their points, and nothing more.
    """

    class MonitoredCheckpoint(lightning.ModelCheckpoint):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if self.monitor in trainer.callback_metrics:
                super().on_train_epoch_end(trainer, pl_module)

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            if self.monitor in trainer.callback_metrics:
                super().on_validation_end(trainer, pl_module)

    return guarded(lightning, MonitoredCheckpoint)


def recorder(lightning: Lightning, settings: FitSettings, record: FitRecord, save: Callable[[], None]) -> Any:
    """A callback of the student's package that writes what happened into `record`.

    It saves the report now and then, so a run stopped at the time limit still says how far
    its fit got.
    """

    class Recorder(lightning.Callback):
        last_saved = time.monotonic()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            value = _number(loss)
            if value is not None and len(record.train_losses) < MAX_RECORDED_STEPS:
                record.train_losses.append(value)
            record.global_step = trainer.global_step
            record.epochs_run = trainer.current_epoch
            if time.monotonic() - self.last_saved > PROGRESS_SAVE_SECONDS:
                self.last_saved = time.monotonic()
                save()

        def on_validation_epoch_end(self, trainer, pl_module):
            value = _number(trainer.callback_metrics.get(settings.monitor))
            if value is not None:
                record.val_losses.append(value)
                record.early_stopping.checks += 1

    return guarded(lightning, Recorder)()


def max_steps(settings: FitSettings, train_loader: Any) -> int:
    """The fit's step budget: epochs times the batches the rubric allows per epoch."""
    batches = len(train_loader)
    if settings.limit_train_batches is not None:
        batches = min(batches, settings.limit_train_batches)
    return settings.max_epochs * batches


def fit(
    lightning: Lightning,
    model: Any,
    loaders: tuple[Any, Any],
    settings: FitSettings,
    output: Path,
    root: Path,
    record: FitRecord,
    save: Callable[[], None],
) -> None:
    """Train `model` with the grader's Trainer, writing what happened into `record`."""
    checkpoint = monitored_checkpoint(lightning)(
        dirpath=output / CHECKPOINT_DIR,
        filename="best",
        monitor=settings.monitor,
        mode=settings.mode,
        save_top_k=settings.save_top_k,
    )
    # strict=False: a module without `val_loss` still trains, so the other criteria get judged.
    early_stopping = guarded(lightning, lightning.EarlyStopping)(
        monitor=settings.monitor, mode=settings.mode, patience=settings.patience, strict=False
    )
    record.max_steps = max_steps(settings, loaders[0])
    trainer = lightning.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=settings.max_epochs,
        max_steps=record.max_steps,
        limit_train_batches=settings.limit_train_batches,
        limit_val_batches=settings.limit_val_batches,
        deterministic=True,
        logger=inert_logger(lightning),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=output / "lightning",
        callbacks=[checkpoint, early_stopping, recorder(lightning, settings, record, save)],
    )
    save()  # the step budget is known: a time-out from here on says how far the fit got
    started = time.perf_counter()
    try:
        trainer.fit(model, train_dataloaders=loaders[0], val_dataloaders=loaders[1])
        record.completed = not trainer.interrupted
    except (Exception, SystemExit) as error:
        record.problem = problem_from(error, root)
    record.seconds = time.perf_counter() - started
    record.epochs_run = trainer.current_epoch
    record.global_step = trainer.global_step
    record.logged_metrics = sorted(trainer.callback_metrics)
    record.checkpoint.monitor = checkpoint.monitor
    record.checkpoint.best_model_score = _number(checkpoint.best_model_score)
    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    # Lightning names the file before saving it: a failed save (a full disk) leaves no file.
    if best and best.is_file():
        record.checkpoint.best_model_path = best.relative_to(output).as_posix()
        # A file the student's code replaced (a deflate bomb, say) is left for the host to
        # judge; it costs `checkpoint-saved` there, not the fit.
        if inflated_size(best) <= MAX_CHECKPOINT_BYTES:
            with contextlib.suppress(Exception):
                _keep_weights_only(best)
    stopping = record.early_stopping
    stopping.monitor = early_stopping.monitor
    stopping.mode = early_stopping.mode
    stopping.patience = early_stopping.patience
    stopping.wait_count = early_stopping.wait_count
    stopping.stopped_epoch = early_stopping.stopped_epoch
    stopping.best_score = _number(early_stopping.best_score)


# What the host reads back: the weights, and Lightning's own record of the fit that made them,
# which it checks against the report (a forged report rarely comes with a checkpoint that agrees).
KEPT_KEYS = ("state_dict", "epoch", "global_step", "loops", "callbacks", "optimizer_states")


def _plain(value: Any) -> Any:
    """Tensors, numbers, strings and containers of them; anything else is left out."""
    if isinstance(value, torch.Tensor | int | float | str | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if isinstance(k, int | str)}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return None


def _keep_weights_only(path: Path) -> None:
    """Rewrite the checkpoint with plain data only, so the host can open it weights-only.

    Student hyper-parameters (e.g. an OmegaConf config) would otherwise need unpickling.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    torch.save({key: _plain(checkpoint.get(key)) for key in KEPT_KEYS}, path)


def outputs(
    model: Any, images: Callable[[InputLayout], torch.Tensor], layouts: list[InputLayout]
) -> tuple[torch.Tensor, InputLayout]:
    """The model's outputs for the images, one row per image, fed in the first layout `forward`
    accepts (in eval mode, without gradients).

    The layout that trained comes first; `training_step` may reshape the batch itself, so
    `forward` can want another one.
    """
    model.eval()
    first_error: Exception | None = None
    for layout in layouts:
        shaped = images(layout)
        try:
            with torch.no_grad():
                return torch.cat([_rows(model, chunk) for chunk in shaped.split(PREDICT_BATCH)]), layout
        except Exception as error:
            first_error = first_error or error
    raise first_error


def _rows(model: Any, chunk: torch.Tensor) -> torch.Tensor:
    output = model(chunk)
    if isinstance(output, tuple | list):
        output = output[0]
    return output.reshape(len(chunk), -1).float()
