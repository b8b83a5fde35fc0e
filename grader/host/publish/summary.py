"""`summary.html`: the class report a TA works from, one self-contained page.

It opens with the counts per status and what needs attention (below full marks, any status
but `ok`, tampering suspected), each with its reasons and a link to that student's feedback
page; then the leaderboard if the rubric has one, two plots (SVG images inlined as data URIs),
and every submission in a table that sorts by any column and keeps the names in view. A
footer says when, by which grader and rubric, and on which digits it was graded.

Submission names, status reasons and tampering reasons are student-controlled: the template
autoescapes everything (attributes included), and the page's Content-Security-Policy allows
one script, the sorting below, by its SHA-256 hash, and no other, no request, no `<base>` and
no form. The script reads cells with `textContent` and only moves rows, so no text becomes
markup.
"""

from __future__ import annotations

import base64
import hashlib
import io
import statistics
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment
from markupsafe import Markup

from grader.host.prepare.data import SECRET_FILE, batch_secret
from grader.host.publish import leaderboard
from grader.host.publish.common import file_stem, grader_version, number, plain_text
from grader.host.results import STATUS_MEANING, GradeResult
from grader.rubric.models import Rubric

# Click a column's heading to sort by it, again to reverse; blank cells stay last.
SORT_SCRIPT = """
"use strict";
for (const table of document.querySelectorAll("table.sortable")) {
  const headers = Array.from(table.tHead.rows[0].cells);
  const body = table.tBodies[0];
  const number = /^-?[0-9]+(?:[.][0-9]+)?%?$/;
  const compare = (a, b) => {
    if (number.test(a) && number.test(b)) return parseFloat(a) - parseFloat(b);
    return a.localeCompare(b, undefined, { numeric: true });
  };
  for (const header of headers) {
    header.querySelector("button").addEventListener("click", () => {
      const column = header.cellIndex;
      const direction = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      const text = (row) => row.cells[column].textContent.trim();
      const rows = Array.from(body.rows).sort((x, y) => {
        const a = text(x), b = text(y);
        if (!a || !b) return (a ? 0 : 1) - (b ? 0 : 1);
        return direction * compare(a, b);
      });
      for (const other of headers) other.removeAttribute("aria-sort");
      header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
      body.append(...rows);
    });
  }
}
"""
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = (
    f"default-src 'none'; script-src 'sha256-{SCRIPT_HASH}'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>{{ rubric.title }}: grades</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h2 { margin-top: 2rem; }
.plots { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
#status-counts { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; list-style: none; padding: 0; }
#needs-attention li { margin: 0.4rem 0; }
#needs-attention ul.reasons { margin: 0.1rem 0; color: #444; }
.reason { overflow-wrap: anywhere; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, td.status, td.review { text-align: left; }
th button { font: inherit; font-weight: bold; border: 0; background: none; padding: 0; cursor: pointer; }
th[aria-sort=ascending] button::after { content: " \\25b2"; }
th[aria-sort=descending] button::after { content: " \\25bc"; }
.table-box { max-width: 100%; max-height: 80vh; overflow: auto; margin-top: 2rem; border: 1px solid #ccc; }
#grades thead th { position: sticky; top: 0; background: #f4f4f4; z-index: 1; vertical-align: bottom; }
#grades thead th.criterion { white-space: normal; min-width: 4.5rem; max-width: 6.5rem; }
#grades th:first-child, #grades td:first-child { position: sticky; left: 0; background: #fff; z-index: 2; }
#grades thead th:first-child { background: #f4f4f4; z-index: 3; }
#grades td:first-child { max-width: 16rem; overflow: hidden; text-overflow: ellipsis; }
td.full { background: #e6f4ea; }
td.partial { background: #fff4d6; }
td.zero { background: #fde7e7; }
td.review:not(:empty) { background: #fde7e7; }
footer { margin-top: 2rem; color: #555; font-size: 0.9rem; }
</style>
</head>
<body>
<h1>{{ rubric.title }}</h1>
<p id="overview">{{ rows | length }} submissions graded with rubric <code>{{ rubric.id }}</code>.
{%- if rows %} Mean score {{ mean }} / {{ max_score }}, median {{ median }}.{% endif %}</p>
<ul id="status-counts">
{%- for status, count in counts %}
<li title="{{ meanings[status] }}"><code>{{ status }}</code> <strong>{{ count }}</strong></li>
{%- endfor %}
</ul>
<section id="needs-attention">
<h2>Needs attention ({{ attention | length }})</h2>
{%- if attention %}
<ul>
{%- for item in attention %}
<li><a href="{{ item.feedback }}">{{ item.name }}</a> {{ item.score }} / {{ max_score }}, <code>{{ item.status }}</code>
<ul class="reasons">
{%- for reason in item.reasons %}<li class="reason">{{ reason }}</li>{% endfor %}
</ul></li>
{%- endfor %}
</ul>
{%- else %}
<p>Nothing: every submission has full marks, status <code>ok</code> and no tampering suspected.</p>
{%- endif %}
</section>
{%- if board %}
<section id="leaderboard">
<h2>Leaderboard (top {{ board.top }})</h2>
<table>
<thead><tr><th>rank</th><th>pseudonym</th>
{%- for c in board.columns %}<th>{{ c.name }} ({{ "higher" if c.order == "desc" else "lower" }} is better)</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in standings %}
<tr><td>{{ row.rank }}</td><td>{{ row.pseudonym }}</td>{% for v in row.shown %}<td>{{ v }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody>
</table>
</section>
{%- endif %}
<h2>Scores</h2>
<div class="plots">
<figure id="score-histogram"><img alt="Histogram of scores" src="{{ histogram }}">
<figcaption>Scores out of {{ max_score }}</figcaption></figure>
<figure id="pass-rates"><img alt="Share of submissions with full points, per criterion" src="{{ pass_rates }}">
<figcaption>Share of submissions with full points, per criterion</figcaption></figure>
</div>
<div class="table-box">
<table id="grades" class="sortable">
<thead><tr>
{%- for heading, title, kind in headings %}<th class="{{ kind }}" title="{{ title }}"><button type="button">{{ heading }}</button></th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows -%}
<tr><td><a href="{{ row.feedback }}">{{ row.name }}</a></td><td class="score">{{ row.score }}</td>
<td class="status" title="{{ row.reason }}">{{ row.status }}</td><td class="review">{{ row.review }}</td>
<td class="accuracy">{{ row.accuracy }}</td><td class="accuracy">{{ row.reference }}</td>
{%- for cell in row.cells %}<td class="{{ cell.kind }}">{{ cell.points }}</td>{% endfor %}</tr>
{% endfor -%}
</tbody>
</table>
</div>
<footer id="about">Generated {{ generated }} by lightning-grader {{ grader_version }}, rubric <code>{{ rubric.id }}</code>
(SHA-256 <code>{{ rubric_hash }}</code>). Data: {{ data_source }}.</footer>
<script>{{ script }}</script>
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


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def needs_attention(result: GradeResult) -> list[str]:
    """Why a TA should look at this submission; empty when nothing calls for it."""
    reasons = []
    if result.status != "ok":
        reasons.append(
            f"{result.status}: {plain_text(result.status_reason) or STATUS_MEANING[result.status]}"
        )
    reasons += [f"tampering suspected: {plain_text(reason)}" for reason in result.tampering]
    if result.status == "ok" and result.score < result.max_score:  # a failed run's reason says why
        missed = [f"{c.id} {c.points:g} / {c.max_points:g}" for c in result.criteria if not c.passed]
        reasons.append("below full marks: " + ", ".join(missed))
    return reasons


def rubric_hash(rubric: Rubric) -> str:
    """The rubric as its file says it: the threads a batch gives each run depend on the machine."""
    return hashlib.sha256(rubric.model_dump_json(exclude={"limits": {"threads"}}).encode()).hexdigest()[:16]


def data_source(rubric: Rubric, out: Path) -> str:
    """The digits, as the rubric and the batch's folder tell them (results do not name the pool)."""
    data = rubric.data
    name = "MNIST" if data.dataset == "mnist" else f"MNIST rotated up to ±{data.max_rotation_degrees:g}°"
    text = (
        f"{name}, {data.train_size} training, {data.val_size} validation and {data.test_size} "
        f"held-out digits, seed {data.seed}"
    )
    if (out / SECRET_FILE).is_file():
        text += "; held-out digits perturbed with this batch's secret"
    return text


def _standings(results: list[GradeResult], rubric: Rubric, out: Path) -> list[dict]:
    board = rubric.leaderboard
    if board is None:
        return []
    shown = []
    for standing in leaderboard.standings(results, board, batch_secret(out)):
        cells = [
            _percent(v) if c.value == "accuracy" else number(v)
            for c, v in zip(board.columns, standing.values, strict=True)
        ]
        shown.append({"rank": standing.rank, "pseudonym": standing.pseudonym, "shown": cells})
    return shown


def summary_html(results: list[GradeResult], rubric: Rubric, out: Path) -> str:
    ordered = sorted(results, key=lambda r: r.submission)
    source = data_source(rubric, out)  # before the leaderboard may draw the secret
    rows, attention = [], []
    for result in ordered:
        points = {c.id: c.points for c in result.criteria}
        feedback = f"feedback/{quote(file_stem(result.submission))}.html"
        rows.append(
            {
                "name": result.submission,
                "feedback": feedback,
                "score": number(result.score),
                "status": result.status,
                "reason": result.status_reason or STATUS_MEANING[result.status],
                "review": "tampering suspected" if result.tampering else "",
                "accuracy": _percent(result.accuracy),
                "reference": _percent(result.reference_accuracy),
                "cells": [
                    {"points": number(points.get(c.id, 0.0)), "kind": _kind(points.get(c.id, 0.0), c.points)}
                    for c in rubric.criteria
                ],
            }
        )
        if reasons := needs_attention(result):
            attention.append(
                {
                    "name": result.submission,
                    "feedback": feedback,
                    "score": number(result.score),
                    "status": result.status,
                    "reasons": reasons,
                    "order": (result.status == "ok" and not result.tampering, result.score),
                }
            )
    attention.sort(key=lambda item: item["order"])  # failed runs and suspected tampering first
    headings = [
        ("submission", "The submission's name; its link opens the feedback", "name"),
        ("score", f"Points out of {number(rubric.max_score)}", "score"),
        ("status", "How the run ended; hover a cell for why", "status"),
        (
            "review",
            "Tampering suspected: what the run reported disagrees with what the grader measured",
            "review",
        ),
        ("accuracy", "Held-out accuracy the grader measured", "accuracy"),
        ("reference", "The reference solution's held-out accuracy under the same budget", "accuracy"),
        *((f"{c.id} ({number(c.points)})", c.description, "criterion") for c in rubric.criteria),
    ]
    scores = [r.score for r in ordered]
    histogram, pass_rates = _plots(ordered, rubric)
    return _template.render(
        csp=Markup(CSP),  # the grader's own constant, quotes as the policy needs them
        script=Markup(SORT_SCRIPT),  # the hashed text, byte for byte
        rubric=rubric,
        rows=rows,
        headings=headings,
        counts=[(s, n) for s in STATUS_MEANING if (n := sum(r.status == s for r in ordered))],
        meanings=STATUS_MEANING,
        attention=attention,
        board=rubric.leaderboard,
        standings=_standings(ordered, rubric, out),
        max_score=number(rubric.max_score),
        mean=number(round(statistics.fmean(scores), 1)) if scores else "",
        median=number(statistics.median(scores)) if scores else "",
        histogram=histogram,
        pass_rates=pass_rates,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        grader_version=grader_version(),
        rubric_hash=rubric_hash(rubric),
        data_source=source,
    )


def write_summary(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.html").write_text(summary_html(results, rubric, out), encoding="utf-8")
