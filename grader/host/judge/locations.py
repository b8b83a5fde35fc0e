"""Where in the submission each criterion's finding is: the file and line every report that
points at code reads (annotations, JUnit, Gradescope, CTRF).

A criterion points at the failure that decided it (the student's innermost frame of an error),
else at the code it judged: the class for `lightning-module`, the hook's `def` for a hook, the
callback's call for the callbacks. The runner's locations come from next to student code, so a
location counts only when it names a regular file inside the staged submission, by a relative
path: a report never carries a host path. A converted notebook's line becomes its notebook's
file, code cell and line in that cell (`Staged.cell_of`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.contract import Problem
from grader.host.judge.scoring import CHECKS, Evidence
from grader.host.prepare.staging import Staged
from grader.host.results import CriterionResult
from grader.rubric.models import Criterion, UsesCallbacks

# "model.py:12" as the runner writes a location; a line has at most nine digits.
LOCATION = re.compile(r"(?P<file>[^\x00]+?):(?P<line>\d{1,9})")
HOOKS = {
    "training-step": "training_step",
    "logs-train-loss": "training_step",
    "loss-decreases": "training_step",
    "configure-optimizers": "configure_optimizers",
    "validation-step": "validation_step",
    "accuracy-vs-reference": "forward",
}
# The callbacks whose call a criterion about their outcome points at.
CALLBACK_OF = {"checkpoint-saved": "ModelCheckpoint", "early-stopping": "EarlyStopping"}


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None = None


def _inside(folder: Path, relative: str) -> bool:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in relative:
        return False
    target = folder / path
    try:
        return target.is_file() and target.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def parse(location: str | None, folder: Path) -> Location | None:
    """A runner's `file:line` as a location in the submission, or None when it names none."""
    if not location:
        return None
    match = LOCATION.fullmatch(location)
    file, line = (match["file"], int(match["line"])) if match else (location, None)
    return Location(file, line) if _inside(folder, file) else None


def _problem(problem: Problem | None, folder: Path) -> Location | None:
    if problem is None or problem.by_grader:
        return None
    return parse(problem.location, folder)


def _blocking(evidence: Evidence, folder: Path) -> Location | None:
    """The student's error that kept a criterion from being judged."""
    report = evidence.report
    if report is None:
        return None
    for problem in (
        report.import_problem,
        report.construct_problem,
        report.runner_problem,
        report.training_step.problem,
        report.fit.problem,
    ):
        if found := _problem(problem, folder):
            return found
    return None


def _class(evidence: Evidence, folder: Path) -> Location | None:
    found = evidence.report.discovery if evidence.report else None
    if not found or not found.file or not _inside(folder, found.file):
        return None
    return Location(found.file, found.line)


def _hook(evidence: Evidence, folder: Path, hook: str) -> Location | None:
    graded = _class(evidence, folder)
    if graded is None:
        return None
    line = evidence.source.method_line(graded.file, evidence.report.discovery.class_name, hook)
    return Location(graded.file, line) if line else graded


def _callback(evidence: Evidence, folder: Path, names: list[str]) -> Location | None:
    """The first call of the callbacks that falls short, else the first call of any."""
    sites = [site for name in names for site in evidence.source.calls.get(name, [])]
    short = [s for s in sites if not s.reaches_trainer or s.monitor not in (evidence.monitor, "?")]
    for site in short + sites:
        if _inside(folder, site.file):
            return Location(site.file, site.line)
    return None


def locate(criterion: Criterion, evidence: Evidence, folder: Path) -> Location | None:
    """Where the finding of `criterion` is, relative to the submission's root."""
    needs, _ = CHECKS[criterion.kind]
    if evidence.blocker(needs):
        return _blocking(evidence, folder)
    report = evidence.report
    kind = criterion.kind
    if kind == "lightning-module":
        return _class(evidence, folder)
    if kind == "fit-completes":
        return _problem(report.fit.problem if report else None, folder) or _hook(
            evidence, folder, "training_step"
        )
    if isinstance(criterion, UsesCallbacks):
        return _callback(evidence, folder, list(criterion.callbacks))
    if kind in CALLBACK_OF:
        return _callback(evidence, folder, [CALLBACK_OF[kind]]) or _hook(evidence, folder, "validation_step")
    if kind in HOOKS and report:
        probe = getattr(report, HOOKS[kind], None)
        raised = getattr(probe, "problem", None) or (
            report.predict_problem if kind == "accuracy-vs-reference" else None
        )
        return _problem(raised, folder) or _hook(evidence, folder, HOOKS[kind])
    return None


def located(
    criteria: list[CriterionResult], rubric_criteria: list[Criterion], evidence: Evidence, staged: Staged
) -> list[CriterionResult]:
    """The criteria with their `file` and `line`, a notebook's mapped back to the notebook."""
    results = []
    for result, criterion in zip(criteria, rubric_criteria, strict=True):
        where = locate(criterion, evidence, staged.folder)
        if where is not None:
            file, cell, line = staged.cell_of(where.file, where.line)
            result = result.model_copy(update={"file": file, "cell": cell, "line": line})
        results.append(result)
    return results
