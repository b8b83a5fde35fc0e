"""Grade one submission: stage it, run it in the sandbox, read what came back, score it."""

from __future__ import annotations

import hmac
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from grader.contract import (
    MAX_REPORT_BYTES,
    REPORT_FILE,
    SPEC_FILE,
    Problem,
    RunReport,
    RunSpec,
    SignedReport,
    signature,
)
from grader.host.checkpoint import inspect_checkpoint
from grader.host.data import Splits
from grader.host.discovery import Submission
from grader.host.results import CriterionResult, GradeResult, Status, Timings
from grader.host.scoring import Evidence, score
from grader.host.staging import StagingError, stage
from grader.host.static_checks import scan
from grader.rubric.models import Rubric, UsesCallbacks
from grader.sandbox import Sandbox, SandboxLimits, SandboxOutcome, SandboxRequest
from grader.sandbox.base import OutputWatch

MAX_LISTED = 5
NEXT_STEP = {
    "started": "importing your code",
    "imported": "looking for your LightningModule",
    "found": "building your model",
    "constructed": "calling `training_step`, `validation_step` and `configure_optimizers`",
    "probed": "the `Trainer.fit`",
    "fitted": "predicting the held-out digits",
}


@dataclass
class GradingContext:
    """What every submission of a batch shares: rubric, data, sandbox and a work folder."""

    rubric: Rubric
    splits: Splits
    sandbox: Sandbox
    workdir: Path
    reference_accuracy: float | None = None
    reference_seconds: float | None = None  # the reference's whole run in the sandbox, here

    def __post_init__(self) -> None:
        self.inputs = self.workdir / "inputs"
        if not self.inputs.exists():
            self.splits.write_inputs(self.inputs)
            spec = RunSpec(
                fit=self.rubric.fit_settings(),
                class_hint=self.rubric.model.class_hint,
                init_kwargs=self.rubric.model.init_kwargs,
                input_layouts=self.rubric.model.input_layouts,
            )
            (self.inputs / SPEC_FILE).write_text(spec.model_dump_json(), encoding="utf-8")

    def work_folder(self, name: str) -> Path:
        """The submission's staged copy and the run's output; the batch removes it after."""
        return self.workdir / "submissions" / name

    @property
    def wall_seconds(self) -> float:
        """The rubric's limit, or a multiple of the reference's own run on a slower machine."""
        limits = self.rubric.limits
        scaled = limits.reference_multiple * (self.reference_seconds or 0.0)
        return max(limits.wall_seconds, round(scaled))

    def time_note(self) -> list[str]:
        if self.wall_seconds <= self.rubric.limits.wall_seconds:
            return []
        return [
            f"the time limit was raised from {self.rubric.limits.wall_seconds:g} s to {self.wall_seconds:g} s: "
            f"{self.rubric.limits.reference_multiple:g} times the reference solution's {self.reference_seconds:.1f} s "
            "on this machine"
        ]

    @property
    def limits(self) -> SandboxLimits:
        limits = self.rubric.limits
        return SandboxLimits(
            wall_seconds=self.wall_seconds,
            memory_mb=limits.memory_mb,
            threads=limits.threads,
            output_bytes=limits.output_kb * 1024,
            max_output_mb=limits.disk_mb,
        )


def read_report(output: Path, nonce: str) -> RunReport | None:
    """The runner's report, or None when it is missing, oversized, malformed or forged."""
    path = output / REPORT_FILE
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_REPORT_BYTES:
        return None
    try:
        signed = SignedReport.model_validate_json(path.read_bytes())
        if not hmac.compare_digest(signed.signature, signature(signed.payload, nonce)):
            return None
        return RunReport.model_validate_json(signed.payload)
    except ValidationError:
        return None


def accuracy(report: RunReport | None, labels: np.ndarray) -> float | None:
    predictions = report.predictions if report else None
    if predictions is None or len(predictions) != len(labels):
        return None
    return float(np.mean(np.asarray(predictions) == labels))


def _problem_brief(problem: Problem) -> str:
    return f"`{problem.kind}` at {problem.location}" if problem.location else f"`{problem.kind}`"


