"""The reporting step of the GitHub action (`action.yml`), after `grade --self-check`:

    python -m grader.host.publish.action OUT_DIR --rubric m14 --log grade.log [--failed STEP]

prints grade's captured output with workflow commands neutralised, writes `classroom.json`
and `classroom.b64` into OUT_DIR, sets the step output `result` for GitHub Classroom's
reporter, and puts a table of the points and the grader's findings in the job summary and
the log: the reporter itself prints a test's message only when its status is `error`. The
summary's texts go through `markdown`, so that the student's part of them renders as text.
When the run left no result (or the step `--failed` names failed), it reports an error with zero
points, so the reporter still has something to read.

A module of its own: the package imports `classroom`, and `python -m` warns when the module
it runs was imported already.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.host.publish import markdown
from grader.host.publish.classroom import classroom_payload, encode, error_payload, write_payload
from grader.host.publish.common import number, read_results
from grader.host.publish.github_actions import append_summary, neutralise, set_output
from grader.rubric import RubricError, load_rubric
from grader.rubric.models import Rubric

ADVISORY = (
    "These points are feedback for you: the grade that counts comes from your instructor's own grading run."
)


def summary_markdown(payload: dict, rubric: Rubric) -> str:
    max_points = {c.id: c.points for c in rubric.criteria}
    score = sum(t["score"] for t in payload["tests"])
    lines = [
        f"### {markdown.inert(rubric.title)}: {number(score)} / {number(payload['max_score'])}",
        "",
        "| | Criterion | Points | What the grader found |",
        "|---|---|---|---|",
    ]
    for test in payload["tests"]:
        mark = "✅" if test["status"] == "pass" else "❌"
        points = f"{number(test['score'])} / {number(max_points.get(test['name'], 0))}"
        name, message = markdown.code(test["name"], cell=True), markdown.render(test["message"], cell=True)
        lines.append(f"| {mark} | {name} | {points} | {message} |")
    return "\n".join([*lines, "", ADVISORY, ""]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.host.publish.action",
        description="Report a `grade --self-check` run to GitHub Classroom from a GitHub Actions step.",
    )
    parser.add_argument("out", type=Path, help="the --out folder of the grade run")
    parser.add_argument("--rubric", default="m14", help="the rubric the run used (default: m14)")
    parser.add_argument("--log", type=Path, help="the run's captured output, to print neutralised")
    parser.add_argument("--failed", default="", help="the action's step that failed, if one did")
    args = parser.parse_args(argv)
    if args.log and args.log.is_file():
        print(neutralise(args.log.read_text(encoding="utf-8", errors="replace")), flush=True)
    try:
        rubric = load_rubric(args.rubric)
    except RubricError as error:
        print(neutralise(f"error: {error}"), file=sys.stderr)
        return 2
    results = list(read_results(args.out).values())
    if len(results) > 1:
        print(f"error: {args.out} holds {len(results)} results; expected one", file=sys.stderr)
        return 2
    if results:
        payload = classroom_payload(results[0])
    else:
        failed = f" ({neutralise(args.failed)} failed)" if args.failed else ""
        payload = error_payload(
            rubric, f"The grader could not grade this repository{failed}; the job log says why."
        )
    write_payload(args.out / "classroom", payload)
    set_output("result", encode(payload))
    summary = summary_markdown(payload, rubric)
    append_summary(summary)
    print(summary, flush=True)  # built from neutralised texts
    return 0


if __name__ == "__main__":
    sys.exit(main())
