"""`grades.csv`: the gradebook, one row per submission and one column per criterion."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.host.publish.common import number, spreadsheet_cell
from grader.host.results import GradeResult
from grader.rubric.models import Rubric

TAMPERING = "tampering suspected"


def write_csv(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    """Rewritten whole, rows in name order, so an interrupted batch leaves a complete file."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "grades.csv"
    partial = path.with_suffix(".partial")
    ids = [c.id for c in rubric.criteria]
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "score", "max_score", "status", *ids, "review"])
        for result in sorted(results, key=lambda r: r.submission):
            points = {c.id: c.points for c in result.criteria}
            writer.writerow(
                [
                    spreadsheet_cell(result.submission),
                    number(result.score),
                    number(result.max_score),
                    result.status,
                ]
                + [number(points.get(i, 0.0)) for i in ids]
                + [TAMPERING if result.tampering else ""]
            )
    partial.replace(path)