def grader_fault(report: RunReport | None) -> Problem | None:
    """A failure of the grader's own code during the run: never the student's fault."""
    if report is None:
        return None
    for problem in (report.runner_problem, report.fit.problem):
        if problem and problem.by_grader:
            return problem
    return None


def status_reason(stop: str | None, report: RunReport | None) -> str:
    """The headline of the feedback: why the run stopped, or which of the student's code raised."""
    fault = grader_fault(report)
    if fault:
        return f"the grader itself failed, not your code ({fault.message}); your instructor will regrade it"
    if stop:
        problem = report and (report.import_problem or report.construct_problem)
        return stop + (f": {problem.message}" if problem else "")
    if report is None:
        return ""
    for what, problem in (
        ("`training_step`", report.training_step.problem),
        ("`Trainer.fit`", report.fit.problem),
    ):
        if problem:
            where = f" at {problem.location}" if problem.location else ""
            return f"{what} raised{where}: {problem.message}"
    return ""


def stop_reason(outcome: SandboxOutcome, report: RunReport | None, context: GradingContext) -> str | None:
    """Why the runner did not reach its end, in the student's terms (None when it did)."""
    rubric = context.rubric
    if report and report.stage == "done":
        return None
    during = f" during {NEXT_STEP[report.stage]}" if report else ""
    if report and report.stage == "probed" and report.fit.max_steps:
        during += f" (step {report.fit.global_step} of {report.fit.max_steps})"
    if outcome.timed_out:
        return f"grading stopped at the time limit of {context.wall_seconds:g} s{during}"
    if outcome.out_of_memory:
        return f"grading stopped at the memory limit of {rubric.limits.memory_mb} MB{during}"
    if outcome.output_exceeded:
        return f"grading stopped{during}: your code wrote more than {rubric.limits.disk_mb} MB or {OutputWatch.MAX_ENTRIES} files into its working folder"
    if report is None:
        return "the run ended without a valid result (it crashed, exited early, or its result file was tampered with)"
    if report.import_problem:
        return f"your code could not be imported ({_problem_brief(report.import_problem)})"
    if report.stage == "found" and report.discovery.class_name is None and not report.import_problem:
        return "no `LightningModule` subclass was found in your code"
    if report.construct_problem:
        return f"your model could not be built ({_problem_brief(report.construct_problem)})"
    if report.runner_problem and not report.runner_problem.by_grader:
        return f"your code raised {_problem_brief(report.runner_problem)}{during}"
    if report.runner_problem:
        return f"the grader itself failed{during}, not your code"
    return f"the run ended unexpectedly (exit code {outcome.exit_code}){during}"


def status_of(outcome: SandboxOutcome, report: RunReport | None) -> Status:
    if outcome.timed_out:
        return "timeout"
    if outcome.out_of_memory:
        return "out_of_memory"
    if grader_fault(report):
        return "grader_error"
    if outcome.output_exceeded:
        return "crashed"
    if (
        report
        and report.stage == "found"
        and report.discovery.class_name is None
        and not report.import_problem
    ):
        return "rejected"
    if report is None or report.stage != "done":
        return "crashed"
    if report.fit.problem or report.training_step.problem:
        return "crashed"
    return "ok"


MISSING_MODULE = re.compile(r"No module named '(?P<name>[^'.]+)")


def _own_module(folder: Path, name: str) -> bool:
    """Whether the submission has a module or package of that name (then it is no missing package)."""
    return any(True for _ in folder.rglob(name)) or any(True for _ in folder.rglob(f"{name}.py"))


