"""`feedback/<submission>.md`: what the student reads, criterion by criterion.

Every text in it that did not come from this module (messages, names, notes, output) is
written through `markdown`, so that the student's part of it renders as text only.
"""

from __future__ import annotations

from pathlib import Path

from grader.host.publish import markdown
from grader.host.publish.common import file_stem
from grader.host.publish.github_actions import neutralise
from grader.host.results import STATUS_MEANING, CriterionResult, GradeResult
from grader.rubric.models import Rubric

HIDDEN_MESSAGE = "Hidden until grades are published."
MAX_OUTPUT_IN_FEEDBACK = 4000


def feedback_file(out: Path, submission: str) -> Path:
    return out / "feedback" / f"{file_stem(submission)}.md"


def write_feedback(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    for result in results:
        path = feedback_file(out, result.submission)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_markdown(result, rubric), encoding="utf-8")


def _mark(criterion: CriterionResult) -> str:
    if criterion.hidden:
        return "🔒"
    if criterion.passed:
        return "✅"
    return "⚠️" if criterion.points > 0 else "❌"


def first_to_fix(result: GradeResult) -> CriterionResult | None:
    """The first criterion, in the rubric's order, that a student can see and has not passed."""
    return next((c for c in result.criteria if not c.passed and not c.hidden), None)


def _score_lines(result: GradeResult) -> list[str]:
    """The score and status, and why the run stopped where it did."""
    lines = [
        f"**Score: {result.score:g} / {result.max_score:g}** · status {markdown.code(result.status)} "
        f"({STATUS_MEANING[result.status]})",
    ]
    if result.status_reason:
        lines += ["", f"> {markdown.render(result.status_reason)}"]
    return lines


def self_check_markdown(result: GradeResult, full_feedback: Path) -> str:
    """What `--self-check` prints: the score and the first thing to fix, then each criterion
    in a line, within one screen; the whole feedback is in `full_feedback`."""
    lines = _score_lines(result)
    fix = first_to_fix(result)
    if fix:
        advice = f" **Fix:** {markdown.render(fix.hint)}" if fix.hint else ""
        lines += [
            "",
            f"**First to fix:** {markdown.code(fix.id)} ({fix.points:g} / {fix.max_points:g}): "
            f"{markdown.render(fix.message)}{advice}",
        ]
    elif result.score >= result.max_score:
        lines += ["", "Nothing to fix: full marks."]
    lines += [""] + [
        f"- {_mark(c)} {markdown.code(c.id)} {c.points:g} / {c.max_points:g}" for c in result.criteria
    ]
    lines += [
        "",
        f"Every criterion, with what the grader found and your program's output: {markdown.code(str(full_feedback))}",
    ]
    return neutralise("\n".join(lines) + "\n")


def _missing_points(to_fix: list[CriterionResult]) -> list[str]:
    """One section per fix: criteria that one fix unblocks (a model that could not be built
    blocks most of them) share their section, so the student reads that fix once."""
    by_fix: dict[str, list[CriterionResult]] = {}
    for c in to_fix:
        by_fix.setdefault(c.hint or c.id, []).append(c)
    lines = []
    for group in by_fix.values():
        if len(group) == 1:
            c = group[0]
            lines += ["", f"### {markdown.code(c.id)} ({c.points:g} / {c.max_points:g})", ""]
            lines += [
                f"- Checked: {markdown.render(c.description)}",
                f"- Found: {markdown.render(c.message)}",
            ]
        else:
            points = f"{sum(c.points for c in group):g} / {sum(c.max_points for c in group):g}"
            lines += ["", f"### {len(group)} criteria that one fix unblocks ({points})", ""]
            lines += [
                f"- {markdown.code(c.id)} ({c.points:g} / {c.max_points:g}): {markdown.render(c.message)}"
                for c in group
            ]
        if group[0].hint:
            lines.append(f"- Fix: {markdown.render(group[0].hint)}")
    return lines


def feedback_markdown(result: GradeResult, rubric: Rubric) -> str:
    heading = f"{markdown.inert(rubric.title)}: feedback for {markdown.code(result.submission)}"
    lines = [f"# {heading}", "", *_score_lines(result)]
    if result.tampering:
        lines += [
            "",
            "**Tampering suspected:** what the run reported disagrees with what the grader measured "
            "or saw; your instructor will review it.",
        ] + [f"- {markdown.render(reason)}" for reason in result.tampering]
    if result.graded_class:
        framework = f" ({markdown.code(result.framework)})" if result.framework else ""
        lines += ["", f"Graded class: {markdown.code(result.graded_class)}{framework}."]
    lines += ["", "| | Criterion | Points | What the grader found |", "|---|---|---|---|"]
    for c in result.criteria:
        message = HIDDEN_MESSAGE if c.hidden else c.message
        lines.append(
            f"| {_mark(c)} | {markdown.code(c.id, cell=True)} | {c.points:g} / {c.max_points:g} "
            f"| {markdown.render(message, cell=True)} |"
        )
    to_fix = [c for c in result.criteria if not c.passed and not c.hidden]
    if to_fix:
        lines += ["", "## How to earn the missing points", *_missing_points(to_fix)]
    if result.notes:
        lines += ["", "## What the grader adapted", ""] + [
            f"- {markdown.render(note)}" for note in result.notes
        ]
    for title, text in (("standard output", result.stdout), ("standard error", result.stderr)):
        if text.strip():
            shown = text if len(text) <= MAX_OUTPUT_IN_FEEDBACK else "…" + text[-MAX_OUTPUT_IN_FEEDBACK:]
            lines += ["", f"## Your program's {title} (last part)", "", markdown.fenced(shown)]
    # Student text is data: no escape codes for a terminal, no workflow commands for a CI log.
    return neutralise("\n".join(lines) + "\n")
