"""The reporting step of the GitHub action (`action.yml`), after `grade --self-check`:

    python -m grader.host.publish.action OUT_DIR --rubric m14 --log grade.log \
        [--path SUBMISSION] [--fail-under POINTS] [--failed STEP]

prints grade's captured output with workflow commands neutralised; puts a table of the points
and the grader's findings in the job summary and the log; annotates every criterion below full
points at the student's file and line (`annotations`); writes what the student may see into
OUT_DIR/artifact/ (feedback.md, result.json, junit.xml: hidden criteria stay hidden) for the
artifact step; and sets the step outputs `score`, `max-score`, `status` (`success`,
`failure` below `--fail-under`, `error` when nothing could be graded: the commit-status
states) and `result` (base64 JSON for forks of GitHub Classroom's reporter, also written as
`classroom.json` and `classroom.b64`). It exits 1 when `--fail-under` is given and the score is
below it or nothing was graded, else 0: the job's colour is the fail-under's verdict. The
summary's texts go through `markdown`, so that the student's part of them renders as text.
When the run left no result (or the step `--failed` names failed), it reports an error with zero
points.

A module of its own: the package imports `classroom`, and `python -m` warns when the module
it runs was imported already.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.host.publish import markdown
from grader.host.publish.annotations import annotations, submission_root
from grader.host.publish.classroom import classroom_payload, encode, error_payload, write_payload
from grader.host.publish.common import number, read_results, write_json
from grader.host.publish.feedback import HIDDEN_MESSAGE, feedback_markdown
from grader.host.publish.github_actions import append_summary, neutralise, set_output
from grader.host.publish.junit import junit_tree
from grader.host.results import GradeResult
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


def student_view(result: GradeResult) -> GradeResult:
    """The result as the student may read it: a hidden criterion keeps its points only."""
    criteria = [
        c.model_copy(
            update={
                "message": HIDDEN_MESSAGE,
                "description": "",
                "hint": "",
                "file": None,
                "line": None,
                "cell": None,
                "cause": None,
            }
        )
        if c.hidden
        else c
        for c in result.criteria
    ]
    # A cause only hidden criteria name would tell what they found.
    shown = {c.cause for c in criteria if c.cause}
    causes = [cause for cause in result.causes if cause.id in shown]
    return result.model_copy(update={"criteria": criteria, "causes": causes})


def write_artifact(result: GradeResult, rubric: Rubric, folder: Path) -> None:
    """What the action uploads: the feedback, the result and a JUnit report, all as the student sees them."""
    view = student_view(result)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.md").write_text(feedback_markdown(view, rubric), encoding="utf-8")
    write_json(folder / "result.json", view.model_dump(mode="json"))
    junit_tree([view], rubric).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)


def verdict(payload: dict, fail_under: float | None) -> str:
    """The job's verdict as a commit-status state."""
    if payload["status"] == "error":
        return "error"
    score = sum(t["score"] for t in payload["tests"])
    return "failure" if fail_under is not None and score < fail_under else "success"


def points(text: str) -> float | None:
    """`--fail-under`: empty is never."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of points") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.host.publish.action",
        description="Report a `grade --self-check` run from a GitHub Actions step.",
    )
    parser.add_argument("out", type=Path, help="the --out folder of the grade run")
    parser.add_argument("--rubric", default="m14", help="the rubric the run used (default: m14)")
    parser.add_argument("--log", type=Path, help="the run's captured output, to print neutralised")
    parser.add_argument("--failed", default="", help="the action's step that failed, if one did")
    parser.add_argument(
        "--path", default=".", help="the submission in the repository, as the action's `path` input"
    )
    parser.add_argument(
        "--fail-under", type=points, default=None, help="exit 1 below these points (default: never)"
    )
    args = parser.parse_args(argv)
    if args.log and args.log.is_file():
        print(neutralise(args.log.read_text(encoding="utf-8", errors="replace")), flush=True)
    try:
        rubric = load_rubric(args.rubric)
    except RubricError as error:
        print(neutralise(f"error: {error}"), file=sys.stderr)
        for name, value in (("score", "0"), ("max-score", "0"), ("status", "error")):
            set_output(name, value)  # the job's outputs still say that nothing was graded
        return 2
    results = list(read_results(args.out).values())
    if len(results) > 1:
        print(f"error: {args.out} holds {len(results)} results; expected one", file=sys.stderr)
        return 2
    if results:
        payload = classroom_payload(results[0])
        write_artifact(results[0], rubric, args.out / "artifact")
    else:
        failed = f" ({neutralise(args.failed)} failed)" if args.failed else ""
        payload = error_payload(
            rubric, f"The grader could not grade this repository{failed}; the job log says why."
        )
    write_payload(args.out / "classroom", payload)
    state = verdict(payload, args.fail_under)
    score = sum(t["score"] for t in payload["tests"])
    for name, value in (
        ("result", encode(payload)),
        ("score", number(score)),
        ("max-score", number(payload["max_score"])),
        ("status", state),
    ):
        set_output(name, value)
    summary = summary_markdown(payload, rubric)
    if args.fail_under is not None:
        passes = "passes" if state == "success" else "fails"
        summary += f"\nThe job {passes}: it needs {number(args.fail_under)} points (`fail-under`).\n"
    append_summary(summary)
    print(summary, flush=True)  # built from neutralised texts
    if results:
        root = submission_root(Path(os.environ.get("GITHUB_WORKSPACE", ".")), args.path)
        for line in annotations(results[0], root):
            print(line, flush=True)
    return 1 if args.fail_under is not None and state != "success" else 0


if __name__ == "__main__":
    sys.exit(main())
