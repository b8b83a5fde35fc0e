"""Student text is inert in every format (issue 21): it shows as text, never as a link, an
image, HTML or a command.

The feedback Markdown and the job summary are rendered with two real renderers: GitHub's
own (cmark-gfm, through `cmarkgfm`, raw HTML kept as GitHub's sanitiser would see it) and
markdown-it's GFM-like preset with linkify, which links more than GitHub does (`model.py`).
The rendered pages and `summary.html` are then opened in headless Chromium, with every
request to `evil.example` sent to a listener on 127.0.0.1: a live image or a script that
ran would reach it. The hostile sample `markdown_injection.py` is graded on the process and
docker sandboxes and its feedback rendered the same way.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from markdown_it import MarkdownIt

from grader.contract import Discovery, FitRecord, OptimizerProbe, Problem, RunReport, StepProbe
from grader.host.judge import import_notes
from grader.host.judge.scoring import Evidence, assess
from grader.host.judge.static_checks import CallSite, SourceFacts
from grader.host.judge.verdict import status_reason
from grader.host.publish import markdown, publish_batch
from grader.host.publish.classroom import classroom_payload
from grader.host.publish.common import plain_text
from grader.host.publish.feedback import feedback_markdown, self_check_markdown
from grader.host.publish.gradescope import gradescope_results
from grader.host.publish.result_files import write_results
from grader.host.results import GradeResult, Timings
from grader.rubric import Rubric
from grader.sandbox import Sandbox
from tests import test_hostile
from tests.test_formats import (
    action_env,
    chromium,
    read_output,
    run_browser,
    run_classroom_entry,
    runner_would_run_a_command,
)
from tests.test_hostile import STATIC, Graders, assert_clean, opened_sandbox

# test_hostile's module-scoped fixtures, reused (`sandbox` is this module's own, below).
canaries, graders, rubric, short_rubric, splits = (
    test_hostile.canaries,
    test_hostile.graders,
    test_hostile.rubric,
    test_hostile.short_rubric,
    test_hostile.splits,
)

EVIL = "evil.example"
# What a student's exception message tries: a backtick to close the span it is quoted in,
# then a remote image, a link, raw HTML, an autolink, bare URLs, an entity, a reference
# link, a footnote, a workflow command.
PAYLOAD = (
    f"a` ![x](https://{EVIL}/a.png) [click](https://{EVIL}) <img src=x onerror=alert(1)> "
    f"<https://{EVIL}/auto> https://{EVIL}/bare www.{EVIL} mallory@{EVIL} &lt;b&gt; &#60;i&#62; "
    "[ref][r] [^note] ::error::owned"
)
KIND = f"Injected`<img src=https://{EVIL}/kind.png>"
CLASS = f"Model`![c](https://{EVIL}/c.png)"
LOCATION = "lab`![l](x.png).py:3"
METRICS = [f"m`![m](https://{EVIL}/m.png)", f"<img src=https://{EVIL}/metric.png>", f"[n](https://{EVIL}/n)"]
OUTPUT = f"```\n![out](https://{EVIL}/out.png)\n<script>alert(1)</script>\n``````\n<b>bold</b>\n"
SUBMISSION = "eve`<img src=x onerror=alert(1)>[s](javascript:alert(1))"

# Elements the grader's own Markdown renders to; any other one came from student text.
GRADER_ELEMENTS = {
    "h1", "h2", "h3", "p", "strong", "code", "pre", "table", "thead", "tbody", "tr", "th", "td",
    "ul", "li", "blockquote",
}  # fmt: skip
# The only attributes those carry: a code block's language.
GRADER_ATTRIBUTES = {"class", "lang"}


# --- what a reader sees ---------------------------------------------------------------------

GITHUB = "GitHub (cmark-gfm)"
MARKDOWN_IT = "markdown-it, GFM-like with linkify"
_markdown_it = MarkdownIt("gfm-like")


def rendered(text: str) -> dict[str, str]:
    """`text` rendered by each renderer, raw HTML passed through as written."""
    return {
        GITHUB: cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE),
        MARKDOWN_IT: _markdown_it.render(text),
    }


class Elements(HTMLParser):
    """The elements of rendered HTML, with their attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.codes: list[str] = []
        self._text: list[str] = []
        self._code: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "code":
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._code is not None:
            self.codes.append("".join(self._code))
            self._code = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._code is not None:
            self._code.append(data)

    @property
    def text(self) -> str:
        return "".join(self._text)

    def foreign(self) -> list[str]:
        """Elements and attributes that the grader's Markdown never makes."""
        found = [f"<{tag}>" for tag, _ in self.elements if tag not in GRADER_ELEMENTS]
        found += [
            f"<{tag} {name}>"
            for tag, attrs in self.elements
            for name in attrs
            if name not in GRADER_ATTRIBUTES
        ]
        return found


