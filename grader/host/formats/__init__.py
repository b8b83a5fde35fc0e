"""Report formats beyond the gradebook CSV, results JSON and feedback Markdown.

Each writer takes the batch's results, the rubric and the output folder, and writes its
files there:

| name | files |
|---|---|
| `classroom` | `classroom.json`, `classroom.b64` (GitHub Classroom reporter); `classroom/<name>.*` for a batch |
| `gradescope` | `results.json` (Gradescope autograder); `gradescope/<name>.json` for a batch |
| `html` | `summary.html`, plots and table of the batch |
| `junit` | `junit.xml`, a testsuite per submission |

`python -m grader.host.formats.action` is the reporting step of the GitHub action.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

from grader.host.formats.classroom import write_classroom
from grader.host.formats.common import load_results
from grader.host.formats.gradescope import write_gradescope
from grader.host.formats.junit import write_junit
from grader.host.formats.summary import write_summary
from grader.host.results import GradeResult
from grader.rubric.models import Rubric

Writer = Callable[[list[GradeResult], Rubric, Path], None]

FORMATS: dict[str, Writer] = {
    "classroom": write_classroom,
    "gradescope": write_gradescope,
    "html": write_summary,
    "junit": write_junit,
}
# Written after every batch, whatever --format asks for.
DEFAULT_FORMATS: tuple[str, ...] = ("html",)
# The choices of the CLI's --format (typer takes an Enum); each member's value is its name.
FormatName = Enum("FormatName", {name: name for name in FORMATS}, type=str)


def write_formats(names: Iterable[str], results: list[GradeResult], rubric: Rubric, out: Path) -> list[str]:
    """Run the default writers and the named ones, each once; returns the names written."""
    chosen = list(dict.fromkeys([*DEFAULT_FORMATS, *names]))
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    for name in chosen:
        FORMATS[name](results, rubric, out)
    return chosen


__all__ = ["DEFAULT_FORMATS", "FORMATS", "FormatName", "Writer", "load_results", "write_formats"]
