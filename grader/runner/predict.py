"""The predicting worker: `python -m grader.runner.predict`, started by the supervisor once the
training worker and everything it left running are gone.

It sees the held-out images and the trained weights, and nothing of the training run: no
training digits, no files the fit wrote, no process it started. It builds the graded class
again, loads the weights into it (every tensor must fit) and predicts. A model trained on
the side during the fit can therefore only count as these weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from grader.contract import (
    SPEC_FILE,
    TEST_IMAGES_FILE,
    WEIGHTS_FILE,
    InputLayout,
    Prediction,
    RunReport,
    RunSpec,
)
from grader.runner import data, fitting, frameworks, opening, tripwire
from grader.runner.channel import Channel
from grader.runner.problems import problem_from
from grader.runner.stand_ins import IMAGE_SHAPES, StandIns


def predict(
    spec: RunSpec, submission: Path, digits: data.Digits, weights: dict, layout: InputLayout, real: dict
) -> Prediction:
    report = RunReport()  # the training worker's report is the one that counts
    opened = opening.open_submission(spec, submission, report, real)
    if opened is None:
        return Prediction(problem=report.import_problem)
    answer = Prediction(class_name=report.discovery.class_name)
    stand_ins = StandIns(digits)  # held-out images, no labels: enough for a constructor
    built = opening.build(opened, spec, report, submission, stand_ins)
    if built is None:
        answer.problem = report.construct_problem
        return answer
    make_model, shape = built
    try:
        with stand_ins.active(shape or IMAGE_SHAPES[0]):
            model = make_model()
            model.load_state_dict(weights, strict=True)
            others = [other for other in spec.input_layouts if other != layout]
            answer.predictions, used = fitting.predict(model, digits.test_images, [layout, *others])
    except (Exception, SystemExit) as error:
        answer.problem = problem_from(error, submission)
        return answer
    if used != layout:
        answer.adaptations.append(
            f"`forward` rejected ({layout}) images outside `training_step`; it predicted from ({used})"
        )
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runner.predict")
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="the held-out images and the weights")
    parser.add_argument("--layout", required=True, help="the input layout that trained")
    parser.add_argument("--channel", type=int, required=True, help="the pipe to the supervisor")
    args = parser.parse_args(argv)
    spec = RunSpec.model_validate_json((args.input / SPEC_FILE).read_text(encoding="utf-8"))
    channel = Channel(args.channel)
    torch.set_num_threads(spec.fit.threads)
    real = frameworks.import_trusted()
    # Read before any student code runs, then gone from the disk.
    weights = torch.load(args.work / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    images = np.load(args.work / TEST_IMAGES_FILE, allow_pickle=False)
    for name in (WEIGHTS_FILE, TEST_IMAGES_FILE):
        (args.work / name).unlink()
    wire = tripwire.install(channel.suspect)
    channel.guard_with(wire.replaced)
    submission = args.submission.resolve()
    try:
        answer = predict(spec, submission, data.unlabelled(images), weights, args.layout, real)
    except (Exception, SystemExit) as error:
        answer = Prediction(problem=problem_from(error, submission, by_grader=True))
    channel.predicted(answer)
    channel.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
