"""`feedback/<submission>.html`: a submission's feedback as a page, for the class report's links.

The page is `feedback.md` rendered by markdown-it (CommonMark and tables, raw HTML off), so
it says exactly what the student reads. Student text is inert three times over: `markdown`
wrote it as text, the renderer escapes any HTML, and the page's Content-Security-Policy
allows no script, no request, no `<base>` and no form. It is one file, readable offline.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from markdown_it import MarkdownIt
from markupsafe import Markup

from grader.host.publish.common import file_stem
from grader.host.publish.feedback import feedback_markdown
from grader.host.results import GradeResult
from grader.rubric.models import Rubric

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<title>{{ rubric.title }}: feedback for {{ submission }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
code { background: #f3f3f3; padding: 0 0.2em; overflow-wrap: anywhere; }
pre { background: #f6f6f6; padding: 0.75rem; overflow: auto; }
td:nth-child(-n+3) { white-space: nowrap; }
blockquote { margin-left: 0; padding-left: 1rem; border-left: 4px solid #ddd; }
</style>
</head>
<body>
<p><a href="../summary.html">Class report</a></p>
{{ body }}
</body>
</html>
"""

_environment = Environment(autoescape=True, keep_trailing_newline=True)
_template = _environment.from_string(TEMPLATE)
# What the feedback's Markdown uses; raw HTML stays text, and nothing is linked by itself.
_renderer = MarkdownIt("commonmark", {"html": False}).enable("table")


def feedback_html_file(out: Path, submission: str) -> Path:
    return out / "feedback" / f"{file_stem(submission)}.html"


def feedback_html(result: GradeResult, rubric: Rubric) -> str:
    body = Markup(_renderer.render(feedback_markdown(result, rubric)))  # markdown-it escaped it
    return _template.render(rubric=rubric, submission=result.submission, body=body)


def write_feedback_html(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    for result in results:
        path = feedback_html_file(out, result.submission)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_html(result, rubric), encoding="utf-8")
