"""What the writers share: file names, numbers and cells as every report shows them, student
text as plain text, and reading results back."""

from __future__ import annotations

import json
import re
import unicodedata
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import ValidationError

from grader.host.results import GradeResult


def grader_version() -> str:
    """The installed grader's version, as every report and the batch's fingerprints give it."""
    try:
        return version("lightning-grader")
    except PackageNotFoundError:
        return "unknown"


def file_stem(submission: str) -> str:
    """The submission name as a file name; a name that could leave its folder is refused."""
    if submission in ("", ".", "..") or "/" in submission or "\\" in submission:
        raise ValueError(f"submission name {submission!r} is not a plain file name")
    return submission


def targets(
    results: list[GradeResult], out: Path, single: str, folder: str
) -> list[tuple[GradeResult, Path]]:
    """Where each result's file goes, without its suffix: `out/<single>` for one result
    (the platforms grade one submission at a time), `out/<folder>/<submission>` for a batch."""
    if len(results) == 1:
        return [(results[0], out / single)]
    return [(r, out / folder / file_stem(r.submission)) for r in results]


def with_suffix(stem: Path, suffix: str) -> Path:
    # Path.with_suffix would cut a submission name such as `alice.v2`.
    return stem.parent / (stem.name + suffix)


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_results(out: Path) -> dict[str, GradeResult]:
    """The results a `grade` run wrote into `out/results/`, by submission; unreadable ones are left out."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        try:
            result = GradeResult.model_validate_json(path.read_bytes())
        except (ValidationError, OSError):
            continue
        found[result.submission] = result
    return found


# Terminal escape sequences: CSI (colours, cursor, clear screen), OSC (window title, links,
# clipboard writes) and DCS, ended by BEL or ST, and any other two-character escape.
ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1bP[^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
)
# Cells a spreadsheet would read as a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def plain_text(text: str) -> str:
    """Student text as data: no escape sequences and no control or format characters
    (escape, NUL, C1 controls, zero-width marks that could hide something), but lines and tabs."""
    text = ESCAPE_SEQUENCE.sub("", text)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf"))


def spreadsheet_cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never evaluates."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def number(value: float) -> str:
    """Points as the gradebook CSV writes them."""
    return f"{value:g}"
