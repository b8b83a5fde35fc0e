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
import secrets
import sys
import zipfile
from collections.abc import Callable
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

# Models that never trained are built under the fit's seed plus this.
OTHER_SEED = 1
UNTRAINED_FRESH = "a fresh model built under another seed"
UNTRAINED_START = "the weights the fit started from, loaded into a model built under another seed"
UNTRAINED_SHUFFLED = "the weights the fit started from, shuffled within each tensor"
T = TypeVar("T")


def encoded(rows: torch.Tensor) -> Outputs | None:
    """Outputs as the contract carries them; None for a model wider than any digit classifier."""
    if rows.ndim != 2 or not 0 < rows.shape[1] <= MAX_OUTPUT_COLUMNS:
        return None
    data_ = rows.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    return Outputs(rows=rows.shape[0], columns=rows.shape[1], data=base64.b64encode(data_).decode())


def shuffled(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each floating-point tensor's entries in a random order of its own."""
    generator = torch.Generator().manual_seed(secrets.randbits(63))
    return {
        key: value.flatten()[torch.randperm(value.numel(), generator=generator)].reshape(value.shape)
        if value.is_floating_point()
        else value
        for key, value in weights.items()
    }


def validated_count(spec: RunSpec, available: int) -> int:
    """How many validation digits the grader's fit validated on (its loader does not shuffle)."""
    limit = spec.fit.limit_val_batches
    return available if limit is None else min(available, limit * spec.fit.batch_size)


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

    def another(self, weights: dict[str, torch.Tensor] | None = None) -> Any:
        """A model of the class built under another seed, given `weights` if any."""
        model = self.make_model(seed=self.spec.fit.seed + OTHER_SEED)
        if weights is not None:
            model.load_state_dict(weights, strict=True)
        return model

    def untrained(self, what: str, build: Callable[[], Any], layout: InputLayout) -> None:
        """The held-out digits' predicted classes by a model that never trained."""

        def predicted() -> list[int]:
            return fitting.outputs(build(), self.digits.test_images, [layout])[0].argmax(dim=1).tolist()

        classes = self.attempt(what, predicted)
        if classes is not None:
            self.measurement.untrained[what] = classes

    def validated(self, model: Any, checkpoint: dict | None, layout: InputLayout) -> None:
        """The digits the fit validated on, through the best checkpoint's weights (else the trained ones)."""
        count = validated_count(self.spec, len(self.digits.val_x))

        def rows() -> torch.Tensor:
            if checkpoint is not None:
                model.load_state_dict(checkpoint, strict=True)
            images = self.digits.val_x[:count]
            return fitting.outputs(model, lambda shape: self.digits.shaped(images, shape), [layout])[0]

        found = self.attempt("the best checkpoint on the validation digits", rows)
        if found is not None:
            self.measurement.validated = encoded(found)
            self.measurement.validated_from = "checkpoint" if checkpoint is not None else "trained"


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
    try:
        with stand_ins.active(shape or IMAGE_SHAPES[0]):
            model = make_model()
            # Before any weights are loaded: the class as the fit's seed builds it, untrained.
            initial = measuring.attempt(
                "the model as built", lambda: fitting.outputs(model, digits.test_images, layouts)[0]
            )
            start = {key: value.detach().clone() for key, value in model.state_dict().items()}
            model.load_state_dict(weights, strict=True)
            measurement.loaded = True
            trained, used = fitting.outputs(model, digits.test_images, layouts)
    except (Exception, SystemExit) as error:
        answer.problem = problem_from(error, submission)
        return answer
    answer.predictions = trained.argmax(dim=1).tolist()
    if used != layout:
        answer.adaptations.append(
            f"`forward` rejected ({layout}) images outside `training_step`; it predicted from ({used})"
        )
    measurement.trained = encoded(trained)
    measurement.initial = encoded(initial) if initial is not None else None
    with stand_ins.active(shape or IMAGE_SHAPES[0]):
        measuring.untrained(UNTRAINED_FRESH, measuring.another, used)
        measuring.untrained(UNTRAINED_START, lambda: measuring.another(start), used)
        # Weights of the right shapes and scale that no seed the student's code knows gives.
        measuring.untrained(UNTRAINED_SHUFFLED, lambda: measuring.another(shuffled(start)), used)
        measuring.validated(model, checkpoint, used)
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
