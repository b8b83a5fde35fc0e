"""Turn exceptions raised by student code into short, student-readable problems."""

from __future__ import annotations

import traceback
from pathlib import Path

from grader.contract import Problem

MAX_MESSAGE_CHARS = 600


def problem_from(error: BaseException, submission_root: Path) -> Problem:
    message = f"{type(error).__name__}: {error}".strip()
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + " …"
    return Problem(
        kind=type(error).__name__,
        message=message,
        location=_student_location(error, submission_root),
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
