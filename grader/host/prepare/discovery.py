"""Which entries of a batch folder are submissions, and what each one is called."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from grader.host.results import Student

SUBMISSION_SUFFIXES = {".py", ".ipynb", ".zip"}
IGNORE_FILE = ".gradeignore"


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path
    student: Student | None = None  # who, as an LMS download names them


def submission_name(path: Path) -> str:
    stem = path.name if path.is_dir() else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "submission"


def ignored_patterns(folder: Path) -> list[str]:
    ignore = folder / IGNORE_FILE
    if not ignore.is_file():
        return []
    lines = ignore.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def discover(folder: Path) -> list[Submission]:
    """Every folder, .py, .ipynb and .zip directly in `folder`, minus `.gradeignore` patterns."""
    patterns = ignored_patterns(folder)
    found: list[Submission] = []
    used: set[str] = set()
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or any(fnmatch.fnmatch(path.name, p) for p in patterns):
            continue
        if not (path.is_dir() or path.suffix in SUBMISSION_SUFFIXES):
            continue
        name = submission_name(path)
        while name in used:  # `alice.py` and `alice/` both exist
            name += "_"
        used.add(name)
        found.append(Submission(name, path))
    return found
