"""GitHub Classroom: the `result` output read by `autograding-grading-reporter`.

The reporter decodes base64 JSON `{"version": 1, "status", "max_score", "tests": [...]}`,
sums `tests[].score` against `max_score` and prints the tests to the job log (a test's
`message` only when its status is `error`), so every text in it is neutralised. One test
per rubric criterion. The GitHub action hands it over with `python -m
grader.host.publish.action`, which also shows the grader's findings in the job summary and
the log (see that module).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from grader.host.publish.common import targets, with_suffix, write_json
from grader.host.publish.feedback import HIDDEN_MESSAGE
from grader.host.publish.github_actions import neutralise
from grader.host.results import CriterionResult, GradeResult
from grader.rubric.models import Rubric


def _message(criterion: CriterionResult) -> str:
    if criterion.hidden:
        return HIDDEN_MESSAGE
    if criterion.passed or not criterion.hint:
        return criterion.message
    return f"{criterion.message}\nFix: {criterion.hint}"


def _test(name: str, passed: bool, score: float, message: str, test_code: str) -> dict:
    return {
        "name": neutralise(name),
        "status": "pass" if passed else "fail",
        "score": score,
        "message": neutralise(message),
        "test_code": neutralise(test_code),
        # The rubric is not a test file, and the grader times stages, not criteria.
        "filename": "",
        "line_no": 0,
        "duration": 0,
    }


def classroom_payload(result: GradeResult) -> dict:
    if result.status == "rejected":
        status = "error"
    else:
        status = "pass" if all(c.passed for c in result.criteria) else "fail"
    tests = [
        _test(c.id, c.passed, c.points, _message(c), "" if c.hidden else c.description)
        for c in result.criteria
    ]
    return {"version": 1, "status": status, "max_score": result.max_score, "tests": tests}


def error_payload(rubric: Rubric, reason: str) -> dict:
    """Zero points on every criterion, for a run that produced no result."""
    tests = [_test(c.id, False, 0.0, reason, "" if c.hidden else c.description) for c in rubric.criteria]
    return {"version": 1, "status": "error", "max_score": rubric.max_score, "tests": tests}


def encode(payload: dict) -> str:
    return base64.b64encode(json.dumps(payload, ensure_ascii=False).encode("utf-8")).decode("ascii")


def write_payload(stem: Path, payload: dict) -> None:
    """`<stem>.json` (the payload) and `<stem>.b64` (what the `result` output holds)."""
    write_json(with_suffix(stem, ".json"), payload)
    with_suffix(stem, ".b64").write_text(encode(payload) + "\n", encoding="ascii")


def write_classroom(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    """`classroom.json` (decoded) and `classroom.b64` for one result, `classroom/<name>.*` for a batch."""
    for result, stem in targets(results, out, "classroom", "classroom"):
        write_payload(stem, classroom_payload(result))
