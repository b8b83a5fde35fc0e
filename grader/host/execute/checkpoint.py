"""Open the best checkpoint the sandbox wrote, safely: bounded before anything is built.

`torch.load(weights_only=True)` refuses code, not size: a 64 KB zip whose pickle inflates
to 64 MB of `None`s took the host a minute and 1.9 GB. So before it builds one object the
checkpoint must be a zip (torch's format; the legacy format is one unbounded pickle) whose
members inflate to at most `MAX_CHECKPOINT_BYTES`, and whose pickle is within the caps of
`grader.contract.pickle_refusal`, counted with `pickletools`, which builds nothing. The host
runs all of it in a child under the submission's reading budget (`grader.host.budget`).
Anything refused costs `checkpoint-saved`, with the reason.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.contract import MAX_CHECKPOINT_BYTES, inflated_size, pickle_refusal
from grader.host import budget


@dataclass(frozen=True)
class FitTrace:
    """Lightning's own record of the fit in the checkpoint it saved (None where absent)."""

    epoch: int | None
    global_step: int | None
    best_model_score: float | None  # the grader's ModelCheckpoint state
    optimizer_steps: frozenset[int]  # the optimizers' per-parameter step counts
    has_loops: bool


@dataclass(frozen=True)
class CheckpointFacts:
    found: bool
    fits_model: bool
    message: str
    trace: FitTrace | None = None


def _number(value: object) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None


def fit_trace(checkpoint: dict) -> FitTrace:
    callbacks = checkpoint.get("callbacks") if isinstance(checkpoint.get("callbacks"), dict) else {}
    best = next(
        (_number(state.get("best_model_score")) for key, state in callbacks.items()
         if "Checkpoint" in str(key) and isinstance(state, dict)),
        None,
    )  # fmt: skip
    steps = set()
    optimizers = checkpoint.get("optimizer_states")
    for optimizer in optimizers if isinstance(optimizers, list) else []:
        state = optimizer.get("state") if isinstance(optimizer, dict) else None
        for parameter in state.values() if isinstance(state, dict) else []:
            step = _number(parameter.get("step")) if isinstance(parameter, dict) else None
            if step is not None and math.isfinite(step):
                steps.add(int(step))
    epoch, step = checkpoint.get("epoch"), checkpoint.get("global_step")
    return FitTrace(
        epoch=epoch if isinstance(epoch, int) else None,
        global_step=step if isinstance(step, int) else None,
        best_model_score=best,
        optimizer_steps=frozenset(steps),
        has_loops=isinstance(checkpoint.get("loops"), dict) and "fit_loop" in checkpoint["loops"],
    )


def inspect_checkpoint(
    output: Path, relative_path: str | None, expected_shapes: dict[str, list[int]]
) -> CheckpointFacts:
    if not relative_path:
        return CheckpointFacts(False, False, "no best checkpoint was saved during the fit")
    root = output.resolve()
    path = (output / relative_path).resolve()
    if not path.is_relative_to(root) or not path.is_file() or (output / relative_path).is_symlink():
        return CheckpointFacts(False, False, "the reported checkpoint is not a file in the output")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        return CheckpointFacts(True, False, "the checkpoint is larger than the grader opens")
    try:
        return budget.run(read_checkpoint, path, expected_shapes, MAX_CHECKPOINT_BYTES)
    except budget.OverBudget as over:
        return CheckpointFacts(False, False, f"the grader stopped reading the checkpoint: {over}")


def read_checkpoint(path: Path, expected_shapes: dict[str, list[int]], max_bytes: int) -> CheckpointFacts:
    """The checkpoint's facts, refused (never opened) past any of the caps."""
    unpacked = inflated_size(path)
    if unpacked > max_bytes:
        # A few MB of zip can inflate to gigabytes in the host's memory: never opened.
        return CheckpointFacts(False, False, f"checkpoint too large ({unpacked / 2**20:.0f} MB uncompressed)")
    if not zipfile.is_zipfile(path):
        return CheckpointFacts(False, False, "the checkpoint is not in torch's zip format")
    try:
        with zipfile.ZipFile(path) as archive:
            refusal = pickle_refusal(archive)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as error:
        refusal = f"the checkpoint is not a readable zip: {error}"
    if refusal:
        return CheckpointFacts(False, False, refusal)
    import torch  # preloaded by the fork server

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state = checkpoint["state_dict"]
        shapes = {key: list(value.shape) for key, value in state.items()}
    except Exception as error:
        return CheckpointFacts(True, False, f"the checkpoint cannot be read as weights: {error}")
    if not shapes:
        return CheckpointFacts(True, False, "the checkpoint holds no weights")
    if shapes != expected_shapes:
        missing = sorted(set(expected_shapes) - set(shapes))
        extra = sorted(set(shapes) - set(expected_shapes))
        return CheckpointFacts(
            True,
            False,
            f"the checkpoint's weights do not fit the model (missing {missing[:3]}, extra {extra[:3]})",
        )
    return CheckpointFacts(
        True, True, f"{path.name} holds {len(shapes)} tensors that fit the model", fit_trace(checkpoint)
    )
