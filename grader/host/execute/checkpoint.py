"""Open the best checkpoint the sandbox wrote, safely: size-capped, weights only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.contract import MAX_CHECKPOINT_BYTES, inflated_size


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
    except (TypeError, ValueError, RuntimeError):
        return None


def fit_trace(checkpoint: dict) -> FitTrace:
    callbacks = checkpoint.get("callbacks") if isinstance(checkpoint.get("callbacks"), dict) else {}
    best = next(
        (_number(state.get("best_model_score")) for key, state in callbacks.items()
         if "Checkpoint" in str(key) and isinstance(state, dict)),
        None,
    )  # fmt: skip
    steps = set()
    for optimizer in checkpoint.get("optimizer_states") or []:
        state = optimizer.get("state", {}) if isinstance(optimizer, dict) else {}
        for parameter in state.values():
            step = _number(parameter.get("step")) if isinstance(parameter, dict) else None
            if step is not None:
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
    unpacked = inflated_size(path)
    if unpacked > MAX_CHECKPOINT_BYTES:
        # A few MB of zip can inflate to gigabytes in the host's memory: never opened.
        return CheckpointFacts(False, False, f"checkpoint too large ({unpacked / 2**20:.0f} MB uncompressed)")
    import torch  # only when there is a checkpoint to open

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
