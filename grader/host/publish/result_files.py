"""`results/<submission>.json`: everything the grader found, for tools and for re-runs."""

from __future__ import annotations

from pathlib import Path

from grader.host.publish.common import file_stem
from grader.host.results import GradeResult
from grader.rubric.models import Rubric


def write_results(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    folder = out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    for result in results:
        (folder / f"{file_stem(result.submission)}.json").write_text(
            result.model_dump_json(indent=2), encoding="utf-8"
        )
