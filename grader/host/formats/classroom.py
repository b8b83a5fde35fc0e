"""GitHub Classroom: the `result` output read by `autograding-grading-reporter`.

The reporter decodes base64 JSON `{"version": 1, "status", "max_score", "tests": [...]}`,
sums `tests[].score` against `max_score` and prints each failed test's name and message to
the job log, so every text in it is neutralised. One test per rubric criterion.

    python -m grader.host.formats.classroom OUT_DIR --rubric m14 --log grade.log

is what the GitHub action runs after `grade --self-check --out OUT_DIR`: it prints the log
neutralised, writes `classroom.json` and `classroom.b64`, sets the step output `result` and
adds a table to the job summary. Without a result it reports an error with zero points.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from grader.host.formats.common import load_results, number, targets, with_suffix, write_json
from grader.host.formats.github_actions import append_summary, neutralise, set_output
from grader.host.reports import HIDDEN_MESSAGE
from grader.host.results import CriterionResult, GradeResult
from grader.rubric import RubricError, load_rubric
from grader.rubric.models import Rubric

ADVISORY = (
    "These points are feedback for you: the grade that counts comes from your instructor's own grading run."
)


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


def _write(stem: Path, payload: dict) -> None:
    write_json(with_suffix(stem, ".json"), payload)
    with_suffix(stem, ".b64").write_text(encode(payload) + "\n", encoding="ascii")


def write_classroom(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    """`classroom.json` (decoded) and `classroom.b64` for one result, `classroom/<name>.*` for a batch."""
    for result, stem in targets(results, out, "classroom", "classroom"):
        _write(stem, classroom_payload(result))


def _cell(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ")


def summary_markdown(payload: dict, rubric: Rubric) -> str:
    max_points = {c.id: c.points for c in rubric.criteria}
    score = sum(t["score"] for t in payload["tests"])
    lines = [
        f"### {_cell(rubric.title)}: {number(score)} / {number(payload['max_score'])}",
        "",
        "| | Criterion | Points | What the grader found |",
        "|---|---|---|---|",
    ]
    for test in payload["tests"]:
        mark = "✅" if test["status"] == "pass" else "❌"
        points = f"{number(test['score'])} / {number(max_points.get(test['name'], 0))}"
        lines.append(f"| {mark} | `{test['name']}` | {points} | {_cell(test['message'])} |")
    return "\n".join([*lines, "", ADVISORY, ""]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.host.formats.classroom",
        description="Report a `grade --self-check` run to GitHub Classroom from a GitHub Actions step.",
    )
    parser.add_argument("out", type=Path, help="the --out folder of the grade run")
    parser.add_argument("--rubric", default="m14", help="the rubric the run used (default: m14)")
    parser.add_argument("--log", type=Path, help="the run's captured output, to print neutralised")
    args = parser.parse_args(argv)
    if args.log and args.log.is_file():
        print(neutralise(args.log.read_text(encoding="utf-8", errors="replace")), flush=True)
    try:
        rubric = load_rubric(args.rubric)
    except RubricError as error:
        print(neutralise(f"error: {error}"), file=sys.stderr)
        return 2
    results = load_results(args.out)
    if len(results) > 1:
        print(f"error: {args.out} holds {len(results)} results; expected one", file=sys.stderr)
        return 2
    if results:
        payload = classroom_payload(results[0])
    else:
        payload = error_payload(rubric, "The grader could not grade this repository; its log above says why.")
    _write(args.out / "classroom", payload)
    set_output("result", encode(payload))
    append_summary(summary_markdown(payload, rubric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