def assert_inert(text: str) -> dict[str, Elements]:
    """Rendered by each renderer, `text` makes only the grader's own elements."""
    pages = {name: Elements(html) for name, html in rendered(text).items()}
    for name, page in pages.items():
        assert page.foreign() == [], f"{name}: {page.foreign()} in\n{text}"
        assert EVIL not in " ".join(str(attrs) for _, attrs in page.elements), name
    return pages


def shown_text(markdown_text: str) -> str:
    """What a reader of the rendered Markdown sees (GitHub's rendering), spaces collapsed."""
    return " ".join(Elements(rendered(markdown_text)[GITHUB]).text.split())


def inline_text(markdown_text: str) -> dict[str, str]:
    """The text a renderer shows for one line of Markdown, by renderer."""
    return {name: page.text.strip() for name, page in assert_inert(markdown_text).items()}


# --- code spans ---------------------------------------------------------------------------

CODE_TEXTS = [
    *("x" + "`" * n + "y" for n in range(1, 8)),  # every backtick-run length inside
    *("`" * n + "start" for n in range(1, 4)),
    *("end" + "`" * n for n in range(1, 4)),
    "`",
    "``",
    " padded ",
    " `both` ",
    "a | b",
    "back\\slash\\",
    f"{PAYLOAD} ``` `` ` {PAYLOAD}",
]


@pytest.mark.parametrize("text", CODE_TEXTS)
def test_a_code_span_shows_its_text_and_nothing_closes_it(text: str) -> None:
    line = f"before {markdown.code(text)} after"
    for name, page in assert_inert(line).items():
        assert page.codes == [text], name
        assert page.text.strip() == f"before {text} after", name


@pytest.mark.parametrize("text", CODE_TEXTS)
def test_a_code_span_in_a_table_cell_keeps_its_cell(text: str) -> None:
    table = f"| a | b |\n|---|---|\n| {markdown.code(text, cell=True)} | after |\n"
    for name, page in assert_inert(table).items():
        cells = [tag for tag, _ in page.elements if tag == "td"]
        assert len(cells) == 2 and page.codes == [text], name


def test_a_code_span_is_one_line_and_drops_what_could_join_two_backtick_runs() -> None:
    # An escape sequence between two backticks: dropped after the fence was chosen, it would
    # make "``", which closes a fence of two.
    text = "a`\x1b[0m`b\n<script>x</script>"
    span = markdown.code(text)
    assert "\n" not in span
    for name, page in assert_inert(f"x {span} y").items():
        assert page.codes == ["a``b <script>x</script>"], name


# --- prose --------------------------------------------------------------------------------

PROSE = [
    f"![x](https://{EVIL}/a.png)",
    f"[click](https://{EVIL})",
    f"[ref][r]\n\n[r]: https://{EVIL}/ref",
    f"<https://{EVIL}/auto> <mallory@{EVIL}>",
    f"https://{EVIL}/bare http://{EVIL} //{EVIL}/relative ftp://{EVIL}",
    f"www.{EVIL} WWW.{EVIL.upper()} mallory@{EVIL} mailto:mallory@{EVIL} xmpp:mallory@{EVIL}",
    "model.py:12 see (lab.ipynb), torch.nn.Module пример.рф evil\uff0eexample",
    "<img src=x onerror=alert(1)> <script>alert(1)</script> <b>bold</b> <!-- c --> <?php x ?>",
    "&lt;b&gt; &#60;i&#62; &amp; &copy; &#x3C;",
    "*em* **strong** _u_ ~~strike~~ $x^2$ `code` ``two``",
    "# heading",
    "- item",
    "+ item",
    "1. item",
    "2) item",
    "> quote",
    "=== setext",
    "```fence",
    "~~~fence",
    "| not | a | table |",
    "[^note] [ ] [x] task",
    "back\\slash \\* \\",
    "::error::owned ##[set-output name=x;]1 \x1b[31mred\x1b[0m \x1b]8;;https://evil\x07link",
    "Held-out accuracy 97.5%, e.g. 3.5 i.e. 10 / 10",
]


