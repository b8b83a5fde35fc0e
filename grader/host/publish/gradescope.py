"""Gradescope: `results.json` as its autograder specification describes it.

Gradescope runs one submission per container and reads `/autograder/results/results.json`,
so one result is written as `results.json`; a batch gets `gradescope/<submission>.json`.
Hidden criteria are tests with `visibility: after_published`: students see them, with their
points and message, only once the instructor publishes the grades.

When the rubric names leaderboard columns, a ranked submission (see `leaderboard.py`) also
carries Gradescope's top-level `leaderboard` array, one `{name, value, order}` per column
(https://gradescope-autograders.readthedocs.io/en/latest/leaderboards/); an unranked one
carries none, so it stays off the board. Students there pick their own pseudonyms.
"""

from __future__ import annotations

from pathlib import Path

from grader.host.publish import leaderboard
from grader.host.publish.common import number, plain_text, targets, with_suffix, write_json
from grader.host.results import STATUS_MEANING, CriterionResult, GradeResult
from grader.rubric.models import Rubric


def _test(criterion: CriterionResult) -> dict:
    output = criterion.message
    if not criterion.passed and criterion.hint:
        output += f"\n\nFix: {criterion.hint}"
    return {
        "name": criterion.id,
        "score": criterion.points,
        "max_score": criterion.max_points,
        "status": "passed" if criterion.passed else "failed",
        "output": plain_text(output),
        "output_format": "text",  # student text is never read as HTML or Markdown
        "visibility": "after_published" if criterion.hidden else "visible",
    }


def _output(result: GradeResult, rubric: Rubric) -> str:
    shown = [c for c in result.criteria if not c.hidden]
    total = f"{number(sum(c.points for c in shown))} / {number(sum(c.max_points for c in shown))}"
    if len(shown) < len(result.criteria):
        total += " on the criteria shown now; the others count once grades are published"
    lines = [f"{rubric.title}: {total}", f"Status {result.status}: {STATUS_MEANING[result.status]}."]
    if result.status_reason:
        lines.append(result.status_reason)
    lines += [f"Note: {note}" for note in result.notes]
    return "\n".join(lines)


def gradescope_results(result: GradeResult, rubric: Rubric) -> dict:
    found = {
        "score": result.score,
        "execution_time": round(result.timings.total_seconds),
        "output": plain_text(_output(result, rubric)),
        "output_format": "text",
        "tests": [_test(c) for c in result.criteria],
    }
    board = rubric.leaderboard
    if board and (values := leaderboard.values(result, board)) is not None:
        found["leaderboard"] = [
            {"name": column.name, "value": value, "order": column.order}
            for column, value in zip(board.columns, values, strict=True)
        ]
    return found


def write_gradescope(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    for result, stem in targets(results, out, "results", "gradescope"):
        write_json(with_suffix(stem, ".json"), gradescope_results(result, rubric))
