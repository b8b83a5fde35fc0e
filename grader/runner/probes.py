"""Call the step hooks and `configure_optimizers` directly on one real batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from grader.contract import InputLayout, OptimizerProbe, RunSpec, StepProbe
from grader.runner.data import Digits
from grader.runner.harness import call_step, recording_subclass
from grader.runner.importing import overrides
from grader.runner.problems import problem_from


def probe_step(
    make_model: Callable[[], Any], hook: str, base: type, batch: Any, root: Path, train: bool
) -> StepProbe:
    model = make_model()
    probe = StepProbe(defined=overrides(type(model), base, hook))
    if not probe.defined:
        return probe
    logged: list[str] = []
    model.__class__ = recording_subclass(type(model), logged)
    model.train(train)
    try:
        with torch.set_grad_enabled(train):
            returned = call_step(getattr(model, hook), batch)
    except Exception as error:
        probe.problem = problem_from(error, root)
        return probe
    finally:
        probe.logged = sorted(set(logged))
    probe.ok = True
    loss = returned.get("loss") if isinstance(returned, Mapping) else returned
    probe.returned = _describe(returned)
    if isinstance(loss, torch.Tensor):
        probe.loss_is_scalar = loss.numel() == 1
        probe.loss_requires_grad = loss.requires_grad and loss.grad_fn is not None
        if probe.loss_is_scalar and torch.isfinite(loss).all():
            probe.loss_value = float(loss.detach())
    return probe


def probe_training_step(
    make_model: Callable[[], Any], base: type, digits: Digits, spec: RunSpec, root: Path
) -> tuple[StepProbe, InputLayout]:
    """Probe with each offered input layout until one works; the first is the contract."""
    first = None
    for layout in spec.input_layouts:
        batch = digits.train_batch(layout, spec.fit.batch_size)
        probe = probe_step(make_model, "training_step", base, batch, root, train=True)
        if probe.ok or not probe.defined:
            return probe, layout
        first = first or probe
    return first, spec.input_layouts[0]


def probe_optimizers(model: Any, root: Path) -> OptimizerProbe:
    probe = OptimizerProbe()
    try:
        returned = model.configure_optimizers()
    except Exception as error:
        probe.problem = problem_from(error, root)
        return probe
    probe.returned = _describe(returned)
    probe.ok = bool(_optimizers_in(returned))
    return probe


def _optimizers_in(value: Any) -> list[torch.optim.Optimizer]:
    """Optimizers in any shape Lightning accepts: one, a list, a dict, or ([opts], [scheds])."""
    if isinstance(value, torch.optim.Optimizer):
        return [value]
    if isinstance(value, Mapping):
        return _optimizers_in(value.get("optimizer"))
    if isinstance(value, list | tuple):
        return [o for item in value for o in _optimizers_in(item)]
    return []


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        grad = "with" if value.requires_grad else "without"
        return f"tensor of shape {tuple(value.shape)} {grad} gradient"
    if isinstance(value, Mapping):
        return f"dict with keys {sorted(map(str, value))}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of {[type(v).__name__ for v in value]}"
    return type(value).__name__
