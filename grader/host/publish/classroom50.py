"""Classroom 50: the `result.json` and `release-body.md` its runner reads from an autograder.

Classroom 50 (foundation50/classroom50) runs a course's `autograder.py` in the student's
checkout; the script must leave `./result.json` (`schema: "classroom50/result/v1"`, its
`schemas/result-v1.schema.json`), and may leave `./release-body.md`, the Markdown of the
submission's release. Its contract is the wiki's "Advanced Autograding" page. The identity
fields (`classroom`, `assignment`, `owner`, `submission`, `commit`, `release`, `review`) come
from the variables its runner gives the autograder (`CLASSROOM`, `ASSIGNMENT`, `USERNAME` or
`OWNER`, `SUBMISSION_TAG`, `COMMIT_URL`, `RELEASE_URL`, `REVIEW_URL`, `ASSIGNMENT_TYPE`);
outside Classroom 50 they are left out. `datetime` and `graded_at` are the grading time, as
Classroom 50's own templates write them (`examples/classroom50/autograder.py` puts the graded
commit's date in `datetime`).

Classroom 50 counts whole points only, so the grader's points become integers by one rule:
each test's `max-score` is its criterion's points times the smallest of 1, 10 or 100 that makes
every criterion's points whole; the total is the grader's score on that scale, rounded half
up; each test gets its points rounded down, and the points left over go one each to the tests
with the largest fractions (in rubric order on a tie), but never to a test below full points
that they would bring to full points. `score` is the sum of the tests' scores, as Classroom 50
requires. A hidden criterion keeps its points only; every text is plain text with no workflow
command in it.
"""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path

from grader.host.publish import markdown
from grader.host.publish.common import number, targets, with_suffix, write_json
from grader.host.publish.feedback import HIDDEN_MESSAGE, feedback_markdown
from grader.host.publish.github_actions import neutralise
from grader.host.results import GradeResult
from grader.rubric.models import Rubric

SCHEMA = "classroom50/result/v1"
SCALES = (1, 10, 100)
# Points are stored to two decimals; this absorbs the float error of their products.
EPSILON = 1e-6
# The variables Classroom 50's runner gives an autograder, by the result's field.
IDENTITY = {
    "classroom": ("CLASSROOM",),
    "assignment": ("ASSIGNMENT",),
    "assignment_type": ("ASSIGNMENT_TYPE",),
    "owner": ("OWNER", "USERNAME"),
    "submission": ("SUBMISSION_TAG",),
    "commit": ("COMMIT_URL",),
    "release": ("RELEASE_URL",),
    "review": ("REVIEW_URL", "COMMIT_URL"),
}


def scale_of(maxima: list[float]) -> int:
    """The smallest scale that makes every maximum whole (the largest when none does)."""
    for scale in SCALES:
        if all(abs(m * scale - round(m * scale)) < EPSILON for m in maxima):
            return scale
    return SCALES[-1]


def integer_scores(points: list[float], maxima: list[float]) -> tuple[list[int], list[int]]:
    """(scores, max-scores) as whole numbers, by the rule in this module's docstring."""
    scale = scale_of(maxima)
    tops = [round(m * scale) for m in maxima]
    exact = [p * scale for p in points]
    scores = [max(0, min(math.floor(e + EPSILON), top)) for e, top in zip(exact, tops, strict=True)]
    left = math.floor(sum(exact) + 0.5 + EPSILON) - sum(scores)
    # A test below full points stays below them: one more point may not make it full.
    for i in sorted(range(len(exact)), key=lambda i: -(exact[i] - scores[i])):
        if left <= 0:
            break
        if scores[i] + 1 < tops[i]:
            scores[i] += 1
            left -= 1
    return scores, tops


def _identity() -> dict[str, str]:
    found = {}
    for field, names in IDENTITY.items():
        value = next((os.environ[n] for n in names if os.environ.get(n)), None)
        if value is not None:
            found[field] = value
    return found


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def classroom50_result(result: GradeResult) -> dict:
    scores, tops = integer_scores(
        [c.points for c in result.criteria], [c.max_points for c in result.criteria]
    )
    tests = []
    for criterion, score, top in zip(result.criteria, scores, tops, strict=True):
        test = {
            "test-name": neutralise(criterion.id),
            "passed": criterion.passed,
            "score": score,
            "max-score": top,
            "message": HIDDEN_MESSAGE if criterion.hidden else neutralise(criterion.message),
            "hint": "" if criterion.hidden or criterion.passed else neutralise(criterion.hint),
        }
        tests.append(test)
    now = _utc_now()
    return {
        "schema": SCHEMA,
        **_identity(),
        "datetime": now,
        "graded_at": now,
        "score": sum(scores),
        "max-score": sum(tops),
        "tests": tests,
    }


def release_body(result: GradeResult, rubric: Rubric, document: dict) -> str:
    """The release's Markdown: Classroom 50's score and table, then the grader's feedback."""
    lines = [
        f"### {markdown.inert(rubric.title)}: {document['score']}/{document['max-score']}",
        "",
        "| Test | Result | Score |",
        "|---|---|---|",
    ]
    for test in document["tests"]:
        mark = "PASS" if test["passed"] else "FAIL"
        cell = markdown.code(test["test-name"], cell=True)
        lines.append(f"| {cell} | {mark} | {test['score']} / {test['max-score']} |")
    lines += [
        "",
        f"The grader's own score is {number(result.score)} / {number(result.max_score)}; "
        "Classroom 50 counts whole points.",
        "",
        feedback_markdown(result, rubric),
    ]
    return neutralise("\n".join(lines))


def write_classroom50(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    """`result.json` and `release-body.md` for one result; `classroom50/<name>.json` and
    `classroom50/<name>.md` for a batch."""
    for result, stem in targets(results, out, "result", "classroom50"):
        document = classroom50_result(result)
        write_json(with_suffix(stem, ".json"), document)
        body = out / "release-body.md" if len(results) == 1 else with_suffix(stem, ".md")
        body.write_text(release_body(result, rubric, document), encoding="utf-8")