@pytest.mark.parametrize("text", PROSE)
def test_prose_renders_as_its_own_characters(text: str) -> None:
    for name, shown in inline_text(f"{markdown.inert(text)}").items():
        assert shown == markdown.one_line(plain_text(text)), name


@pytest.mark.parametrize("text", PROSE)
def test_prose_after_a_list_marker_or_a_quote_stays_in_it(text: str) -> None:
    document = f"- {markdown.inert(text)}\n\n> {markdown.inert(text)}\n"
    for name, page in assert_inert(document).items():
        assert [tag for tag, _ in page.elements if tag in ("li", "blockquote")] == ["li", "blockquote"], name


def test_only_words_a_renderer_would_link_become_code() -> None:
    assert markdown.inert("Held-out accuracy 97.5%, e.g. 3.5 i.e. 10 / 10") == (
        "Held-out accuracy 97.5%, e.g. 3.5 i.e. 10 / 10"
    )
    assert markdown.inert("(see model.py:12).") == "(see `model.py:12`)."


# --- grader messages ----------------------------------------------------------------------


def test_a_message_keeps_its_code_spans_and_its_prose() -> None:
    message = '`validation_step` runs but logs `loss`, not `val_loss`: add `self.log("val_loss", loss)`.'
    for name, page in assert_inert(markdown.render(message)).items():
        assert page.codes == ["validation_step", "loss", "val_loss", 'self.log("val_loss", loss)'], name
        shown = page.text.strip()
        assert shown == 'validation_step runs but logs loss, not val_loss: add self.log("val_loss", loss).', (
            name
        )


def test_a_value_quoted_with_code_shows_exactly() -> None:
    """What scoring.py's messages become once they quote student values with `code`."""
    message = f"`training_step` raised {markdown.code(f'{KIND}: {PAYLOAD}')} at {LOCATION}."
    for cell in (False, True):
        line = markdown.render(message, cell=cell)
        text = line if not cell else f"| header |\n|---|\n| {line} |\n"
        for name, page in assert_inert(text).items():
            shown = page.text.strip().removeprefix("header").strip()
            assert shown == f"training_step raised {KIND}: {PAYLOAD} at {LOCATION}.", name
            assert f"{KIND}: {PAYLOAD}" in page.codes, name


@pytest.mark.parametrize("count", range(1, 8))
def test_a_value_quoted_with_single_backticks_cannot_escape_them(count: int) -> None:
    """Today's messages: a student backtick (any run) only moves the line between code and prose."""
    value = f"v{'`' * count}{PAYLOAD}"
    message = f"`training_step` raised `{value}` at {LOCATION}; see `fit-completes`."
    for cell in (False, True):
        line = markdown.render(message, cell=cell)
        assert "\n" not in line
        assert_inert(line if not cell else f"| a |\n|---|\n| {line} |\n")


# --- fenced output ------------------------------------------------------------------------


@pytest.mark.parametrize("longest", range(0, 9))
def test_fenced_output_cannot_close_its_block(longest: int) -> None:
    run = "`" * longest
    output = (
        f"{run}\n~~~\n{run}text\n[x](https://{EVIL})\n{run}\x1b[0m`\n<img src=x onerror=alert(1)>\n    {run}"
    )
    block = markdown.fenced(output)
    for name, page in assert_inert(block).items():
        assert [tag for tag, _ in page.elements] == ["pre", "code"], name
        assert page.codes == [plain_text(output) + "\n"], name


# --- a whole result, as the real scoring writes it ----------------------------------------


