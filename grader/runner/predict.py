"""The predicting worker: `python -m grader.runner.predict`, started by the supervisor once the
training worker and everything it left running are gone.

It sees the held-out images and the trained weights, and nothing of the training run: no
training digits, no files the fit wrote, no process it started. It builds the graded class
again, loads the weights into it (every tensor must fit) and predicts. A model trained on
the side during the fit can therefore only count as these weights.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from grader.contract import (
    TEST_IMAGES_FILE,
    WEIGHTS_FILE,
    InputLayout,
    Prediction,
    RunReport,
)
from grader.runner import data, fitting, opening, worker
from grader.runner.problems import problem_from
from grader.runner.stand_ins import IMAGE_SHAPES, StandIns


def predict(started: worker.Worker, digits: data.Digits, weights: dict, layout: InputLayout) -> Prediction:
    spec, submission = started.spec, started.submission
    report = RunReport()  # the training worker's report is the one that counts
    opened = opening.open_submission(spec, submission, report, started.real, started.cpu)
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
    parser = worker.arguments("python -m grader.runner.predict")
    parser.add_argument("--layout", required=True, help="the input layout that trained")
    args = parser.parse_args(argv)
    # Read before any student code runs, then gone from the disk.
    weights = torch.load(args.work / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    images = np.load(args.work / TEST_IMAGES_FILE, allow_pickle=False)
    for name in (WEIGHTS_FILE, TEST_IMAGES_FILE):
        (args.work / name).unlink()
    started = worker.start(args)
    try:
        answer = predict(started, data.unlabelled(images), weights, args.layout)
    except (Exception, SystemExit) as error:
        answer = Prediction(problem=problem_from(error, started.submission, by_grader=True))
    started.channel.predicted(answer)
    started.channel.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
