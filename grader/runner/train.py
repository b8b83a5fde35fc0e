"""The training worker: `python -m grader.runner.train`, started by the runner's supervisor.

It imports the submission, probes its hooks and fits it on the training digits, and sends
the report to the supervisor after every stage. It never sees the held-out images, and it
ends by writing the trained weights, which the predicting worker loads.

The probing worker (`python -m grader.runner.probe`) is this worker without the fit: the
supervisor's first, fresh process, whose report of the import, the class and its hooks the
training worker's must repeat.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grader.contract import WEIGHTS_FILE, InputLayout, RunReport, RunSpec
from grader.runner import data, fitting, opening, probes, worker
from grader.runner.channel import Channel
from grader.runner.problems import problem_from
from grader.runner.stand_ins import IMAGE_SHAPES, StandIns


@dataclass(frozen=True)
class Run:
    """What the stages share."""

    worker: worker.Worker
    digits: data.Digits
    output: Path
    work: Path
    report: RunReport

    @property
    def spec(self) -> RunSpec:
        return self.worker.spec

    @property
    def submission(self) -> Path:
        return self.worker.submission

    @property
    def channel(self) -> Channel:
        return self.worker.channel


def run(run_: Run, fit: bool) -> None:
    spec, report, channel, submission = run_.spec, run_.report, run_.channel, run_.submission
    opened = opening.open_submission(spec, submission, report, run_.worker.real, run_.worker.cpu)
    channel.reached(report, "imported")
    channel.reached(report, "found")
    if opened is None:
        return
    stand_ins = StandIns(run_.digits)
    try:
        built = opening.build(opened, spec, report, submission, stand_ins)
        if built is None:
            return
        make_model, shape = built
        channel.reached(report, "constructed")
        # Data the module loads itself in `setup` or later hooks is stood in for too.
        with stand_ins.active(shape or IMAGE_SHAPES[0]):
            layout = probe(run_, opened.lightning, make_model)
            if fit:
                fit_and_save(run_, opened.lightning, make_model, layout)
    finally:
        report.adaptations[:0] = stand_ins.note() + opened.cpu.note()
        channel.save(report)


def probe(run_: Run, lightning: Any, make_model: Any) -> InputLayout:
    """Call the hooks directly on one batch; the input layout the model takes."""
    spec, digits, submission, report = run_.spec, run_.digits, run_.submission, run_.report
    report.training_step, layout = probes.probe_training_step(
        make_model, lightning.LightningModule, digits, spec, submission
    )
    report.input_layout = layout
    report.validation_step = probes.probe_step(
        make_model,
        "validation_step",
        lightning.LightningModule,
        digits.val_batch(layout, spec.fit.batch_size),
        submission,
        train=False,
    )
    report.configure_optimizers = probes.probe_optimizers(make_model(), submission)
    run_.channel.reached(report, "probed")
    return layout


def fit_and_save(run_: Run, lightning: Any, make_model: Any, layout: InputLayout) -> None:
    report, channel = run_.report, run_.channel
    model = make_model()
    fitting.fit(
        lightning,
        model,
        run_.digits.loaders(layout, run_.spec.fit),
        run_.spec.fit,
        run_.output,
        run_.submission,
        report.fit,
        lambda: channel.save(report),
    )
    # The fit's record leaves before any more student code (`state_dict` may be overridden) runs.
    channel.reached(report, "fitted")
    weights = model.state_dict()
    report.state_dict_shapes = {key: list(value.shape) for key, value in weights.items()}
    torch.save({key: value.detach().clone() for key, value in weights.items()}, run_.work / WEIGHTS_FILE)
    channel.save(report)


def main(argv: list[str] | None = None, fit: bool = True) -> int:
    parser = worker.arguments("python -m grader.runner.train" if fit else "python -m grader.runner.probe")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    started = worker.start(args)
    report = RunReport()
    run_ = Run(started, data.load(args.work), args.output.resolve(), args.work.resolve(), report)
    try:
        run(run_, fit)
    except (Exception, SystemExit) as error:
        # Every call into student code is guarded where it happens: what escapes is the
        # grader's failure, unless its traceback runs through the student's files.
        report.runner_problem = problem_from(error, started.submission, by_grader=True)
        started.channel.save(report)
        started.channel.end()
        return 1
    started.channel.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
