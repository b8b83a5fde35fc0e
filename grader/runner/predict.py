"""The predicting worker: `python -m grader.runner.predict`, started by the supervisor once the
training worker and everything it left running are gone.

It sees the held-out images, the validation digits, the trained weights and the best
checkpoint's, and nothing else of the training run: no training digits, no other file the fit
wrote, no process it started. It builds the graded class again, loads the weights into it
(every tensor must fit) and predicts. A model trained on the side during the fit can therefore
only count as these weights.

It is also where the grader measures the class rather than believing the training run
(`Measurement`): the held-out images through the weights the fit started from and through the
trained ones (the host computes both losses, with labels that never enter the sandbox), through
models that never trained (a class accurate without training did not learn in the fit), and the
validated digits through the best checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from grader.contract import (
    MAX_CHECKPOINT_BYTES,
    MAX_OUTPUT_COLUMNS,
    TEST_IMAGES_FILE,
    VALIDATION_FILES,
    WEIGHTS_FILE,
    InputLayout,
    Measurement,
    Outputs,
    Prediction,
    RunReport,
    RunSpec,
    inflated_size,
    pickle_refusal,
)
from grader.runner import data, fitting, opening, worker
from grader.runner.problems import problem_from
from grader.runner.stand_ins import IMAGE_SHAPES, StandIns

# Models that never trained are built under the fit's seed plus this, or under a secret one.
OTHER_SEED = 1
UNTRAINED_FRESH = "a fresh model built under another seed"
UNTRAINED_START = "the weights the fit started from, loaded into a model built under another seed"
UNTRAINED_SECRET = "a model built under a seed your code cannot know"
UNTRAINED_MOVED = (
    "the weights the fit started from, moved as far as the fit moved them, in a random direction"
)
T = TypeVar("T")


def encoded(rows: torch.Tensor) -> Outputs | None:
    """Outputs as the contract carries them; None for a model wider than any digit classifier."""
    if rows.ndim != 2 or not 0 < rows.shape[1] <= MAX_OUTPUT_COLUMNS:
        return None
    data_ = rows.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    return Outputs(rows=rows.shape[0], columns=rows.shape[1], data=base64.b64encode(data_).decode())


def moved(start: dict[str, torch.Tensor], trained: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The starting weights moved, tensor by tensor, as far as the fit moved them, in a random direction."""
    generator = torch.Generator().manual_seed(secrets.randbits(63))
    result = {}
    for key, first in start.items():
        step = trained[key].to(first.dtype) - first if first.is_floating_point() else None
        if step is None or not step.any():
            result[key] = first
            continue
        direction = torch.randn(first.shape, generator=generator, dtype=first.dtype)
        result[key] = first + direction * (step.norm() / direction.norm().clamp_min(1e-12))
    return result


def validated_count(spec: RunSpec, available: int) -> int:
    """How many validation digits the grader's fit validated on (its loader does not shuffle)."""
    limit = spec.fit.limit_val_batches
    return available if limit is None else min(available, limit * spec.fit.batch_size)


@dataclass(frozen=True)
class Pass:
    """One model of the class, built afresh under `seed` and given `weights` (None: its own), whose
    outputs for the held-out images (or the validated digits) are measured."""

    name: str
    seed: int
    weights: dict[str, torch.Tensor] | None
    validated: bool = False


class Measuring:
    """The measurement being taken: each part is tried on its own, and a failure says why."""

    def __init__(self, submission: Path, spec: RunSpec, make_model: Callable[..., Any], digits: data.Digits):
        self.submission, self.spec, self.make_model, self.digits = submission, spec, make_model, digits
        self.measurement = Measurement()

    def attempt(self, what: str, take: Callable[[], T]) -> T | None:
        try:
            return take()
        except (Exception, SystemExit) as error:
            self.measurement.problems.append(f"{what}: {problem_from(error, self.submission).message}")
            return None

    def starting_weights(self, layouts: list[InputLayout]) -> dict[str, torch.Tensor]:
        """The weights the fit started from: the class built under the fit's seed (a few images
        through it first, so that lazily shaped layers have their weights)."""
        model = self.make_model()
        with contextlib.suppress(Exception):
            fitting.outputs(model, lambda shape: self.digits.shaped(self.digits.test_x[:2], shape), layouts)
        return {key: value.detach().clone() for key, value in model.state_dict().items()}

    def run(self, step: Pass, layouts: list[InputLayout]) -> tuple[torch.Tensor, InputLayout]:
        """Every pass alike: a fresh model, one `load_state_dict`, the same images. Nothing in how
        a model is made or fed tells the trained one from the others."""
        model = self.make_model(seed=step.seed)
        model.load_state_dict(model.state_dict() if step.weights is None else step.weights, strict=True)
        images = self.digits.test_images
        if step.validated:
            count = validated_count(self.spec, len(self.digits.val_x))
            images = lambda shape: self.digits.shaped(self.digits.val_x[:count], shape)  # noqa: E731
        return fitting.outputs(model, images, layouts)


