"""Turn exceptions raised by student code into short, student-readable problems."""

from __future__ import annotations

import errno
import traceback
from pathlib import Path

from grader.contract import Problem

MAX_MESSAGE_CHARS = 600


# The run's own resources running out (its disk, its file size, its memory): the student's
# code used them up, even when the grader's code was the one that hit the limit.
EXHAUSTED = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EMFILE, errno.ENOMEM}


def _exhausted(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or (isinstance(error, OSError) and error.errno in EXHAUSTED)


class GraderFault(Exception):
    """Raised by the grader's own code while student code runs (e.g. in its fit callbacks)."""


def problem_from(error: BaseException, submission_root: Path, by_grader: bool = False) -> Problem:
    """`by_grader`: the failure is the grader's unless the traceback passes through student code."""
    cause = error.__cause__ if isinstance(error, GraderFault) and error.__cause__ else error
    message = f"{type(cause).__name__}: {cause}".strip()
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + " …"
    location = _student_location(cause, submission_root)
    return Problem(
        kind=type(cause).__name__,
        message=message,
        location=location,
        # Raised in the grader's code, and not by student code it called (their hooks).
        by_grader=(by_grader or isinstance(error, GraderFault))
        and location is None
        and not _exhausted(cause),
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
