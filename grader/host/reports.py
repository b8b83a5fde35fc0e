"""Write what the grader found: results JSON, the gradebook CSV and student feedback."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

from grader.host.results import STATUS_MEANING, CriterionResult, GradeResult
from grader.rubric.models import Rubric

HIDDEN_MESSAGE = "Hidden until grades are published."
MAX_OUTPUT_IN_FEEDBACK = 4000


def write_result(result: GradeResult, out: Path) -> None:
    folder = out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result.submission}.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")


def write_feedback(result: GradeResult, rubric: Rubric, out: Path) -> None:
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result.submission}.md").write_text(feedback_markdown(result, rubric), encoding="utf-8")


def write_csv(results: Iterable[GradeResult], rubric: Rubric, out: Path) -> Path:
    """The gradebook: one row per submission, one column per criterion. Rewritten whole."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "grades.csv"
    partial = path.with_suffix(".partial")
    ids = [c.id for c in rubric.criteria]
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "score", "max_score", "status", *ids])
        for result in sorted(results, key=lambda r: r.submission):
            points = {c.id: c.points for c in result.criteria}
            writer.writerow(
                [result.submission, _number(result.score), _number(result.max_score), result.status]
                + [_number(points.get(i, 0.0)) for i in ids]
            )
    partial.replace(path)
    return path


def _number(value: float) -> str:
    return f"{value:g}"


def _mark(criterion: CriterionResult) -> str:
    if criterion.hidden:
        return "🔒"
    if criterion.passed:
        return "✅"
    return "⚠️" if criterion.points > 0 else "❌"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def feedback_markdown(result: GradeResult, rubric: Rubric) -> str:
    lines = [
        f"# {rubric.title}: feedback for `{result.submission}`",
        "",
        f"**Score: {result.score:g} / {result.max_score:g}** · status `{result.status}` "
        f"({STATUS_MEANING[result.status]})",
    ]
    if result.status_reason:
        lines += ["", f"> {result.status_reason}"]
    if result.graded_class:
        lines += ["", f"Graded class: `{result.graded_class}` (`{result.framework}`)."]
    lines += ["", "| | Criterion | Points | What the grader found |", "|---|---|---|---|"]
    for c in result.criteria:
        message = HIDDEN_MESSAGE if c.hidden else c.message
        lines.append(f"| {_mark(c)} | `{c.id}` | {c.points:g} / {c.max_points:g} | {_cell(message)} |")
    to_fix = [c for c in result.criteria if not c.passed and not c.hidden]
    if to_fix:
        lines += ["", "## How to earn the missing points"]
        for c in to_fix:
            lines += [
                "",
                f"### `{c.id}` ({c.points:g} / {c.max_points:g})",
                "",
                f"- Checked: {c.description}",
            ]
            lines.append(f"- Found: {c.message}")
            if c.hint:
                lines.append(f"- Fix: {c.hint}")
    if result.notes:
        lines += ["", "## What the grader adapted", ""] + [f"- {note}" for note in result.notes]
    for title, text in (("standard output", result.stdout), ("standard error", result.stderr)):
        if text.strip():
            shown = text if len(text) <= MAX_OUTPUT_IN_FEEDBACK else "…" + text[-MAX_OUTPUT_IN_FEEDBACK:]
            fence = "`" * max(3, _longest_backtick_run(shown) + 1)  # student text cannot close it
            lines += [
                "",
                f"## Your program's {title} (last part)",
                "",
                f"{fence}text",
                shown.rstrip("\n"),
                fence,
            ]
    return "\n".join(lines) + "\n"