def predict(
    started: worker.Worker,
    digits: data.Digits,
    weights: dict,
    checkpoint: dict | None,
    layout: InputLayout,
) -> Prediction:
    spec, submission = started.spec, started.submission
    report = RunReport()  # the training worker's report is the one that counts
    opened = opening.open_submission(spec, submission, report, started.real, started.cpu)
    if opened is None:
        return Prediction(problem=report.import_problem)
    answer = Prediction(class_name=report.discovery.class_name)
    stand_ins = StandIns(digits)
    built = opening.build(opened, spec, report, submission, stand_ins)
    if built is None:
        answer.problem = report.construct_problem
        return answer
    make_model, shape = built
    answer.built = True
    measuring = Measuring(submission, spec, make_model, digits)
    measurement = answer.measurement = measuring.measurement
    layouts = [layout, *(other for other in spec.input_layouts if other != layout)]
    seed = spec.fit.seed
    with stand_ins.active(shape or IMAGE_SHAPES[0]):
        start = measuring.attempt("the model as built", lambda: measuring.starting_weights(layouts))
        if start is not None and start.keys() == weights.keys():
            measurement.weights_changed = any(not torch.equal(start[k], weights[k]) for k in start)
        passes = [
            Pass("trained", seed, weights),
            Pass("initial", seed, start),
            Pass(UNTRAINED_FRESH, seed + OTHER_SEED, None),
            Pass(UNTRAINED_START, seed + OTHER_SEED, start),
            Pass(UNTRAINED_SECRET, secrets.randbits(31), None),
            Pass("validated", seed, checkpoint if checkpoint is not None else weights, validated=True),
        ]
        if start is not None and start.keys() == weights.keys():
            passes.append(Pass(UNTRAINED_MOVED, seed, moved(start, weights)))
        passes = [p for p in passes if p.name not in ("initial", UNTRAINED_START) or start is not None]
        secrets.SystemRandom().shuffle(passes)  # the order tells nothing either
        found: dict[str, tuple[torch.Tensor, InputLayout] | BaseException] = {}
        for step in passes:
            try:
                found[step.name] = measuring.run(step, layouts)
            except (Exception, SystemExit) as error:
                found[step.name] = error
    trained = found.pop("trained")
    if isinstance(trained, BaseException):
        answer.problem = problem_from(trained, submission)
        return answer
    rows, used = trained
    measurement.loaded = True
    answer.predictions = rows.argmax(dim=1).tolist()
    if used != layout:
        answer.adaptations.append(
            f"`forward` rejected ({layout}) images outside `training_step`; it predicted from ({used})"
        )
    measurement.trained = encoded(rows)
    for name, outcome in found.items():
        if isinstance(outcome, BaseException):
            measurement.problems.append(f"{name}: {problem_from(outcome, submission).message}")
        elif name == "initial":
            measurement.initial = encoded(outcome[0])
        elif name == "validated":
            measurement.validated = encoded(outcome[0])
            measurement.validated_from = "checkpoint" if checkpoint is not None else "trained"
        else:
            measurement.untrained[name] = outcome[0].argmax(dim=1).tolist()
    return answer


def _checkpoint_weights(path: Path | None) -> dict | None:
    """The best checkpoint's weights, read weights-only before any student code runs; a file too
    large to open costs `checkpoint-saved` on the host, never this run's time."""
    if path is None or path.is_symlink() or not path.is_file() or inflated_size(path) > MAX_CHECKPOINT_BYTES:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            if pickle_refusal(archive):
                return None
        state = torch.load(path, map_location="cpu", weights_only=True).get("state_dict")
    except Exception:
        return None  # an unreadable checkpoint costs `checkpoint-saved` on the host
    return state if isinstance(state, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = worker.arguments("python -m grader.runner.predict")
    parser.add_argument("--layout", required=True, help="the input layout that trained")
    parser.add_argument("--checkpoint", type=Path, help="the best checkpoint the fit saved")
    args = parser.parse_args(argv)
    # Read before any student code runs, then gone from the disk.
    weights = torch.load(args.work / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    checkpoint = _checkpoint_weights(args.checkpoint)
    images = np.load(args.work / TEST_IMAGES_FILE, allow_pickle=False)
    validation = [np.load(args.work / name, allow_pickle=False) for name in VALIDATION_FILES]
    for name in (WEIGHTS_FILE, TEST_IMAGES_FILE, *VALIDATION_FILES):
        (args.work / name).unlink()
    started = worker.start(args)
    try:
        answer = predict(started, data.measuring(images, *validation), weights, checkpoint, args.layout)
    except (Exception, SystemExit) as error:
        answer = Prediction(problem=problem_from(error, started.submission, by_grader=True))
    started.channel.predicted(answer)
    started.channel.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
