"""`feedback/<submission>.md`: what the student reads, cause by cause.

The missed points are told by their causes (`GradeResult.causes`): each in one section that
states it once, with where it is, what the grader saw and the fix, then the points of each
criterion it holds back; the sections go by the points their fix recovers, the first is
"First to fix". A criterion whose shortfall is its own has a section of its own.

Every text in it that did not come from this module (messages, names, notes, frames, output)
is written through `markdown`, so that the student's part of it renders as text only.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from grader.contract import MAX_FRAME_LINE_CHARS, MAX_FRAME_LINES
from grader.host.publish import markdown
from grader.host.publish.common import file_stem
from grader.host.publish.github_actions import neutralise
from grader.host.results import STATUS_MEANING, Cause, CriterionResult, GradeResult
from grader.rubric.models import Rubric

HIDDEN_MESSAGE = "Hidden until grades are published."
MAX_OUTPUT_IN_FEEDBACK = 4000
# An error's message under its frames, wrapped as a reader's page would not.
ERROR_WIDTH, MAX_ERROR_CHARS = 100, 1000
# `grade --self-check` fits a terminal of 80 columns and 24 lines, with the shell's prompt.
SCREEN_WIDTH, SCREEN_LINES = 80, 20
# What the self-check quotes of a cause's detail and fix, so one long message cannot fill it.
MAX_SELF_CHECK_DETAIL, MAX_SELF_CHECK_FIX = 160, 320


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


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


@dataclass(frozen=True)
class Section:
    """The criteria one fix earns points on: those one cause holds back, or one criterion."""

    criteria: tuple[CriterionResult, ...]
    cause: Cause | None = None

    @property
    def recovers(self) -> float:
        return sum(c.max_points - c.points for c in self.criteria)

    @property
    def lead(self) -> CriterionResult:
        """The criterion that misses the most points (the rubric's first of those)."""
        return max(self.criteria, key=lambda c: c.max_points - c.points)

    def heading(self) -> str:
        """The section's subject, as Markdown: the cause and where it is, or the criterion."""
        cause = self.cause
        if cause is None:
            lead = self.lead
            return f"{markdown.code(lead.id)}, {lead.points:g} / {lead.max_points:g}"
        place = cause.location and cause.location not in cause.title
        return markdown.render(cause.title) + (f" ({markdown.render(cause.location)})" if place else "")


def sections(result: GradeResult) -> list[Section]:
    """What the student can fix, the fix worth the most points first (the rubric's order among equals)."""
    causes = {cause.id: cause for cause in result.causes}
    grouped: dict[str, list[CriterionResult]] = {}
    for c in result.criteria:
        if not c.passed and not c.hidden:
            grouped.setdefault(c.cause if c.cause in causes else f"criterion {c.id}", []).append(c)
    found = [Section(tuple(group), causes.get(key)) for key, group in grouped.items()]
    return sorted(found, key=lambda section: -section.recovers)


def first_to_fix(result: GradeResult) -> CriterionResult | None:
    """The criterion that leads the section worth the most points: what a one-line summary names."""
    found = sections(result)
    return found[0].lead if found else None


def _status_line(result: GradeResult) -> str:
    return (
        f"**Score: {result.score:g} / {result.max_score:g}** · status {markdown.code(result.status)} "
        f"({STATUS_MEANING[result.status]})"
    )


def _what_the_grader_saw(cause: Cause) -> str | None:
    """The student's last traceback frames and the error's message, as Python prints them, in a
    fenced block: both are the student's text, held again to the contract's caps."""
    lines = [
        line if len(line) <= MAX_FRAME_LINE_CHARS else line[: MAX_FRAME_LINE_CHARS - 1] + "…"
        for line in cause.frames[-MAX_FRAME_LINES:]
    ]
    lines += textwrap.wrap(cause.error[:MAX_ERROR_CHARS], ERROR_WIDTH, break_on_hyphens=False)
    return markdown.fenced("\n".join(lines)) if lines else None


def _section(number: int, section: Section) -> list[str]:
    """One fix: the cause, what the grader saw, the fix and the points of each criterion it
    holds back; or one criterion, what it checks, what was found and the fix."""
    first = "First to fix: " if number == 1 else ""
    blocks = [f"### {number}. {first}{section.heading()} (up to {_points(section.recovers)})"]
    cause = section.cause
    if cause is None:
        c = section.lead
        found = [f"- Checked: {markdown.render(c.description)}", f"- Found: {markdown.render(c.message)}"]
        blocks.append("\n".join(found + ([f"- Fix: {markdown.render(c.hint)}"] if c.hint else [])))
        return ["", "\n\n".join(blocks)]
    if cause.detail:
        blocks.append(markdown.render(cause.detail) + ".")
    blocks.append(_what_the_grader_saw(cause))
    if cause.fix:
        blocks.append(f"**Fix:** {markdown.render(cause.fix)}")
    blocks.append("What it holds back:")
    blocks.append(
        "\n".join(f"- {markdown.code(c.id)}: {c.points:g} / {c.max_points:g}" for c in section.criteria)
    )
    return ["", "\n\n".join(block for block in blocks if block)]


def feedback_markdown(result: GradeResult, rubric: Rubric) -> str:
    heading = f"{markdown.inert(rubric.title)}: feedback for {markdown.code(result.submission)}"
    lines = [f"# {heading}", "", _status_line(result)]
    if result.status_reason:
        lines += ["", f"> {markdown.render(result.status_reason)}"]
    if result.tampering:
        lines += [
            "",
            "**Tampering suspected:** what the run reported disagrees with what the grader measured "
            "or saw; your instructor will review it.",
        ] + [f"- {markdown.render(reason)}" for reason in result.tampering]
    if result.graded_class:
        framework = f" ({markdown.code(result.framework)})" if result.framework else ""
        lines += ["", f"Graded class: {markdown.code(result.graded_class)}{framework}."]
    to_fix = sections(result)
    number = {c.id: index for index, section in enumerate(to_fix, 1) for c in section.criteria}
    lines += ["", "| | Criterion | Points | What the grader found |", "|---|---|---|---|"]
    for c in result.criteria:
        # A missed criterion's finding is told once, in its section below.
        found = (
            HIDDEN_MESSAGE
            if c.hidden
            else f"See {number[c.id]} below."
            if c.id in number
            else markdown.render(c.message, cell=True)
        )
        lines.append(
            f"| {_mark(c)} | {markdown.code(c.id, cell=True)} | {c.points:g} / {c.max_points:g} | {found} |"
        )
    if to_fix:
        lines += ["", "## How to earn the missing points", "", "The fix worth the most points comes first."]
        for index, section in enumerate(to_fix, 1):
            lines += _section(index, section)
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


# --- the self-check screen ---------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _shown_path(path: Path) -> str:
    """The path as the student can open it from where they ran `grade`: relative when it is
    under the working folder (`grades/feedback/x.md`), which also keeps it from folding."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _screen_lines(text: str) -> int:
    """How many lines the Markdown takes in an 80-column terminal, as `grade` prints it."""
    screen = io.StringIO()
    Console(file=screen, width=SCREEN_WIDTH, color_system=None, legacy_windows=False).print(Markdown(text))
    return len(screen.getvalue().rstrip("\n").splitlines())


def _first(section: Section, detail_limit: int, fix_limit: int, frames: int) -> list[str]:
    """The first fix: the cause and what the grader saw, the fix; or the criterion's finding and fix."""
    cause, lead = section.cause, section.lead
    blocks = [f"**First to fix** (up to {_points(section.recovers)}): {section.heading()}"]
    fix = cause.fix if cause else lead.hint
    if cause and frames and cause.frames:
        shown = cause.frames[-frames:]
        while shown and shown[0].startswith(" "):  # a frame's code without the frame's place
            shown = shown[1:]
        blocks.append(markdown.fenced("\n".join([*shown, _cut(cause.error, SCREEN_WIDTH - 4)])))
    elif detail_limit and cause and (cause.detail or cause.error):
        # An error's message is shown as it is: its backticks are no code spans of the grader's.
        said = cause.detail or cause.error
        shown = markdown.render if cause.detail else markdown.inert
        blocks[0] += f": {shown(_cut(said, detail_limit))}"
    elif detail_limit and not cause:
        blocks[0] += f": {markdown.render(_cut(lead.message, detail_limit))}"
    return blocks + ([f"**Fix:** {markdown.render(_cut(fix, fix_limit))}"] if fix and fix_limit else [])


def _then(section: Section) -> str:
    lead = section.lead
    said = "" if section.cause else f": {markdown.render(_cut(lead.message, 100))}"
    return f"- Then, up to {_points(section.recovers)}: {section.heading()}{said}"


def self_check_markdown(result: GradeResult, full_feedback: Path) -> str:
    """What `--self-check` prints: the first thing to fix and its fix, the next ones, and the
    score on the last lines, within an 80 by 24 terminal; the whole feedback is in `full_feedback`."""
    to_fix = sections(result)
    passed = [c for c in result.criteria if c.passed and not c.hidden]
    where = f"Every finding, your traceback and your program's output: {markdown.code(_shown_path(full_feedback))}"
    score = f"**Score: {result.score:g} / {result.max_score:g}** · {markdown.code(result.status)}"

    def screen(frames: int, shown: int, detail: int, fix: int, with_passed: bool) -> str:
        blocks = []
        if to_fix:
            blocks += _first(to_fix[0], detail, fix, frames)
            later = [_then(section) for section in to_fix[1 : 1 + shown]]
            left = len(to_fix) - 1 - shown
            if left > 0:
                later.append(f"- and {left} more in the feedback")
            if later:
                blocks.append("\n".join(later))
        elif result.score >= result.max_score:
            blocks.append("Nothing to fix: full marks.")
        if with_passed and passed:
            blocks.append("Passed: " + ", ".join(markdown.code(c.id) for c in passed) + ".")
        blocks += [where, score]
        return neutralise("\n\n".join(blocks) + "\n")

    # The most that fits, dropping first what matters least: the later fixes, the passed criteria,
    # the frames of the student's traceback, then the length of what the grader saw.
    detail, fix = MAX_SELF_CHECK_DETAIL, MAX_SELF_CHECK_FIX
    tries = [(frames, shown, detail, fix, True) for frames in (6, 4) for shown in (3, 1)]
    tries += [(4, 0, detail, fix, False), (2, 0, detail, fix, False)]
    tries += [(0, shown, detail, fix, True) for shown in (4, 3, 2, 1)]
    tries += [(0, 1, detail, fix, False), (0, 0, 80, fix, False), (0, 0, 0, 160, False), (0, 0, 0, 0, False)]
    for attempt in tries:
        text = screen(*attempt)
        if _screen_lines(text) <= SCREEN_LINES:
            return text
    return text
