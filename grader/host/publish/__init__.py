"""Step 4, publish: every file the grader writes, from the same results, through one registry.

Each writer takes results, the rubric and the output folder. Its `scope` says when it runs:

| name | scope | files |
|---|---|---|
| `json` | each | `results/<submission>.json`, as each submission finishes |
| `feedback` | each | `feedback/<submission>.md`, as each submission finishes |
| `feedback_html` | each | `feedback/<submission>.html`, the same rendered, for `summary.html`'s links |
| `csv` | gradebook | `grades.csv`, rewritten whole after each submission |
| `html` | batch | `summary.html`, the class report: what needs attention, plots, sortable table |
| `junit` | batch, on request | `junit.xml`, a testsuite per submission |
| `gradescope` | batch, on request | `results.json`; `gradescope/<name>.json` for a batch |
| `classroom` | batch, on request | `classroom.json`, `classroom.b64`; `classroom/<name>.*` for a batch |
| `classroom50` | batch, on request | `result.json`, `release-body.md`; `classroom50/<name>.json`, `.md` for a batch |
| `ctrf` | batch, on request | `ctrf-report.json`; `ctrf/<name>.json` for a batch |
| `lms` | batch | `lms/<platform>.csv`, `lms/unmatched.csv`, with a `--roster` (`publish/lms.py`) |

A new format is one module with one writer, and one line here. `python -m
grader.host.publish.action` is the reporting step of the GitHub action. Markdown around
student text is written with `markdown` (code spans it cannot close, prose that links
nothing), so that the text shows as text only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from grader.host.publish.classroom import write_classroom
from grader.host.publish.classroom50 import write_classroom50
from grader.host.publish.common import read_results
from grader.host.publish.ctrf import write_ctrf
from grader.host.publish.feedback import write_feedback
from grader.host.publish.feedback_html import write_feedback_html
from grader.host.publish.gradebook import write_csv
from grader.host.publish.gradescope import write_gradescope
from grader.host.publish.junit import write_junit
from grader.host.publish.lms import write_lms
from grader.host.publish.result_files import write_results
from grader.host.publish.summary import write_summary
from grader.host.results import GradeResult
from grader.rubric.models import Rubric

Writer = Callable[[list[GradeResult], Rubric, Path], None]


@dataclass(frozen=True)
class Format:
    write: Writer
    scope: Literal["each", "gradebook", "batch"]
    always: bool = True


FORMATS: dict[str, Format] = {
    "json": Format(write_results, "each"),
    "feedback": Format(write_feedback, "each"),
    "feedback_html": Format(write_feedback_html, "each"),
    "csv": Format(write_csv, "gradebook"),
    "html": Format(write_summary, "batch"),
    "junit": Format(write_junit, "batch", always=False),
    "gradescope": Format(write_gradescope, "batch", always=False),
    "classroom": Format(write_classroom, "batch", always=False),
    "classroom50": Format(write_classroom50, "batch", always=False),
    "ctrf": Format(write_ctrf, "batch", always=False),
    "lms": Format(write_lms, "batch"),
}
# The choices of the CLI's --format (typer takes an Enum); each member's value is its name.
FormatName = Enum("FormatName", {name: name for name, f in FORMATS.items() if not f.always}, type=str)


def publish_graded(result: GradeResult, so_far: list[GradeResult], rubric: Rubric, out: Path) -> None:
    """As a submission finishes: its own files, then the gradebook of all graded so far."""
    for form in FORMATS.values():
        if form.scope == "each":
            form.write([result], rubric, out)
    publish_gradebook(so_far, rubric, out)


def publish_gradebook(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    for form in FORMATS.values():
        if form.scope == "gradebook":
            form.write(results, rubric, out)


def publish_batch(names: Iterable[str], results: list[GradeResult], rubric: Rubric, out: Path) -> list[str]:
    """The batch reports that are always written, and the requested ones; the names written."""
    chosen = [n for n, f in FORMATS.items() if f.scope == "batch" and f.always]
    chosen = list(dict.fromkeys([*chosen, *names]))
    unknown = [name for name in chosen if name not in FORMATS or FORMATS[name].scope != "batch"]
    if unknown:
        raise ValueError(
            f"unknown format {', '.join(unknown)}; choose from {', '.join(FormatName.__members__)}"
        )
    for name in chosen:
        FORMATS[name].write(results, rubric, out)
    return chosen


__all__ = [
    "FORMATS",
    "Format",
    "FormatName",
    "Writer",
    "publish_batch",
    "publish_gradebook",
    "publish_graded",
    "read_results",
]
