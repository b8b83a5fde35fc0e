"""The real Lightning packages, taken before any student code is imported.

A submission could ship its own `pytorch_lightning/`, or monkeypatch `pl.Trainer` at import;
the runner imports the real libraries first, keeps their classes here, and puts the
submission's folders on `sys.path` only after the installed packages. The graded class
must subclass one of these `LightningModule` objects, and the grader's own fit uses
these classes, whatever the submission did to the modules since.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.contract import Framework

FRAMEWORKS: tuple[Framework, ...] = ("lightning.pytorch", "pytorch_lightning")
# Imported before the submission, so that its own folders cannot stand in for them.
TRUSTED = ("torch", "torchvision", "torchmetrics", *FRAMEWORKS)


@dataclass(frozen=True)
class Lightning:
    """The classes of one real Lightning package that the grader uses."""

    name: Framework
    LightningModule: type
    Trainer: type
    Callback: type
    ModelCheckpoint: type
    EarlyStopping: type
    Logger: type
    seed_everything: Callable[..., Any]


def classes(found: dict[Framework, Lightning]) -> list[type]:
    """The Lightning classes the grader calls, for the tripwire to watch."""
    return [
        cls
        for lightning in found.values()
        for cls in (
            lightning.LightningModule,
            lightning.Trainer,
            lightning.Callback,
            lightning.ModelCheckpoint,
            lightning.EarlyStopping,
        )
    ]


def import_trusted() -> dict[Framework, Lightning]:
    """Import the real libraries and keep the Lightning classes, by package name."""
    found = {}
    for name in TRUSTED:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if name in FRAMEWORKS:
            found[name] = Lightning(
                name=name,
                LightningModule=module.LightningModule,
                Trainer=module.Trainer,
                Callback=module.Callback,
                ModelCheckpoint=module.callbacks.ModelCheckpoint,
                EarlyStopping=module.callbacks.EarlyStopping,
                Logger=module.loggers.logger.Logger,
                seed_everything=module.seed_everything,
            )
    return found


def shadowing_names(roots: list[Path]) -> list[str]:
    """Top-level modules of the submission named like an installed or standard module.

    Called before the submission's folders are on `sys.path`; the installed module wins.
    """
    names = []
    for root in roots:
        for entry in sorted(root.iterdir()):
            name = entry.stem if entry.suffix == ".py" else entry.name if entry.is_dir() else None
            if not name or not name.isidentifier() or name in names:
                continue
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                continue
            if spec is not None:
                names.append(name)
    return names