def hostile_result(rubric: Rubric, tmp_path: Path) -> GradeResult:
    """The grader's own scoring of a runner report (untrusted) whose every text is hostile."""
    # The student's traceback frames are theirs too: file and function names, and code.
    frames = [f"{LOCATION} in {PAYLOAD[:100]}", f"    {PAYLOAD[:150]}", "    ^^^", "```", "~~~ </pre>"]
    problem = Problem(kind=KIND, message=f"{KIND}: {PAYLOAD}", location=LOCATION, frames=frames)
    report = RunReport(
        stage="fitted",
        failed_code=[problem],
        discovery=Discovery(
            framework="lightning.pytorch",
            class_name=CLASS,
            file=LOCATION.rsplit(":", 1)[0],
            line=3,
            reason=f"it is the only one: {PAYLOAD}",
        ),
        adaptations=[f"moved to the CPU: {PAYLOAD}"],
        training_step=StepProbe(defined=True, problem=problem),
        validation_step=StepProbe(defined=True, ok=True, logged=METRICS),
        configure_optimizers=OptimizerProbe(ok=True, returned=f"[Adam](https://{EVIL}/opt)"),
        fit=FitRecord(problem=problem, logged_metrics=METRICS),
    )
    source = SourceFacts(
        calls={
            "ModelCheckpoint": [CallSite(LOCATION.rsplit(":", 1)[0], 9, METRICS[0])],
            "EarlyStopping": [CallSite(f"[e](https://{EVIL}).py", 4, None, reaches_trainer=False)],
        }
    )
    evidence = Evidence(
        report=report,
        stop_reason=None,
        source=source,
        checkpoint=None,
        accuracy=None,
        reference_accuracy=0.9,
        rubric=rubric,
    )
    criteria, causes = assess(rubric, evidence)
    return GradeResult(
        submission=SUBMISSION,
        rubric=rubric.id,
        score=round(sum(c.points for c in criteria), 2),
        max_score=rubric.max_score,
        status="crashed",
        status_reason=status_reason(None, report),
        graded_class=CLASS,
        framework="lightning.pytorch",
        criteria=criteria,
        causes=causes,
        notes=import_notes(report, tmp_path),
        tampering=[f"the report says {PAYLOAD}"],
        timings=Timings(total_seconds=1.0),
        stdout=OUTPUT,
        stderr=f"``\n[err](https://{EVIL}/err)\n",
    )


@pytest.fixture
def hostile(rubric: Rubric, tmp_path: Path) -> GradeResult:
    return hostile_result(rubric, tmp_path)


def test_the_hostile_result_carries_its_payloads_into_messages(hostile: GradeResult) -> None:
    """The test is about something: scoring quotes the payloads where the student reads them."""
    texts = [hostile.status_reason, *hostile.notes, *(c.message for c in hostile.criteria)]
    assert sum(PAYLOAD in text for text in texts) >= 3
    assert any(PAYLOAD in cause.error and cause.frames for cause in hostile.causes)
    assert any(METRICS[0] in text for text in texts) and any(CLASS in text for text in texts)
    assert any(f"[Adam](https://{EVIL}/opt)" in text for text in texts)  # quoted as prose


def test_feedback_renders_student_text_as_text_only(hostile: GradeResult, rubric: Rubric) -> None:
    feedback = feedback_markdown(hostile, rubric)
    assert not runner_would_run_a_command(feedback.split("## Your program's")[0])
    for name, page in assert_inert(feedback).items():
        shown = page.text
        # Everything is there, as text.
        assert f"![x](https://{EVIL}/a.png)" in shown and "<img src=x onerror=alert(1)>" in shown, name
        assert SUBMISSION in shown and CLASS in shown, name
        assert OUTPUT.strip() in shown, name
        assert f"{LOCATION} in {PAYLOAD[:100]}" in shown, name  # the frames, as text
        assert len([tag for tag, _ in page.elements if tag == "tr"]) == 1 + len(rubric.criteria), name


def test_the_self_check_screen_shows_no_link(hostile: GradeResult, tmp_path: Path) -> None:
    from rich.console import Console
    from rich.markdown import Markdown

    text = self_check_markdown(hostile, tmp_path / "feedback" / "eve.md")
    assert_inert(text)
    screen = io.StringIO()
    Console(file=screen, force_terminal=True, width=160).print(Markdown(text))
    assert "\x1b]8;" not in screen.getvalue()  # no terminal hyperlink (OSC 8)
    assert f"https://{EVIL}/kind.png" in screen.getvalue()  # the text itself is shown


