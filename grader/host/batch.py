"""Grade many submissions, several at once; one bad submission never stops the batch.

Each result is written as soon as it exists, and a re-run grades only submissions whose
fingerprint changed, so an interrupted batch loses nothing and resumes where it stopped.
The gradebook is every result in `--out` of the same rubric, this run's over earlier ones:
grading one submission, or `--only` a few, into a class's folder changes their rows only.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import psutil

from grader import tree
from grader.host.grading import GradingContext, grade
from grader.host.judge import rejected
from grader.host.prepare.discovery import Submission
from grader.host.prepare.staging import source_fingerprint
from grader.host.publish import publish_gradebook, publish_graded, read_results
from grader.host.publish.common import grader_version
from grader.host.results import GradeResult
from grader.rubric.models import Rubric
from grader.sandbox.base import available_cores

# Host memory kept free beside the sandboxes: the grader itself and the page cache.
HOST_RESERVE_MB = 1024


def plan_workers(rubric: Rubric, submissions: int, jobs: int | None) -> tuple[int, Rubric]:
    """How many submissions to grade at once, and the rubric with the threads each run gets.

    By default one worker per core, never more than free memory holds at the rubric's
    memory limit each. Workers share the cores: with more threads than cores, OpenMP's
    spinning threads make a fit many times slower, so each gets cores / workers threads.
    """
    cores = available_cores()
    if jobs is None:
        free_mb = psutil.virtual_memory().available // 2**20 - HOST_RESERVE_MB
        jobs = max(1, min(cores, free_mb // rubric.limits.memory_mb, submissions))
    return jobs, with_threads(rubric, max(1, min(rubric.limits.threads, cores // jobs)))


def with_threads(rubric: Rubric, threads: int) -> Rubric:
    """The rubric with the threads each run gets where this batch runs."""
    limits = rubric.limits.model_copy(update={"threads": threads})
    return rubric.model_copy(update={"limits": limits})


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
    if submission.student is not None:  # a late flag or an attempt changed: the gradebook's row changes
        digest.update(submission.student.model_dump_json().encode() + b"\0")
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


class BatchHooks:
    """What a batch tells its watcher (the CLI's progress bar); by default, nothing."""

    def started(self, submission: Submission) -> None:
        """Its sandbox is about to start."""

    def graded(self, result: GradeResult, kept: bool) -> None:
        """Its result is published; `kept`: an earlier result, for an unchanged submission."""


class Stopped(Exception):
    """The batch stopped before this submission's turn."""


class OtherRubric(Exception):
    """`--out` holds results of another rubric, which a gradebook must never mix in."""


def earlier_results(out: Path, rubric: Rubric) -> dict[str, GradeResult]:
    """The results already in `out`, by submission; refused when any is of another rubric."""
    found = read_results(out)
    others = sorted({r.rubric for r in found.values()} - {rubric.id})
    if others:
        count = sum(r.rubric != rubric.id for r in found.values())
        raise OtherRubric(
            f"{out} holds {count} result(s) of rubric {', '.join(others)}, not {rubric.id}: grade into "
            "another --out, or remove those results first"
        )
    return found


def gradebook(earlier: dict[str, GradeResult], graded: list[GradeResult]) -> list[GradeResult]:
    """Every submission's latest result, in name order."""
    return sorted({**earlier, **{r.submission: r for r in graded}}.values(), key=lambda r: r.submission)


def grade_batch(
    submissions: list[Submission],
    context: GradingContext,
    out: Path,
    hooks: BatchHooks | None = None,
    force: bool = False,
    jobs: int = 1,
) -> list[GradeResult]:
    """Grade each submission, or keep its earlier result when nothing changed.

    `jobs` submissions are graded at once, each in its own sandbox; every result is
    published as soon as it exists, and the gradebook keeps its rows in name order. On
    Ctrl-C (or any error here) the runs in progress stop at once and are not published.
    """
    hooks = hooks or BatchHooks()
    earlier = earlier_results(out, context.rubric)
    results: list[GradeResult] = []
    to_grade: list[tuple[Submission, str]] = []
    for submission in submissions:
        key = fingerprint(submission, context)
        result = earlier.get(submission.name)
        if not force and result is not None and result.fingerprint == key:
            results.append(result)
            hooks.graded(result, True)
        else:
            to_grade.append((submission, key))
    if results:
        publish_gradebook(gradebook(earlier, results), context.rubric, out)  # the kept rows, written once

    def graded(submission: Submission, key: str) -> GradeResult:
        if context.stopping.is_set():
            raise Stopped
        hooks.started(submission)
        result = grade_one_safely(submission, context).model_copy(update={"fingerprint": key})
        tree.remove(context.work_folder(submission.name))  # disk: checkpoints
        return result

    with ThreadPoolExecutor(max_workers=max(jobs, 1), thread_name_prefix="grade") as pool:
        # Threads suffice: each one waits on its sandbox, a separate process or container.
        futures = [pool.submit(graded, submission, key) for submission, key in to_grade]
        try:
            for future in as_completed(futures):
                result = future.result()
                results.append(result)
                publish_graded(result, gradebook(earlier, results), context.rubric, out)
                hooks.graded(result, False)
        except BaseException:
            # Ctrl-C: what was graded is written; the runs in progress end now, unpublished.
            context.stopping.set()
            for future in futures:
                future.cancel()
            raise
    return sorted(results, key=lambda r: r.submission)
