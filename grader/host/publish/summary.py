"""`summary.html`: the batch on one self-contained page, for the instructor.

Two plots (score histogram, share of full points per criterion) are SVG images inlined as
data URIs, so the file opens from the output folder with nothing else. Submission names and
status reasons are student-controlled: the template autoescapes everything (attributes
included), and the page's Content-Security-Policy allows no script, no request, no `<base>`
and no form, should anything ever get through.
"""

from __future__ import annotations

import base64
import io
import statistics
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment

from grader.host.publish.common import file_stem, number
from grader.host.results import STATUS_MEANING, GradeResult
from grader.rubric.models import Rubric

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<title>{{ rubric.title }}: grades</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
.plots { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
table { border-collapse: collapse; margin-top: 2rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child, td.status { text-align: left; }
td.full { background: #e6f4ea; }
td.partial { background: #fff4d6; }
td.zero { background: #fde7e7; }
</style>
</head>
<body>
<h1>{{ rubric.title }}</h1>
<p id="overview">{{ rows | length }} submissions graded with rubric <code>{{ rubric.id }}</code>.
{%- if rows %} Mean score {{ mean }} / {{ max_score }}, median {{ median }}.{% endif %}</p>
<div class="plots">
<figure id="score-histogram"><img alt="Histogram of scores" src="{{ histogram }}">
<figcaption>Scores out of {{ max_score }}</figcaption></figure>
<figure id="pass-rates"><img alt="Share of submissions with full points, per criterion" src="{{ pass_rates }}">
<figcaption>Share of submissions with full points, per criterion</figcaption></figure>
</div>
<table id="grades">
<thead><tr><th>submission</th><th>score</th><th>status</th>
{%- for c in rubric.criteria %}<th title="{{ c.description }}">{{ c.id }} ({{ c.points | points }})</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows -%}
<tr><td><a href="{{ row.feedback }}">{{ row.name }}</a></td><td class="score">{{ row.score }}</td>
<td class="status" title="{{ row.reason }}">{{ row.status }}</td>
{%- for cell in row.cells %}<td class="{{ cell.kind }}">{{ cell.points }}</td>{% endfor %}</tr>
{% endfor -%}
</tbody>
</table>
</body>
</html>
"""

_environment = Environment(autoescape=True, keep_trailing_newline=True)
_environment.filters["points"] = number
_template = _environment.from_string(TEMPLATE)


def _svg_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(results: list[GradeResult], rubric: Rubric) -> tuple[str, str]:
    """The score histogram and the share of full points per criterion, as data URIs."""
    # Imported here: matplotlib would add about a second to the start of every `grade` command.
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    histogram = Figure(figsize=(6, 3.2))
    axes = histogram.subplots()
    bins = [rubric.max_score * i / 10 for i in range(11)]
    axes.hist([r.score for r in results], bins=bins, color="#1f77b4", edgecolor="white")
    axes.set(xlabel="score", ylabel="submissions", xlim=(0, rubric.max_score))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))

    ids = [c.id for c in rubric.criteria]
    full = dict.fromkeys(ids, 0)
    for result in results:
        for criterion in result.criteria:
            if criterion.id in full and criterion.passed:
                full[criterion.id] += 1
    pass_rates = Figure(figsize=(6, 0.3 * len(ids) + 1))
    axes = pass_rates.subplots()
    axes.barh(ids, [full[i] / max(len(results), 1) for i in ids], color="#2ca02c")
    axes.invert_yaxis()  # rubric order, top to bottom
    axes.set(xlim=(0, 1), xlabel="submissions with full points")
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))

    # Text stays text (small, searchable); a fixed salt and no date make the file reproducible.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "lightning-grader"}):
        return _svg_uri(histogram), _svg_uri(pass_rates)


def _kind(points: float, max_points: float) -> str:
    if points >= max_points:
        return "full"
    return "partial" if points > 0 else "zero"


def summary_html(results: list[GradeResult], rubric: Rubric) -> str:
    ordered = sorted(results, key=lambda r: r.submission)
    rows = []
    for result in ordered:
        points = {c.id: c.points for c in result.criteria}
        rows.append(
            {
                "name": result.submission,
                "feedback": f"feedback/{quote(file_stem(result.submission))}.md",
                "score": number(result.score),
                "status": result.status,
                "reason": result.status_reason or STATUS_MEANING[result.status],
                "cells": [
                    {"points": number(points.get(c.id, 0.0)), "kind": _kind(points.get(c.id, 0.0), c.points)}
                    for c in rubric.criteria
                ],
            }
        )
    scores = [r.score for r in ordered]
    histogram, pass_rates = _plots(ordered, rubric)
    return _template.render(
        rubric=rubric,
        rows=rows,
        max_score=number(rubric.max_score),
        mean=number(round(statistics.fmean(scores), 1)) if scores else "",
        median=number(statistics.median(scores)) if scores else "",
        histogram=histogram,
        pass_rates=pass_rates,
    )


def write_summary(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.html").write_text(summary_html(results, rubric), encoding="utf-8")