def test_job_summary_and_log_of_the_action_are_inert(hostile: GradeResult, rubric: Rubric, tmp_path) -> None:
    out = tmp_path / "out"
    write_results([hostile], rubric, out)
    log = tmp_path / "grade.log"
    log.write_text(f"::error::owned\n{OUTPUT}{PAYLOAD}\n")
    completed = run_classroom_entry(out, "--rubric", "m14", "--log", str(log), env=action_env(tmp_path))
    assert completed.returncode == 0, completed.stderr
    # No line of the job log is a workflow command (`::error::` would be one) but the grader's own
    # annotations, one per criterion below full points, whose texts are escaped (tests/test_action.py).
    lines = re.split(r"\r\n|\r|\n", completed.stdout)  # as the runner splits them
    annotations = [line for line in lines if re.match(r"::(error|warning) title=[^:]*::", line)]
    assert len(annotations) == len([c for c in hostile.criteria if not c.passed])
    log = [line for line in lines if line not in annotations]
    assert not runner_would_run_a_command("\n".join(log) + completed.stderr)
    summary = (tmp_path / "summary.md").read_text()
    for name, page in assert_inert(summary).items():
        assert f"![x](https://{EVIL}/a.png)" in page.text, name
        assert "<img src=x onerror=alert(1)>" in page.text, name
        assert len([tag for tag, _ in page.elements if tag == "tr"]) == 1 + len(hostile.criteria), name
    payload = json.loads(base64.b64decode(read_output(tmp_path / "output")["result"]))
    assert payload == classroom_payload(hostile)
    assert not any(runner_would_run_a_command(test["message"]) for test in payload["tests"])


def test_plain_text_formats_keep_student_text_as_text(hostile: GradeResult, rubric: Rubric, tmp_path) -> None:
    gradescope = gradescope_results(hostile, rubric)
    assert gradescope["output_format"] == "text"
    assert {test["output_format"] for test in gradescope["tests"]} == {"text"}
    publish_batch(["junit"], [hostile], rubric, tmp_path)
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("name") == SUBMISSION  # XML-escaped on the way in, intact on the way out
    assert any(
        PAYLOAD in (case.find("failure").get("message")) for case in suite if case.find("failure") is not None
    )


# --- in a browser -------------------------------------------------------------------------


