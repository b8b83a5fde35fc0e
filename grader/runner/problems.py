"""Turn exceptions raised by student code into short, student-readable problems."""

from __future__ import annotations

import errno
import linecache
import traceback
from pathlib import Path

from grader.contract import MAX_ARGUMENTS, MAX_FRAME_LINE_CHARS, MAX_FRAME_LINES, Problem

MAX_MESSAGE_CHARS = 600
MAX_ARGUMENT_CHARS = 100
MAX_KIND_CHARS = 100  # an exception class's name is the student's to choose


# The run's own resources running out (its disk, its file size, its memory): the student's
# code used them up, even when the grader's code was the one that hit the limit.
EXHAUSTED = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EMFILE, errno.ENOMEM}


def _exhausted(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or (isinstance(error, OSError) and error.errno in EXHAUSTED)


class GraderFault(Exception):
    """Raised by the grader's own code while student code runs (e.g. in its fit callbacks)."""


class MissingArguments(TypeError):
    """The grader's refusal to build a class whose required arguments nothing in the student's code
    gives: it never called the constructor, so none of the student's code ran."""

    def __init__(self, message: str, names: list[str]) -> None:
        super().__init__(message)
        self.names = names


def problem_from(error: BaseException, submission_root: Path, by_grader: bool = False) -> Problem:
    """`by_grader`: the failure is the grader's unless the traceback passes through student code."""
    cause = error.__cause__ if isinstance(error, GraderFault) and error.__cause__ else error
    # A syntax error's text ends with its file's path in the sandbox; its location says where.
    said = cause.msg if isinstance(cause, SyntaxError) else cause
    kind = "TypeError" if isinstance(cause, MissingArguments) else type(cause).__name__[:MAX_KIND_CHARS]
    message = f"{kind}: {said}".strip()
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + " …"
    location = _student_location(cause, submission_root)
    missing = cause.names[:MAX_ARGUMENTS] if isinstance(cause, MissingArguments) else []
    return Problem(
        kind=kind,
        message=message,
        location=location,
        # Raised in the grader's own code, and not by student code it called (their hooks).
        by_grader=(by_grader or isinstance(error, GraderFault))
        and location is None
        and not _exhausted(cause),
        frames=_frames(cause, submission_root),
        missing_arguments=[name[:MAX_ARGUMENT_CHARS] for name in missing],
    )


def _student_location(error: BaseException, root: Path) -> str | None:
    """The innermost frame in the student's own files: that is where they should look."""
    if isinstance(error, SyntaxError) and error.filename:
        return _relative(error.filename, root, error.lineno)
    location = None
    for frame in traceback.extract_tb(error.__traceback__):
        relative = _relative(frame.filename, root, frame.lineno)
        if relative:
            location = relative
    return location


def _relative(filename: str, root: Path, line: int | None) -> str | None:
    try:
        relative = Path(filename).resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return f"{relative.as_posix()}:{line}" if line else relative.as_posix()


def _capped(line: str) -> str:
    line = line.rstrip()
    return line if len(line) <= MAX_FRAME_LINE_CHARS else line[: MAX_FRAME_LINE_CHARS - 1] + "…"


def _caret(indent: int, start: int, end: int) -> str | None:
    """`^` under columns `start` to `end` of a line shown as 4 spaces and its code without its
    `indent`; None where the capped line would not show them."""
    start, end = start - indent, end - indent
    caret = "    " + " " * start + "^" * (end - start)
    return caret if start >= 0 and end > start and len(caret) < MAX_FRAME_LINE_CHARS else None


def _syntax_frames(error: SyntaxError, root: Path) -> list[str]:
    """The line Python could not read and a caret where it stopped, as Python prints them."""
    where = _relative(error.filename or "", root, error.lineno)
    if not where:
        return []
    lines = [where]
    text = (error.text or "").rstrip("\n")
    if text.strip():
        lines.append(_capped("    " + text.strip()))
        if error.offset:
            start = error.offset - 1
            on_one_line = error.end_lineno == error.lineno and (error.end_offset or 0) > error.offset
            end = error.end_offset - 1 if on_one_line else start + 1
            caret = _caret(len(text) - len(text.lstrip()), start, end)
            if caret:
                lines.append(caret)
    return lines


def _character_column(line: str, byte_offset: int | None) -> int | None:
    """A traceback's column, a UTF-8 byte offset, as a character offset in `line`."""
    if byte_offset is None:
        return None
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))


def _frame_lines(frame: traceback.FrameSummary, where: str, innermost: bool) -> list[str]:
    """`file:line in function` and its code; the innermost frame's failing part gets a caret,
    unless that part is the whole line."""
    lines = [_capped(f"{where} in {frame.name}")]
    original = linecache.getline(frame.filename, frame.lineno or 0).rstrip("\n")
    if not original.strip():
        return lines
    lines.append(_capped("    " + original.strip()))
    start = _character_column(original, frame.colno)
    end = _character_column(original, frame.end_colno)
    indent = len(original) - len(original.lstrip())
    whole = start == indent and end is not None and end >= len(original.rstrip())
    if innermost and frame.end_lineno == frame.lineno and start is not None and end and not whole:
        caret = _caret(indent, start, end)
        if caret:
            lines.append(caret)
    return lines


def _frames(error: BaseException, root: Path) -> list[str]:
    """The traceback's frames in the student's own files, innermost last, in at most
    `MAX_FRAME_LINES` lines (a call repeated in a row, as in a recursion, once with its count);
    for a syntax error, the line and the caret."""
    if isinstance(error, SyntaxError) and error.filename:
        return _syntax_frames(error, root)
    runs: list[tuple[traceback.FrameSummary, str, int]] = []  # a frame, its place, how often in a row
    for frame in traceback.extract_tb(error.__traceback__):
        where = _relative(frame.filename, root, frame.lineno)
        if not where:
            continue
        if runs and runs[-1][1] == where and runs[-1][0].name == frame.name:
            runs[-1] = (frame, where, runs[-1][2] + 1)
        else:
            runs.append((frame, where, 1))
    blocks: list[list[str]] = []
    used = 0
    for index, (frame, where, times) in enumerate(reversed(runs)):
        block = _frame_lines(frame, where, innermost=index == 0)
        if times > 1:
            block.append(f"[the call above repeated {times - 1} more times]")
        earlier = len(runs) - index - 1
        if used + len(block) + (1 if earlier else 0) > MAX_FRAME_LINES:
            break
        blocks.insert(0, block)
        used += len(block)
    omitted = len(runs) - len(blocks)
    head = [f"… {omitted} earlier call{'s' if omitted > 1 else ''} in your code"] if omitted else []
    return head + [line for block in blocks for line in block]
