"""Entry point inside the sandbox: `python -m grader.runner --submission S --input I --output O`.

The host's nonce arrives on stdin, is read before any student code is imported and only
ever used as the key of the report's HMAC, so a result file forged by student code is
rejected by the host.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.contract import (
    REPORT_FILE,
    SPEC_FILE,
    Problem,
    RunReport,
    RunSpec,
    SignedReport,
    Stage,
    signature,
)
from grader.runner.problems import problem_from


class ReportWriter:
    """Rewrites the signed report atomically after every stage, so a kill loses only that stage."""

    def __init__(self, path: Path, report: RunReport, key: str) -> None:
        self.path = path
        self.report = report
        self._key = key
        self.started = time.perf_counter()

    def reached(self, stage: Stage) -> None:
        self.report.stage = stage
        self.report.timings[stage] = round(time.perf_counter() - self.started, 3)
        self.save()

    def save(self) -> None:
        payload = self.report.model_dump_json()
        signed = SignedReport(payload=payload, signature=signature(payload, self._key))
        partial = self.path.with_suffix(".partial")
        partial.write_text(signed.model_dump_json(), encoding="utf-8")
        os.replace(partial, self.path)


def quiet_frameworks() -> None:
    """Lightning's banners and warnings would bury the student's own output."""
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _first_import_problem(failed: list[Problem], submission: Path) -> Problem:
    """The failure most likely to have hidden the class: in a file that mentions LightningModule."""
    for problem in failed:
        file = submission / (problem.location or "").rsplit(":", 1)[0]
        if file.is_file() and "LightningModule" in file.read_text(encoding="utf-8", errors="replace"):
            return problem
    return failed[0]


def run(spec: RunSpec, submission: Path, inputs: Path, output: Path, writer: ReportWriter) -> None:
    report = writer.report
    # Imported lazily: the nonce is already read, and the stages above stay light.
    import torch

    from grader.runner import call_sites, constructing, data, devices, frameworks, importing, safe_import
    from grader.runner.stand_ins import StandIns

    torch.set_num_threads(spec.fit.threads)
    real = frameworks.import_trusted()
    cpu = devices.CpuOnly(torch, submission)
    cpu.install()
    quiet_frameworks()
    roots = importing.import_roots(submission)
    shadowing = frameworks.shadowing_names(roots)
    sources = constructing.Sources(submission, lambda path: importing.package_of(path, roots))
    # After the installed packages: a submission's `pytorch_lightning/`, `torch.py` or `json.py`
    # cannot stand in for the real one; the student's own modules are still found by name.
    extra = call_sites.sys_path_additions(sources.files) + call_sites.script_folders(sources.files)
    sys.path += [str(folder) for folder in dict.fromkeys([*roots, *extra])]
    log = safe_import.ImportLog()
    safe_import.install(submission, log)
    modules = []
    for path in importing.candidate_files(submission):
        try:
            modules.append(importing.import_file(path, roots, log))
        except (Exception, SystemExit) as error:
            log.fail(problem_from(error, submission))  # costs only what depends on it
    report.skipped_code, report.failed_code = log.skipped, log.failed
    report.adaptations += [
        f"`{name}` in your submission has the name of an installed module; the installed `{name}` "
        "was used, so rename yours"
        for name in shadowing
    ]
    writer.reached("imported")

    trained = call_sites.trained_class_names(sources.files)
    bases = {name: framework.LightningModule for name, framework in real.items()}
    called = call_sites.called_names(sources.files)
    cls, report.discovery = importing.choose_module(
        modules, spec.class_hint, submission, trained, called, bases
    )
    if cls is None and log.failed:
        report.import_problem = _first_import_problem(log.failed, submission)
    writer.reached("found")
    if cls is None:
        return
    lightning = real[report.discovery.framework]
    quiet_frameworks()
    report.hook_sources = importing.hook_sources(cls, lightning.LightningModule)

    digits = data.load(inputs)
    stand_ins = StandIns(digits)
    try:
        build_and_fit(Run(spec, lightning, digits, submission, output, writer), cls, sources, stand_ins)
    finally:
        report.adaptations[:0] = stand_ins.note() + cpu.note()
        writer.save()


@dataclass(frozen=True)
class Run:
    """What the stages after discovery share."""

    spec: RunSpec
    lightning: Any  # frameworks.Lightning of the graded class
    digits: Any  # data.Digits
    submission: Path
    output: Path
    writer: ReportWriter


def build_and_fit(run: Run, cls: type, sources: Any, stand_ins: Any) -> None:
    from grader.runner import constructing
    from grader.runner.stand_ins import IMAGE_SHAPES

    spec, lightning, submission, writer = run.spec, run.lightning, run.submission, run.writer
    report = writer.report
    try:
        build, report.construct_notes, shape = constructing.model_factory(
            cls, spec.init_kwargs, sources, stand_ins
        )
    except (Exception, SystemExit) as error:
        report.construct_problem = problem_from(error, submission)
        return

    def make_model() -> Any:
        lightning.seed_everything(spec.fit.seed, verbose=False)
        return build()

    writer.reached("constructed")
    # Data the module loads itself in `setup` or later hooks is stood in for too.
    with stand_ins.active(shape or IMAGE_SHAPES[0]):
        probe_and_fit(run, make_model)


def probe_and_fit(run: Run, make_model: Any) -> None:
    from grader.runner import fitting, probes

    spec, lightning, digits, submission, writer = (
        run.spec,
        run.lightning,
        run.digits,
        run.submission,
        run.writer,
    )
    report = writer.report
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
    writer.reached("probed")

    model = make_model()
    fitting.fit(
        lightning,
        model,
        digits.loaders(layout, spec.fit),
        spec.fit,
        run.output,
        submission,
        report.fit,
        writer.save,
    )
    report.state_dict_shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    writer.reached("fitted")
    others = [other for other in spec.input_layouts if other != layout]
    try:
        report.predictions, used = fitting.predict(model, digits.test_images, [layout, *others])
        if used != layout:
            report.adaptations.append(
                f"`forward` rejected ({layout}) images outside `training_step`; it predicted from ({used})"
            )
    except (Exception, SystemExit) as error:
        report.predict_problem = problem_from(error, submission)
    writer.reached("done")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runner")
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    key = sys.stdin.readline().strip()
    spec = RunSpec.model_validate_json((args.input / SPEC_FILE).read_text(encoding="utf-8"))
    writer = ReportWriter(args.output / REPORT_FILE, RunReport(), key)
    del key
    writer.reached("started")
    os.chdir(args.output)
    submission = args.submission.resolve()
    try:
        run(spec, submission, args.input.resolve(), args.output.resolve(), writer)
    except (Exception, SystemExit) as error:
        # Every call into student code is guarded where it happens: what escapes is the
        # grader's failure, unless its traceback runs through the student's files.
        writer.report.runner_problem = problem_from(error, submission, by_grader=True)
        writer.save()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
