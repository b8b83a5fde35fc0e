"""Grade many submissions one after another; one bad submission never stops the batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from grader.host import reports
from grader.host.discovery import Submission
from grader.host.grading import GradingContext, grade, rejected
from grader.host.results import GradeResult


def grade_one_safely(submission: Submission, context: GradingContext) -> GradeResult:
    started = time.perf_counter()
    try:
        return grade(submission, context)
    except Exception as error:  # a grader bug must not lose the rest of the batch
        result = rejected(submission, context, f"internal grader error: {error!r}", started)
        return result.model_copy(update={"status": "crashed"})


def grade_batch(
    submissions: list[Submission],
    context: GradingContext,
    out: Path,
    on_graded: Callable[[GradeResult], None] = lambda result: None,
) -> list[GradeResult]:
    """Results are written as each submission finishes, so an interrupted batch keeps them."""
    results: list[GradeResult] = []
    for submission in submissions:
        result = grade_one_safely(submission, context)
        results.append(result)
        reports.write_result(result, out)
        reports.write_feedback(result, context.rubric, out)
        reports.write_csv(results, context.rubric, out)
        on_graded(result)
    return results
