"""The class report (issue 22): what needs attention, sorting, layout, the leaderboard, and
student text that never runs, checked in headless Chromium.

The browser is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ended by NUL on file descriptors 3 and 4), so a test clicks a heading with real mouse
events and reads the page as the TA's browser shows it. The class is the session's graded
samples, with hostile copies whose name and reasons would set `window.owned` and the page's
title if any of them ran as script.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import select
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from grader.host.prepare.data import SECRET_FILE
from grader.host.publish import FORMATS, publish_batch, read_results
from grader.host.publish.feedback_html import write_feedback_html
from grader.host.results import GradeResult
from grader.rubric import RubricError, load_rubric
from grader.rubric.models import Rubric
from tests.conftest import PROJECT
from tests.expected import EXPECTED
from tests.test_formats import HEADLESS_FLAGS, chromium

# Each would set the marker if it ran: a script element, an event handler, a `javascript:` link.
RUN = "window.owned=1;document.title='owned'"
# A submission name is a file name: no slash, so no closing tag.
HOSTILE_NAME = f'<img src=x onerror="{RUN}">[x](javascript:{RUN})<script>{RUN}'
HOSTILE_REASON = f'"><script>{RUN}</script><img src=x onerror={RUN}> <a href="javascript:{RUN}">fix</a>'
TAMPERED = "tampered<svg onload=window.owned=1>"
COURSE = load_rubric("m14").title
TITLE = f"{COURSE}: grades"


# --- a browser on a pipe --------------------------------------------------------------------


class Browser:
    """Headless Chromium, one page, spoken to over the DevTools protocol."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1000) -> None:
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def on_descriptors_3_and_4() -> None:
            # Above 4 first, so that neither end lands on the other's place; dup2 to a new
            # number leaves it open across exec.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write)]
            for wanted, fd in zip((3, 4), high, strict=True):
                os.dup2(fd, wanted)
                os.close(fd)

        flags = [
            *HEADLESS_FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self._process = subprocess.Popen(
            [chromium(), *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=on_descriptors_3_and_4,
            close_fds=False,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer, self._last = b"", 0
        self._session: str | None = None
        self.size = (width, height)

    def _reply(self, timeout: float = 60) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._replies], [], [], timeout)
            assert ready, "the browser did not answer"
            chunk = os.read(self._replies, 1 << 16)
            assert chunk, "the browser closed its pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, *, browser: bool = False, **params) -> dict:
        reply = self.ask(method, browser=browser, **params)
        assert "error" not in reply, (method, reply["error"])
        return reply["result"]

    def ask(self, method: str, *, browser: bool = False, **params) -> dict:
        """The whole reply, an error included (a page being replaced answers with one)."""
        self._last += 1
        message: dict = {"id": self._last, "method": method, "params": params}
        if not browser:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._reply()
            if reply.get("id") == self._last:
                return reply

    def open(self, page: Path) -> None:
        if self._session is None:
            target = self.send("Target.createTarget", browser=True, url="about:blank")["targetId"]
            attached = self.send("Target.attachToTarget", browser=True, targetId=target, flatten=True)
            self._session = attached["sessionId"]
            width, height = self.size
            self.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        self.send("Page.navigate", url=page.as_uri())
        self.wait_for(page)

    def wait_for(self, page: Path) -> None:
        """Until `page` is the one shown, loaded."""
        for _ in range(600):
            reply = self.ask(
                "Runtime.evaluate", expression="[location.href, document.readyState]", returnByValue=True
            )
            found = reply.get("result", {}).get("result", {}).get("value")
            if found and found[1] == "complete" and Path(unquote(urlparse(found[0]).path)) == page:
                return
            time.sleep(0.05)
        pytest.fail(f"{page} did not load")

    def evaluate(self, expression: str):
        found = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in found, found["exceptionDetails"]
        return found["result"].get("value")

    def click(self, selector: str) -> None:
        """A real left click in the middle of the element's first line, scrolled into view first."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
            " const r = e.getClientRects()[0]; return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def ran_student_text(self) -> list:
        return self.evaluate("[typeof window.owned, document.title]")

    def close(self) -> None:
        self._process.kill()
        self._process.wait(timeout=30)
        os.close(self._commands)
        os.close(self._replies)


@pytest.fixture
def browser(tmp_path: Path):
    chromium()
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


# --- the class ------------------------------------------------------------------------------


def hostile_class(graded_samples: Path) -> list[GradeResult]:
    """The graded samples, a hostile crash and a full-marks run with suspected tampering."""
    results = list(read_results(graded_samples).values())
    assert {r.submission for r in results} == set(EXPECTED)
    correct = next(r for r in results if r.submission == "correct_lightning")
    crashed = correct.model_copy(
        update={
            "submission": HOSTILE_NAME,
            "status": "crashed",
            "status_reason": HOSTILE_REASON,
            "score": 40.0,
        }
    )
    tampered = correct.model_copy(update={"submission": TAMPERED, "tampering": [HOSTILE_REASON]})
    return [*results, crashed, tampered]


def publish_class(results: list[GradeResult], rubric: Rubric, out: Path) -> Path:
    for result in results:
        write_feedback_html([result], rubric, out)
    publish_batch([], results, rubric, out)
    return out / "summary.html"


@pytest.fixture
def class_report(graded_samples: Path, tmp_path: Path) -> tuple[Path, list[GradeResult]]:
    results = hostile_class(graded_samples)
    return publish_class(results, load_rubric("m14"), tmp_path / "out"), results


def column(browser: Browser, index: int) -> list[str]:
    return browser.evaluate(
        f"Array.from(document.querySelectorAll('#grades tbody tr'), r => r.cells[{index}].textContent.trim())"
    )


def heading_index(browser: Browser, heading: str) -> int:
    headings = browser.evaluate(
        "Array.from(document.querySelectorAll('#grades thead th'), h => h.textContent)"
    )
    return headings.index(heading)


# --- what needs attention -----------------------------------------------------------------


def test_the_report_opens_with_counts_and_exactly_what_needs_attention(class_report, browser) -> None:
    page, results = class_report
    browser.open(page)
    # From the table of expected grades, not from the results: below full marks or not `ok`.
    expected = {name for name, (points, status) in EXPECTED.items() if sum(points) < 100 or status != "ok"}
    assert len(expected) == 6
    expected |= {HOSTILE_NAME, TAMPERED}
    items = browser.evaluate(
        "Array.from(document.querySelectorAll('#needs-attention > ul > li'), li => ({"
        " name: li.querySelector('a').textContent, href: li.querySelector('a').href,"
        " reasons: Array.from(li.querySelectorAll('.reason'), r => r.textContent) }))"
    )
    by_name = {item["name"]: item for item in items}
    assert set(by_name) == expected and len(items) == len(expected)
    assert browser.evaluate("document.querySelector('#needs-attention h2').textContent") == (
        f"Needs attention ({len(expected)})"
    )
    # Each reason inline, as text: the hostile ones exactly as the student wrote them.
    assert by_name[HOSTILE_NAME]["reasons"] == [f"crashed: {HOSTILE_REASON}"]
    assert by_name[TAMPERED]["reasons"] == [f"tampering suspected: {HOSTILE_REASON}"]
    shown = {r.submission: r for r in results}
    for name in expected - {HOSTILE_NAME, TAMPERED}:
        result = shown[name]
        if result.status != "ok":
            assert by_name[name]["reasons"] == [f"{result.status}: {result.status_reason}"], name
        else:
            missed = [c.id for c in result.criteria if not c.passed]
            assert by_name[name]["reasons"][0].startswith("below full marks: "), name
            assert all(f"{criterion} " in by_name[name]["reasons"][0] for criterion in missed), name
    # Failed runs and suspected tampering first, then the lowest scores.
    failing = [shown[i["name"]].status != "ok" or bool(shown[i["name"]].tampering) for i in items]
    assert failing == sorted(failing, reverse=True) and failing.count(True) == 6
    passing = [shown[i["name"]].score for i in items if shown[i["name"]].status == "ok"][1:]  # TAMPERED: 100
    assert passing == sorted(passing)
    # Every link opens that student's feedback page, beside the report.
    for item in items:
        target = Path(unquote(urlparse(item["href"]).path))
        assert target.parent == page.parent / "feedback" and target.suffix == ".html", item
        assert target.is_file(), item
    counts = browser.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#status-counts li'),"
        " li => [li.querySelector('code').textContent, Number(li.querySelector('strong').textContent)]))"
    )
    assert counts == dict(Counter(status for _, status in EXPECTED.values()) + Counter(["crashed", "ok"]))
    assert browser.ran_student_text() == ["undefined", TITLE]
    # The table shows accuracy, the reference's and `review`, as the results say.
    review = column(browser, heading_index(browser, "review"))
    names = column(browser, 0)
    assert dict(zip(names, review, strict=True)) == {
        r.submission: "tampering suspected" if r.tampering else "" for r in results
    }
    accuracy = dict(zip(names, column(browser, heading_index(browser, "accuracy")), strict=True))
    reference = column(browser, heading_index(browser, "reference"))
    for result in results:
        assert accuracy[result.submission] == ("" if result.accuracy is None else f"{result.accuracy:.1%}")
    assert set(reference) == {f"{results[0].reference_accuracy:.1%}"}
    footer = browser.evaluate("document.querySelector('footer').textContent")
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC by lightning-grader \S+, rubric m14", footer)
    assert re.search(r"SHA-256 [0-9a-f]{16}", footer) and "Data: MNIST, 3000 training" in footer


def test_the_hostile_feedback_page_shows_its_text_and_runs_nothing(class_report, browser) -> None:
    page, _ = class_report
    browser.open(page)
    names = browser.evaluate(
        "Array.from(document.querySelectorAll('#needs-attention > ul > li > a'), a => a.textContent)"
    )
    link = f"#needs-attention > ul > li:nth-child({names.index(HOSTILE_NAME) + 1}) > a"
    feedback = Path(unquote(urlparse(browser.evaluate(f"document.querySelector('{link}').href")).path))
    browser.click(link)  # as the TA opens it
    browser.wait_for(feedback)
    heading = browser.evaluate("document.querySelector('h1').textContent")
    assert heading == f"{COURSE}: feedback for {HOSTILE_NAME}"
    assert HOSTILE_REASON in browser.evaluate("document.body.textContent")
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.querySelectorAll('img, svg, iframe, [onerror], [onload]').length") == 0
    links = browser.evaluate("Array.from(document.links, a => a.getAttribute('href'))")
    assert links == ["../summary.html"]
    assert browser.evaluate("typeof window.owned") == "undefined"


# --- sorting and layout -------------------------------------------------------------------


def _number(text: str) -> float:
    return float(text.rstrip("%"))


def test_clicking_a_heading_sorts_the_rows(class_report, browser) -> None:
    page, results = class_report
    browser.open(page)
    names = sorted(r.submission for r in results)
    assert column(browser, 0) == names  # name order until a click
    score = heading_index(browser, "score")
    browser.click(f"#grades thead th:nth-child({score + 1}) button")
    scores = [_number(s) for s in column(browser, score)]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    browser.click(f"#grades thead th:nth-child({score + 1}) button")
    assert [_number(s) for s in column(browser, score)] == sorted(scores, reverse=True)
    assert browser.evaluate(
        f"document.querySelector('#grades thead th:nth-child({score + 1})').ariaSort"
    ) == ("descending")
    # Numbers as numbers, blank cells (no accuracy) last.
    accuracy = heading_index(browser, "accuracy")
    browser.click(f"#grades thead th:nth-child({accuracy + 1}) button")
    shown = column(browser, accuracy)
    known = [_number(a) for a in shown if a]
    assert known == sorted(known) and shown[len(known) :] == [""] * (len(shown) - len(known))
    assert len(known) == sum(r.accuracy is not None for r in results)
    browser.click("#grades thead th:nth-child(1) button")
    assert column(browser, 0) == names
    browser.click("#grades thead th:nth-child(1) button")
    assert column(browser, 0) == names[::-1]
    assert browser.ran_student_text() == ["undefined", TITLE]


def test_the_table_fits_the_screen_and_keeps_the_names_in_view(class_report, browser) -> None:
    page, _ = class_report
    browser.open(page)
    overflow = browser.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page overflows a 1,400 px window"
    box = browser.evaluate(
        "(() => { const b = document.querySelector('.table-box'); b.scrollLeft = b.scrollWidth;"
        " return [b.scrollLeft, b.getBoundingClientRect().left]; })()"
    )
    name = browser.evaluate("document.querySelector('#grades tbody td').getBoundingClientRect().left")
    if box[0] > 0:  # the table scrolls inside its own box: the names stay at its left edge
        assert abs(name - box[1]) <= 2
    last = browser.evaluate(
        "(() => { const r = document.querySelector('#grades tbody td:last-child').getBoundingClientRect();"
        " return r.right; })()"
    )
    assert last <= 1400, "the last column cannot be brought into view"


# --- the content policy -------------------------------------------------------------------


def test_only_the_hashed_script_runs(class_report, browser, tmp_path) -> None:
    page, _ = class_report
    text = page.read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)[1]
    hashes = re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", policy)
    assert (
        "script-src 'sha256-" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "default-src 'none'" in policy and "base-uri 'none'" in policy and len(hashes) == 1
    browser.open(page)
    script = browser.evaluate("Array.from(document.scripts, s => s.textContent)")
    assert len(script) == 1 and "innerHTML" not in script[0] and "textContent" in script[0]
    assert base64.b64encode(hashlib.sha256(script[0].encode()).digest()).decode() == hashes[0]
    # A script anyone slipped in is blocked; the hashed one still sorts.
    copy = page.with_name("summary-injected.html")
    copy.write_text(text.replace("<body>", f"<body><script>{RUN}</script>", 1))
    browser.open(copy)
    assert browser.evaluate("document.scripts.length") == 2
    browser.click("#grades thead th:nth-child(2) button")
    assert browser.evaluate("document.querySelector('#grades thead th:nth-child(2)').ariaSort") == "ascending"
    assert browser.ran_student_text() == ["undefined", TITLE]


# --- the leaderboard ----------------------------------------------------------------------

LEADERBOARD = {
    "top": 5,
    "columns": [
        {"name": "Accuracy", "value": "accuracy"},
        {"name": "Fit seconds", "value": "fit_seconds", "order": "asc"},
    ],
}


@pytest.fixture
def leaderboard_rubric(tmp_path: Path) -> Rubric:
    """m14 with a leaderboard, as a course writes it in its rubric file."""
    raw = yaml.safe_load((PROJECT / "rubrics" / "m14.yaml").read_text())
    path = tmp_path / "m14-leaderboard.yaml"
    path.write_text(yaml.safe_dump({**raw, "leaderboard": LEADERBOARD}))
    return load_rubric(str(path))


def ranked(result: GradeResult) -> bool:
    return result.status == "ok" and not result.tampering


def test_gradescope_carries_the_leaderboard_as_its_specification_says(
    graded_samples: Path, leaderboard_rubric: Rubric, tmp_path: Path
) -> None:
    results = hostile_class(graded_samples)
    publish_batch(["gradescope"], results, leaderboard_rubric, tmp_path / "board")
    publish_batch(["gradescope"], results, load_rubric("m14"), tmp_path / "plain")
    for result in results:
        written = json.loads((tmp_path / "board" / "gradescope" / f"{result.submission}.json").read_text())
        plain = json.loads((tmp_path / "plain" / "gradescope" / f"{result.submission}.json").read_text())
        assert "leaderboard" not in plain
        if not ranked(result):
            assert "leaderboard" not in written, result.submission
            continue
        assert written["leaderboard"] == [
            {"name": "Accuracy", "value": result.accuracy, "order": "desc"},
            {"name": "Fit seconds", "value": result.timings.fit_seconds, "order": "asc"},
        ]
        assert {k: v for k, v in written.items() if k != "leaderboard"} == plain
    assert sum(ranked(r) for r in results) >= 20


def test_the_report_shows_the_top_rows_under_pseudonyms(
    graded_samples: Path, leaderboard_rubric: Rubric, tmp_path: Path, browser: Browser
) -> None:
    results = hostile_class(graded_samples)
    page = publish_class(results, leaderboard_rubric, tmp_path / "out")
    browser.open(page)
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('#leaderboard tbody tr'), r => Array.from(r.cells, c => c.textContent))"
    )
    best = sorted((r for r in results if ranked(r)), key=lambda r: (-r.accuracy, r.timings.fit_seconds))[:5]
    assert [row[2] for row in rows] == [f"{r.accuracy:.1%}" for r in best]
    assert [float(row[3]) for row in rows] == [r.timings.fit_seconds for r in best]
    assert [int(row[0]) for row in rows] == list(range(1, 6))  # no two equal on both columns here
    pseudonyms = [row[1] for row in rows]
    assert all(re.fullmatch(r"[a-z]+-[a-z]+-\d{3}", p) for p in pseudonyms) and len(set(pseudonyms)) == 5
    section = browser.evaluate("document.querySelector('#leaderboard').textContent")
    assert not [r.submission for r in results if r.submission in section]
    assert browser.ran_student_text() == ["undefined", TITLE]

    # The same every time the class is rebuilt; another batch's secret gives others.
    publish_batch([], results, leaderboard_rubric, tmp_path / "out")
    browser.open(page)
    again = browser.evaluate(
        "Array.from(document.querySelectorAll('#leaderboard tbody tr td:nth-child(2)'), c => c.textContent)"
    )
    assert again == pseudonyms
    other = tmp_path / "other"
    other.mkdir()
    (other / SECRET_FILE).write_text(f"{int((tmp_path / 'out' / SECRET_FILE).read_text()) + 1}\n")
    publish_batch([], results, leaderboard_rubric, other)
    assert not set(pseudonyms) & set(re.findall(r"[a-z]+-[a-z]+-\d{3}", (other / "summary.html").read_text()))


def test_no_leaderboard_unless_the_rubric_asks(tmp_path: Path) -> None:
    rubric = load_rubric("m14")
    assert rubric.leaderboard is None
    assert "leaderboard" not in rubric.model_dump(exclude_defaults=True)


@pytest.mark.parametrize(
    "board, problem",
    [
        ({"columns": []}, "at least 1"),
        ({"columns": [{"name": "A", "value": "accuracy"}, {"name": "A", "value": "score"}]}, "unique"),
        ({"columns": [{"name": "A", "value": "accuracy", "order": "up"}]}, "'asc' or 'desc'"),
        ({"columns": [{"name": "A", "value": "loss"}]}, "accuracy"),
        ({"columns": [{"name": "A", "value": "accuracy"}], "top": 0}, "greater than 0"),
    ],
)
def test_a_leaderboard_the_grader_cannot_rank_is_refused(board: dict, problem: str, tmp_path: Path) -> None:
    raw = yaml.safe_load((PROJECT / "rubrics" / "m14.yaml").read_text())
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**raw, "leaderboard": board}))
    with pytest.raises(RubricError, match="leaderboard") as refused:
        load_rubric(str(path))
    assert problem in str(refused.value)


def test_feedback_pages_are_an_each_format() -> None:
    assert FORMATS["feedback_html"].scope == "each" and FORMATS["feedback_html"].always