def import_notes(report: RunReport, folder: Path) -> list[str]:
    notes = list(report.construct_notes) + list(report.adaptations)
    if report.skipped_code:
        shown = "; ".join(report.skipped_code[:MAX_LISTED])
        more = (
            f" (and {len(report.skipped_code) - MAX_LISTED} more)"
            if len(report.skipped_code) > MAX_LISTED
            else ""
        )
        notes.append(f"top-level code your model does not need was not run: {shown}{more}")
    for problem in report.failed_code[:MAX_LISTED]:
        missing = MISSING_MODULE.search(problem.message) if problem.kind == "ModuleNotFoundError" else None
        if missing and not _own_module(folder, missing["name"]):
            notes.append(
                f"package `{missing['name']}` is not installed where grading runs; the import at "
                f"{problem.location} was passed over, and only what needs it cannot be graded"
            )
        else:
            notes.append(
                f"top-level code at {problem.location} failed and was passed over: `{problem.message}`"
            )
    return notes


def callback_names(rubric: Rubric) -> set[str]:
    return {name for c in rubric.criteria if isinstance(c, UsesCallbacks) for name in c.callbacks}


def rejected(submission: Submission, context: GradingContext, reason: str, started: float) -> GradeResult:
    rubric = context.rubric
    criteria = [
        CriterionResult(
            id=c.id,
            points=0.0,
            max_points=c.points,
            message=f"Not judged: {reason}.",
            description=c.description,
            hint=c.hint,
            hidden=c.hidden,
        )
        for c in rubric.criteria
    ]
    return GradeResult(
        submission=submission.name,
        rubric=rubric.id,
        score=0.0,
        max_score=rubric.max_score,
        status="rejected",
        status_reason=reason,
        criteria=criteria,
        timings=Timings(total_seconds=round(time.perf_counter() - started, 2)),
    )


def grade(submission: Submission, context: GradingContext) -> GradeResult:
    started = time.perf_counter()
    rubric = context.rubric
    work = context.work_folder(submission.name)
    shutil.rmtree(work, ignore_errors=True)
    try:
        staged = stage(submission.path, work / "submission")
    except StagingError as error:
        return rejected(submission, context, str(error), started)
    output = work / "output"
    output.mkdir()
    nonce = secrets.token_hex(16)
    request = SandboxRequest(staged.folder, context.inputs, output, f"{nonce}\n".encode(), context.limits)
    outcome = context.sandbox.run(request)
    report = read_report(output, nonce)
    fitted = report is not None and report.stage in ("fitted", "done")
    evidence = Evidence(
        report=report,
        stop_reason=stop_reason(outcome, report, context),
        source=scan(staged.folder, callback_names(rubric)),
        checkpoint=inspect_checkpoint(output, report.fit.checkpoint.best_model_path, report.state_dict_shapes)
        if fitted
        else None,
        accuracy=accuracy(report, context.splits.test.labels),
        reference_accuracy=context.reference_accuracy,
        rubric=rubric,
    )
    criteria = score(rubric, evidence)
    notes = list(staged.notes) + (import_notes(report, staged.folder) if report else []) + context.time_note()
    if report and report.input_layout and report.input_layout != rubric.model.input_layouts[0]:
        notes.append(
            f"your model rejected ({rubric.model.input_layouts[0]}) images; graded with ({report.input_layout})"
        )
    status = status_of(outcome, report)
    criteria = [c.model_copy(update={"message": staged.in_notebooks(c.message)}) for c in criteria]
    notes = [staged.in_notebooks(note) for note in notes]
    return GradeResult(
        submission=submission.name,
        rubric=rubric.id,
        score=round(sum(c.points for c in criteria), 2),
        max_score=rubric.max_score,
        status=status,
        status_reason=staged.in_notebooks(status_reason(evidence.stop_reason, report)),
        backend=outcome.backend,
        graded_class=report.discovery.class_name if report else None,
        framework=report.discovery.framework if report else None,
        input_layout=report.input_layout if report else None,
        accuracy=evidence.accuracy,
        reference_accuracy=context.reference_accuracy,
        criteria=criteria,
        notes=notes,
        timings=Timings(
            total_seconds=round(time.perf_counter() - started, 2),
            sandbox_seconds=round(outcome.wall_seconds, 2),
            fit_seconds=round(report.fit.seconds, 2) if report and report.fit.seconds else None,
            stages=report.timings if report else {},
        ),
        peak_memory_mb=outcome.peak_memory_mb,
        fit=report.fit if fitted else None,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
    )
