"""Step 3, judge: from what came back, the status, the points of every criterion and the notes."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.contract import RunReport
from grader.host.execute import Execution
from grader.host.judge.integrity import suspicions
from grader.host.judge.locations import located
from grader.host.judge.measured import measure
from grader.host.judge.scoring import Evidence, assess
from grader.host.judge.static_checks import scan_within_budget
from grader.host.judge.verdict import SYNTAX_ERRORS, status_of, status_reason, stop_reason
from grader.host.prepare.discovery import Submission
from grader.host.prepare.staging import Staged
from grader.host.results import Cause, CriterionResult, GradeResult, Measured, Timings
from grader.rubric.models import Rubric, UsesCallbacks

if TYPE_CHECKING:
    from grader.host.grading import GradingContext

MAX_LISTED = 5
MISSING_MODULE = re.compile(r"No module named '(?P<name>[^'.]+)")


def accuracy(report: RunReport | None, labels: np.ndarray) -> float | None:
    predictions = report.predictions if report else None
    if predictions is None or len(predictions) != len(labels):
        return None
    return float(np.mean(np.asarray(predictions) == labels))


def _own_module(folder: Path, name: str) -> bool:
    """Whether the submission has a module or package of that name (then it is no missing package).

    The name comes from the run's output, so it is compared literally, never used as a pattern:
    `'**/**/**/x'` as an `rglob` pattern took the host a minute over 62 nested folders.
    """
    wanted = {name, f"{name}.py"}
    return any(path.name in wanted for path in folder.rglob("*"))


def import_notes(report: RunReport, folder: Path) -> list[str]:
    notes = list(report.construct_notes) + list(report.adaptations)
    if report.skipped_code:
        shown = "; ".join(report.skipped_code[:MAX_LISTED])
        hidden = len(report.skipped_code) - MAX_LISTED
        more = f" (and {hidden} more)" if hidden > 0 else ""
        notes.append(f"top-level code your model does not need was not run: {shown}{more}")
    # The import error that hid the class is the run's stop, stated as its cause.
    passed_over = [problem for problem in report.failed_code if problem != report.import_problem]
    for problem in passed_over[:MAX_LISTED]:
        missing = MISSING_MODULE.search(problem.message) if problem.kind == "ModuleNotFoundError" else None
        if problem.kind in SYNTAX_ERRORS:
            file = (problem.location or "").rsplit(":", 1)[0]
            notes.append(
                f"{file} has a syntax error at {problem.location} and was not imported: `{problem.message}`"
            )
        elif missing and not _own_module(folder, missing["name"]):
            notes.append(
                f"package `{missing['name']}` is not installed where grading runs; the import at "
                f"{problem.location} was passed over, and only what needs it cannot be graded"
            )
        else:
            notes.append(
                f"top-level code at {problem.location} failed and was passed over: `{problem.message}`"
            )
    return notes


def layout_note(report: RunReport, rubric: Rubric) -> list[str]:
    contract = rubric.model.input_layouts[0]
    if report.input_layout and report.input_layout != contract:
        return [f"your model rejected ({contract}) images; graded with ({report.input_layout})"]
    return []


def callback_names(rubric: Rubric) -> set[str]:
    return {name for c in rubric.criteria if isinstance(c, UsesCallbacks) for name in c.callbacks}


def measured_of(report: RunReport | None, context: GradingContext) -> Measured | None:
    """The grader's own measurements of the trained model, with the labels only the host holds."""
    if report is None:
        return None
    return measure(report.measurement, context.splits.test.labels, context.splits.val.labels)


def not_learned(measured: Measured | None) -> list[str]:
    """What the instructor should review although the report itself can be believed."""
    untrained = measured.accurate_untrained if measured else None
    if not untrained:
        return []
    what, accuracy = untrained
    return [f"{what} reached {accuracy:.1%} held-out accuracy without any training"]


