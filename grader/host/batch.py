"""Grade many submissions one after another; one bad submission never stops the batch.

Each result is written as soon as it exists, and a re-run grades only submissions whose
fingerprint changed, so an interrupted batch loses nothing and resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from grader.host.grading import GradingContext, grade
from grader.host.judge import rejected
from grader.host.prepare.discovery import Submission
from grader.host.prepare.staging import source_fingerprint
from grader.host.publish import publish_gradebook, publish_graded, read_results
from grader.host.results import GradeResult


def grader_version() -> str:
    try:
        return version("lightning-grader")
    except PackageNotFoundError:
        return "unknown"


def fingerprint(submission: Submission, context: GradingContext) -> str:
    digest = hashlib.sha256()
    for part in (
        source_fingerprint(submission.path),
        context.rubric.model_dump_json(),
        context.splits.fingerprint,
        repr(context.reference.accuracy if context.reference else None),
        grader_version(),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:24]


def grade_one_safely(submission: Submission, context: GradingContext) -> GradeResult:
    started = time.perf_counter()
    try:
        return grade(submission, context)
    except Exception as error:  # a grader bug must not lose the rest of the batch
        result = rejected(
            submission, context, f"the grader itself failed, not the submission: {error!r}", started
        )
        return result.model_copy(update={"status": "grader_error"})


def grade_batch(
    submissions: list[Submission],
    context: GradingContext,
    out: Path,
    on_graded: Callable[[GradeResult, bool], None] = lambda result, kept: None,
    force: bool = False,
) -> list[GradeResult]:
    """Grade each submission, or keep its earlier result when nothing changed (`kept`)."""
    earlier = {} if force else read_results(out)
    results: list[GradeResult] = []
    for submission in submissions:
        key = fingerprint(submission, context)
        result = earlier.get(submission.name)
        kept = result is not None and result.fingerprint == key
        if not kept:
            result = grade_one_safely(submission, context).model_copy(update={"fingerprint": key})
            shutil.rmtree(context.work_folder(submission.name), ignore_errors=True)  # disk: checkpoints
        results.append(result)
        if kept:
            publish_gradebook(results, context.rubric, out)
        else:
            publish_graded(result, results, context.rubric, out)
        on_graded(result, kept)
    return results