class Listener:
    """Every connection Chromium opens to `evil.example`, which it resolves to 127.0.0.1 here."""

    CONTROL = b"GET /control.png "

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            first = b""
            with connection:
                connection.settimeout(2)
                try:
                    first = connection.recv(4096)  # a TLS hello for https: its path cannot be read
                    connection.sendall(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                except OSError:
                    pass  # the request was attempted all the same
            self.requests.append(first)

    def others(self) -> list[bytes]:
        """Requests besides the page's own control image."""
        return [r[:60] for r in self.requests if not r.startswith(self.CONTROL)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def open_in_browser(page: Path, listener: Listener, tmp_path: Path) -> Elements:
    """The page's DOM after it loaded, with `evil.example` resolved to the listener."""
    rules = (
        f"--host-resolver-rules=MAP {EVIL} 127.0.0.1:{listener.port}, MAP *.{EVIL} 127.0.0.1:{listener.port}"
    )
    dom = run_browser(page, tmp_path / "profile", rules, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    return Elements(dom.stdout)


CONTROL = f'<img id="control" src="http://{EVIL}/control.png">'


def test_rendered_feedback_and_summary_load_nothing_in_a_browser(hostile, rubric, listener, tmp_path) -> None:
    chromium()
    out = tmp_path / "out"
    write_results([hostile], rubric, out)
    texts = [feedback_markdown(hostile, rubric), self_check_markdown(hostile, out / "x.md")]
    completed = run_classroom_entry(out, "--rubric", "m14", env=action_env(tmp_path))
    assert completed.returncode == 0, completed.stderr
    texts.append((tmp_path / "summary.md").read_text())
    bodies = [html for text in texts for html in rendered(text).values()]
    page = tmp_path / "rendered.html"
    # No CSP here: only what the Markdown is keeps the payloads inert. The control image shows
    # that a live one would reach the listener.
    page.write_text(f"<!doctype html><html><body>{CONTROL}{''.join(bodies)}</body></html>")
    dom = open_in_browser(page, listener, tmp_path)
    assert [attrs.get("id") for tag, attrs in dom.elements if tag == "img"] == ["control"]
    assert {tag for tag, _ in dom.elements} <= GRADER_ELEMENTS | {"html", "head", "body", "img"}
    assert listener.requests, "the control image never reached the listener"
    assert listener.others() == []


def test_summary_html_runs_no_script_and_requests_nothing(rubric, listener, tmp_path) -> None:
    chromium()
    result = hostile_result(rubric, tmp_path).model_copy(
        update={"status_reason": f'"><script>fetch("http://{EVIL}/script")</script>{PAYLOAD}'}
    )
    honest = result.model_copy(update={"submission": "alice"})
    evil_names = [
        f"<img src=http:{EVIL} onerror=fetch('http:{EVIL}')>",
        f'"><svg onload=fetch("http:{EVIL}")>',
        SUBMISSION,
    ]
    results = [honest, *(result.model_copy(update={"submission": name}) for name in evil_names)]
    publish_batch([], results, rubric, tmp_path)
    written = (tmp_path / "summary.html").read_text()
    assert "default-src 'none'" in written and "base-uri 'none'" in written
    # As written, and without its CSP (escaping alone), with the control image in the copy.
    without_csp = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", written)
    assert without_csp != written
    copy = tmp_path / "summary-without-csp.html"
    copy.write_text(without_csp.replace("<body>", f"<body>{CONTROL}", 1))
    for page in (tmp_path / "summary.html", copy):
        dom = open_in_browser(page, listener, tmp_path)
        assert not [tag for tag, _ in dom.elements if tag in ("svg", "iframe", "base", "form")]
        assert [tag for tag, _ in dom.elements].count("script") == 1  # the sorting, allowed by its hash
        images = [attrs for tag, attrs in dom.elements if tag == "img"]
        assert all(
            a.get("src", "").startswith("data:image/svg+xml") or a.get("id") == "control" for a in images
        )
        assert not [name for _, attrs in dom.elements for name in attrs if name.startswith("on")]
        rows = [cells for tag, cells in dom.elements if tag == "tr"]
        assert len(rows) == 1 + len(results)
    assert listener.requests, "the control image never reached the listener"
    assert listener.others() == []


# --- the hostile sample through the real pipeline -----------------------------------------


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("process", marks=pytest.mark.process),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """test_hostile's sandboxes, but `user`: a new sample is graded on these two."""
    return opened_sandbox(request.param)


def test_markdown_injection_sample_renders_as_text(graders: Graders) -> None:
    graded = graders.grade("markdown_injection.py")
    result = graded.result
    assert result.status == "crashed", result.status_reason
    # The honest parts earn their points: the class, the optimizer, the callbacks in the
    # source, and half of `validation-step` (it logs its own names, not `val_loss`).
    points = {c.id: c.points for c in result.criteria}
    full = {"lightning-module", "configure-optimizers"} | STATIC
    half = {"validation-step"}
    for criterion in graders.rubric.criteria:
        expected = (
            criterion.points if criterion.id in full else criterion.points / 2 if criterion.id in half else 0
        )
        assert points[criterion.id] == expected, criterion.id
    # Every channel carried its payload to the grader...
    assert EVIL in result.graded_class and "`" in result.graded_class
    messages = {c.id: c.message for c in result.criteria}
    assert f"![x](https://{EVIL}/a.png)" in messages["training-step"]
    assert f"m`![m](https://{EVIL}/m.png)" in messages["validation-step"]
    assert any(EVIL in note for note in result.notes)
    assert (
        f"![out](https://{EVIL}/out.png)" in result.stdout and f"[err](https://{EVIL}/err)" in result.stderr
    )
    # ...and the feedback shows each as text, with no link, image or HTML of the student's.
    for name, page in assert_inert(graded.feedback).items():
        assert f"![x](https://{EVIL}/a.png)" in page.text and "<img src=x onerror=alert(1)>" in page.text, (
            name
        )
        assert result.graded_class in page.text, name
    assert_clean(graded)
