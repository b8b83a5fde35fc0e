"""The grader's own short, seeded `Trainer.fit` with checkpoint and early stopping."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from grader.contract import CHECKPOINT_DIR, FitRecord, FitSettings
from grader.runner.harness import inert_logger
from grader.runner.problems import problem_from

MAX_RECORDED_STEPS = 2000


def _number(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = float(value.detach())
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def recorder(pl: Any, settings: FitSettings, record: FitRecord) -> Any:
    """A callback of the student's package that writes what happened into `record`."""

    class Recorder(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            value = _number(loss)
            if value is not None and len(record.train_losses) < MAX_RECORDED_STEPS:
                record.train_losses.append(value)

        def on_validation_epoch_end(self, trainer, pl_module):
            value = _number(trainer.callback_metrics.get(settings.monitor))
            if value is not None:
                record.val_losses.append(value)
                record.early_stopping.checks += 1

    return Recorder()


def fit(
    pl: Any,
    model: Any,
    loaders: tuple[Any, Any],
    settings: FitSettings,
    output: Path,
    root: Path,
) -> FitRecord:
    record = FitRecord()
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=output / CHECKPOINT_DIR,
        filename="best",
        monitor=settings.monitor,
        mode=settings.mode,
        save_top_k=settings.save_top_k,
    )
    # strict=False: a module without `val_loss` still trains, so the other criteria get judged.
    early_stopping = pl.callbacks.EarlyStopping(
        monitor=settings.monitor, mode=settings.mode, patience=settings.patience, strict=False
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=settings.max_epochs,
        limit_train_batches=settings.limit_train_batches,
        limit_val_batches=settings.limit_val_batches,
        deterministic=True,
        logger=inert_logger(pl),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=output / "lightning",
        callbacks=[checkpoint, early_stopping, recorder(pl, settings, record)],
    )
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
        try:
            _keep_weights_only(best)
            record.checkpoint.best_model_path = best.relative_to(output).as_posix()
        except Exception as error:
            record.problem = record.problem or problem_from(error, root)
    stopping = record.early_stopping
    stopping.monitor = early_stopping.monitor
    stopping.mode = early_stopping.mode
    stopping.patience = early_stopping.patience
    stopping.wait_count = early_stopping.wait_count
    stopping.stopped_epoch = early_stopping.stopped_epoch
    stopping.best_score = _number(early_stopping.best_score)
    return record


def _keep_weights_only(path: Path) -> None:
    """Rewrite the checkpoint with plain data only, so the host can open it weights-only.

    Student hyper-parameters (e.g. an OmegaConf config) would otherwise need unpickling.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    kept = {key: checkpoint[key] for key in ("state_dict", "epoch", "global_step")}
    torch.save(kept, path)


def predict(model: Any, images: torch.Tensor, batch_size: int) -> list[int]:
    model.eval()
    predictions = []
    with torch.no_grad():
        for chunk in images.split(batch_size):
            output = model(chunk)
            if isinstance(output, tuple | list):
                output = output[0]
            predictions.append(output.reshape(len(chunk), -1).argmax(dim=1))
    return torch.cat(predictions).tolist()
