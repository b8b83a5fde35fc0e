"""CTRF, the Common Test Report Format: one report per submission, one test per criterion.

The report follows CTRF's published schema (https://ctrf.io/docs/specification/overview,
`schema/ctrf.schema.json` in ctrf-io/ctrf) at the spec version the reference implementation
(npm package `ctrf`) validates. A criterion below full points is `failed`; its points, its
maximum and the fix go under `extra`, where CTRF keeps what its schema has no field for. A
criterion's place in the submission is the test's `filePath` and `line` (a notebook's cell
and line in it go under `extra`, as `line` would mean a line of the .ipynb file).

Test reporters show the report to students (a job summary, a pull-request comment), so a
hidden criterion shows its points only, and every text is plain text with no workflow command
in it (`neutralise`). The grader times the run, not each criterion: a test's `duration` is 0
and the run's time is the summary's. One result is `ctrf-report.json` (the name CTRF's
reporters default to); a batch gets `ctrf/<submission>.json`.
"""

from __future__ import annotations

import time
from pathlib import Path

from grader.host.publish.common import grader_version, targets, with_suffix, write_json
from grader.host.publish.feedback import HIDDEN_MESSAGE
from grader.host.publish.github_actions import neutralise
from grader.host.results import CriterionResult, GradeResult
from grader.rubric.models import Rubric

# The CTRF specification version `ctrf` (the reference implementation) validates.
SPEC_VERSION = "0.0.0"
TOOL_NAME = "lightning-grader"


def _test(criterion: CriterionResult, suite: list[str]) -> dict:
    extra: dict = {"points": criterion.points, "maxPoints": criterion.max_points}
    test: dict = {
        "name": neutralise(criterion.id),
        "status": "passed" if criterion.passed else "failed",
        "duration": 0,
        "suite": suite,
    }
    if criterion.hidden:
        test["message"] = HIDDEN_MESSAGE
        return test | {"extra": extra | {"hidden": True}}
    test["message"] = neutralise(criterion.message)
    if criterion.hint and not criterion.passed:
        extra["hint"] = neutralise(criterion.hint)
    if criterion.file:
        test["filePath"] = neutralise(criterion.file)
        if criterion.cell is not None:
            extra |= {"cell": criterion.cell, "cellLine": criterion.line}
        elif criterion.line is not None:
            test["line"] = criterion.line
    return test | {"extra": extra}


def ctrf_report(result: GradeResult, rubric: Rubric, stop_ms: int | None = None) -> dict:
    """The CTRF report of one result; the run is taken to have ended at `stop_ms` (now)."""
    stop = stop_ms if stop_ms is not None else int(time.time() * 1000)
    duration = round(result.timings.total_seconds * 1000)
    suite = [neutralise(rubric.id), neutralise(result.submission)]
    tests = [_test(c, suite) for c in result.criteria]
    passed = sum(t["status"] == "passed" for t in tests)
    return {
        "reportFormat": "CTRF",
        "specVersion": SPEC_VERSION,
        "generatedBy": TOOL_NAME,
        "results": {
            "tool": {"name": TOOL_NAME, "version": grader_version()},
            "summary": {
                "tests": len(tests),
                "passed": passed,
                "failed": len(tests) - passed,
                "skipped": 0,
                "pending": 0,
                "other": 0,
                "suites": 1,
                "start": stop - duration,
                "stop": stop,
                "duration": duration,
                "extra": {
                    "score": result.score,
                    "maxScore": result.max_score,
                    "status": result.status,
                    "statusReason": neutralise(result.status_reason),
                },
            },
            "tests": tests,
        },
    }


def write_ctrf(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    for result, stem in targets(results, out, "ctrf-report", "ctrf"):
        write_json(with_suffix(stem, ".json"), ctrf_report(result, rubric))