def judge(
    submission: Submission, staged: Staged, run: Execution, context: GradingContext, started: float
) -> GradeResult:
    rubric, outcome = context.rubric, run.outcome
    tampering = suspicions(run, rubric.fit.monitor)
    # A report that looks forged is not evidence: only what the host reads itself counts.
    report = None if tampering else run.report
    reference = context.reference.accuracy if context.reference else None
    stop = (
        f"tampering suspected, your instructor will review it ({tampering[0]})"
        if tampering
        else stop_reason(outcome, report, context.wall_seconds, rubric.limits)
    )
    measured = measured_of(report, context)
    evidence = Evidence(
        report=report,
        stop_reason=stop,
        source=scan_within_budget(staged.folder, callback_names(rubric)),
        checkpoint=None if tampering else run.checkpoint,
        accuracy=accuracy(report, context.splits.test.labels),
        reference_accuracy=reference,
        rubric=rubric,
        measured=measured,
        outcome=outcome,
        tampering=tampering[0] if tampering else None,
    )
    scored, causes = assess(rubric, evidence)
    criteria = [
        c.model_copy(update={"message": staged.in_notebooks(c.message), "hint": staged.in_notebooks(c.hint)})
        for c in located(scored, rubric.criteria, evidence, staged)
    ]
    notes = list(staged.notes) + context.time_note()
    if report:
        notes += import_notes(report, staged.folder) + layout_note(report, rubric)
    fitted = report is not None and report.stage in ("fitted", "done")
    return GradeResult(
        submission=submission.name,
        rubric=rubric.id,
        student=submission.student,
        score=round(sum(c.points for c in criteria), 2),
        max_score=rubric.max_score,
        status=status_of(outcome, report),
        status_reason=staged.in_notebooks(status_reason(evidence.stop_reason, report)),
        backend=outcome.backend,
        graded_class=report.discovery.class_name if report else None,
        framework=report.discovery.framework if report else None,
        input_layout=report.input_layout if report else None,
        accuracy=evidence.accuracy,
        reference_accuracy=reference,
        criteria=criteria,
        causes=[in_notebooks(cause, staged) for cause in causes],
        notes=[staged.in_notebooks(note) for note in notes],
        timings=Timings(
            total_seconds=round(time.perf_counter() - started, 2),
            sandbox_seconds=round(outcome.wall_seconds, 2),
            fit_seconds=round(report.fit.seconds, 2) if report and report.fit.seconds else None,
            stages=report.timings if report else {},
        ),
        tampering=tampering + not_learned(measured),
        peak_memory_mb=outcome.peak_memory_mb,
        fit=report.fit if fitted else None,
        measured=measured,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
    )


def in_notebooks(cause: Cause, staged: Staged) -> Cause:
    """The cause with a converted notebook's `lab.py:44` as the notebook's cell and line."""
    mapped = staged.in_notebooks
    return cause.model_copy(
        update={
            "title": mapped(cause.title),
            "detail": mapped(cause.detail),
            "fix": mapped(cause.fix),
            "error": mapped(cause.error),
            "location": mapped(cause.location) if cause.location else None,
            "frames": [mapped(line) for line in cause.frames],
        }
    )


def rejected(submission: Submission, context: GradingContext, reason: str, started: float) -> GradeResult:
    """Not gradable as handed in: every criterion gets 0 points and the reason."""
    rubric = context.rubric
    cause = Cause(
        id="rejected",
        title=f"Not gradable as handed in: {reason}",
        fix="Hand in your project as the exercise asks: a folder, a `.py` file, a notebook or a `.zip` of "
        "them, holding your `LightningModule`.",
    )
    criteria = [
        CriterionResult(
            id=c.id,
            points=0.0,
            max_points=c.points,
            message=f"Not judged: {reason}.",
            description=c.description,
            hint=cause.fix,
            hidden=c.hidden,
            cause=cause.id,
        )
        for c in rubric.criteria
    ]
    return GradeResult(
        submission=submission.name,
        rubric=rubric.id,
        student=submission.student,
        score=0.0,
        max_score=rubric.max_score,
        status="rejected",
        status_reason=reason,
        criteria=criteria,
        causes=[cause],
        timings=Timings(total_seconds=round(time.perf_counter() - started, 2)),
    )
