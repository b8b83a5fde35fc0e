"""Entry point inside the sandbox: `python -m grader.runner --submission S --input I --output O`.

The host's nonce arrives on stdin, is read before any student code is imported and only
ever used as the key of the report's HMAC, so a result file forged by student code is
rejected by the host.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from grader.contract import REPORT_FILE, SPEC_FILE, RunReport, RunSpec, SignedReport, Stage, signature


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
        payload = self.report.model_dump_json()
        signed = SignedReport(payload=payload, signature=signature(payload, self._key))
        partial = self.path.with_suffix(".partial")
        partial.write_text(signed.model_dump_json(), encoding="utf-8")
        os.replace(partial, self.path)


def cpu_only(torch: Any) -> None:
    """`.cuda()` in a student's module becomes a no-op: grading runs on the CPU."""
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self


def quiet_frameworks() -> None:
    """Lightning's banners and warnings would bury the student's own output."""
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run(spec: RunSpec, submission: Path, inputs: Path, output: Path, writer: ReportWriter) -> None:
    report = writer.report
    # Imported lazily: the nonce is already read, and the stages above stay light.
    import torch

    from grader.runner import constructing, data, fitting, importing, probes, safe_import
    from grader.runner.problems import problem_from

    torch.set_num_threads(spec.fit.threads)
    cpu_only(torch)
    quiet_frameworks()
    roots = importing.import_roots(submission)
    sys.path[:0] = [str(root) for root in roots]
    log = safe_import.ImportLog()
    safe_import.install(submission, log)
    modules = []
    for path in importing.candidate_files(submission):
        try:
            modules.append(importing.import_file(path, roots, log))
        except (Exception, SystemExit) as error:
            report.import_problem = problem_from(error, submission)
            writer.reached("started")
            return
    report.skipped_code, report.failed_code = log.skipped, log.failed
    writer.reached("imported")

    cls, report.discovery = importing.choose_module(modules, spec.class_hint, submission)
    if cls is None and log.failed:
        report.import_problem = log.failed[0]  # the failure most likely hid the class
    writer.reached("found")
    if cls is None:
        return
    pl = importlib.import_module(report.discovery.framework)
    quiet_frameworks()
    report.hook_sources = importing.hook_sources(cls, pl.LightningModule)

    try:
        build, report.construct_notes = constructing.model_factory(cls, spec.init_kwargs, submission)
    except (Exception, SystemExit) as error:
        report.construct_problem = problem_from(error, submission)
        writer.reached("found")
        return

    def make_model() -> Any:
        pl.seed_everything(spec.fit.seed, verbose=False)
        return build()

    writer.reached("constructed")

    digits = data.load(inputs)
    report.training_step, layout = probes.probe_training_step(
        make_model, pl.LightningModule, digits, spec, submission
    )
    report.input_layout = layout
    report.validation_step = probes.probe_step(
        make_model,
        "validation_step",
        pl.LightningModule,
        digits.val_batch(layout, spec.fit.batch_size),
        submission,
        train=False,
    )
    report.configure_optimizers = probes.probe_optimizers(make_model(), submission)
    writer.reached("probed")

    model = make_model()
    report.fit = fitting.fit(
        pl, model, digits.loaders(layout, spec.fit), spec.fit, writer.path.parent, submission
    )
    report.state_dict_shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    writer.reached("fitted")
    try:
        report.predictions = fitting.predict(model, digits.test_images(layout), 256)
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
    run(spec, args.submission.resolve(), args.input.resolve(), args.output.resolve(), writer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
