"""Report formats (issue 5): each against its published shape, and all agreeing with the CSV."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from grader.host.publish import FORMATS, FormatName, publish_batch
from grader.host.publish.classroom import write_classroom
from grader.host.publish.feedback import HIDDEN_MESSAGE, feedback_markdown, write_feedback
from grader.host.publish.feedback_html import write_feedback_html
from grader.host.publish.github_actions import neutralise
from grader.host.publish.gradebook import write_csv
from grader.host.publish.gradescope import write_gradescope
from grader.host.publish.result_files import write_results
from grader.host.results import CriterionResult, GradeResult, Timings
from grader.rubric import load_rubric
from grader.rubric.models import Rubric
from tests.conftest import PROJECT, read_csv

SECRET = "SECRET-accuracy-detail"
HIDDEN = "accuracy-vs-reference"
INJECTIONS = (
    "::add-mask::hunter2\n  ::stop-commands::resume-token\n##[set-output name=score;]100\n"
    "\r::warning::carriage\n\u2028::error::separator\n\x1b[31m::notice::coloured\x1b[0m\x00\n"
    "\u200b::group::zero-width\n"
)
EVIL_NAME = "<img src=x onerror=alert(1)>"
CLASSROOM_TEST_KEYS = {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility", "output_format"}


# --- test data ---------------------------------------------------------------------------


@pytest.fixture
def rubric() -> Rubric:
    """m14 with its accuracy criterion hidden from students."""
    hidden = load_rubric("m14").model_copy(deep=True)
    next(c for c in hidden.criteria if c.id == HIDDEN).hidden = True
    return hidden


def graded(rubric: Rubric, name: str, points: list[float], status: str = "ok", **extra) -> GradeResult:
    messages = extra.pop("messages", {})
    criteria = [
        CriterionResult(
            id=c.id,
            points=p,
            max_points=c.points,
            message=messages.get(c.id, f"{c.id}: {'done' if p >= c.points else 'missed'}"),
            description=c.description,
            hint=c.hint,
            hidden=c.hidden,
        )
        for c, p in zip(rubric.criteria, points, strict=True)
    ]
    return GradeResult(
        submission=name,
        rubric=rubric.id,
        score=round(sum(points), 2),
        max_score=rubric.max_score,
        status=status,
        criteria=criteria,
        timings=Timings(total_seconds=42.4),
        **extra,
    )


@pytest.fixture
def results(rubric: Rubric) -> list[GradeResult]:
    full = [c.points for c in rubric.criteria]
    return [
        graded(rubric, "alice", full),
        graded(
            rubric,
            "bob",
            [10, 7.5, 10, 0, 5, 10, 3.33, 0, 0, 10, 6.67],
            messages={HIDDEN: f"{SECRET}: 0.71 of the reference", "validation-step": INJECTIONS},
        ),
        graded(
            rubric,
            EVIL_NAME,
            [10, 0, 10, 0, 0, 0, 0, 0, 0, 10, 0],
            "crashed",
            status_reason='training_step raised "><script>alert(2)</script>',
            stdout=INJECTIONS,
            stderr="Traceback \x1b[1m(most recent call last)\x00",
            messages={"training-step": "your code printed:\n" + INJECTIONS},
        ),
        graded(rubric, "empty_folder", [0] * len(full), "rejected", status_reason="no Python source"),
    ]


# --- what a consumer does with each format ------------------------------------------------


def reporter_points(encoded: str) -> tuple[float, float] | None:
    """autograding-grading-reporter's arithmetic: decode, sum tests[].score; nothing at max 0."""
    payload = json.loads(base64.b64decode(encoded).decode("utf-8"))
    if not payload["max_score"]:
        return None
    return sum(test["score"] for test in payload["tests"]), payload["max_score"]


def runner_would_run_a_command(text: str) -> bool:
    """The Actions runner: a line is a command when it starts with `::` after leading
    whitespace, or holds `##[` anywhere. It splits lines at \\r and \\n."""
    return any(line.lstrip().startswith("::") or "##[" in line for line in re.split(r"\r\n|\r|\n", text))


class Page(HTMLParser):
    """Tags, link targets and the table of a page, as text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_formats_agree_with_csv(out: Path, results: list[GradeResult], rubric: Rubric) -> None:
    """Every submission's score is the CSV's in Classroom, Gradescope, JUnit and the HTML."""
    publish_batch(["classroom", "gradescope", "junit"], results, rubric, out)
    csv = read_csv(out / "grades.csv")
    assert set(csv) == {r.submission for r in results}
    suites = {s.get("name"): s for s in ET.parse(out / "junit.xml").getroot().iter("testsuite")}
    table = {row[0]: row for row in Page((out / "summary.html").read_text()).rows[1:]}
    for name, row in csv.items():
        score, max_score = float(row["score"]), float(row["max_score"])
        stem = out / "classroom" / name if len(results) > 1 else out / "classroom"
        total, reported_max = reporter_points(Path(f"{stem}.b64").read_text().strip())
        assert round(total, 2) == score and reported_max == max_score, name
        gradescope = out / "gradescope" / f"{name}.json" if len(results) > 1 else out / "results.json"
        assert json.loads(gradescope.read_text())["score"] == score, name
        properties = {p.get("name"): p.get("value") for p in suites[name].find("properties")}
        assert float(properties["score"]) == score and float(properties["max_score"]) == max_score
        case_points = [
            float(p.get("value")) for p in suites[name].iter("property") if p.get("name") == "points"
        ]
        assert round(sum(case_points), 2) == score
        assert float(table[name][1]) == score and table[name][2] == row["status"]
        assert table[name][3] == row["review"]
        criteria = [c.id for c in rubric.criteria]
        assert [float(v) for v in table[name][6:]] == [float(row[c]) for c in criteria]


# --- registry -----------------------------------------------------------------------------


def test_one_registry_names_every_writer_and_writes_each_once(tmp_path, rubric, results) -> None:
    assert set(FORMATS) == {
        "json", "feedback", "feedback_html", "csv", "classroom", "classroom50", "ctrf", "gradescope", "html",
        "junit", "lms",
    }  # fmt: skip
    assert [f.value for f in FormatName] == ["junit", "gradescope", "classroom", "classroom50", "ctrf"]
    assert publish_batch(["junit", "junit"], results, rubric, tmp_path) == ["html", "lms", "junit"]
    # No roster, no LMS export: `lms` writes nothing.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "summary.html"]
    with pytest.raises(ValueError, match="unknown format pdf"):
        publish_batch(["pdf"], results, rubric, tmp_path)


def test_a_submission_name_that_leaves_its_folder_is_refused(tmp_path, rubric, results) -> None:
    sneaky = results[1].model_copy(update={"submission": "../escape"})
    with pytest.raises(ValueError, match="not a plain file name"):
        write_gradescope([results[0], sneaky], rubric, tmp_path)
    assert not (tmp_path / "escape.json").exists()


# --- GitHub Classroom ---------------------------------------------------------------------


def test_classroom_payload_has_the_reporter_shape_field_by_field(tmp_path, rubric, results) -> None:
    write_classroom(results, rubric, tmp_path)
    for result in results:
        payload = json.loads((tmp_path / "classroom" / f"{result.submission}.json").read_text())
        encoded = (tmp_path / "classroom" / f"{result.submission}.b64").read_text().strip()
        assert json.loads(base64.b64decode(encoded)) == payload
        assert set(payload) == {"version", "status", "max_score", "tests"}
        assert payload["version"] == 1
        assert payload["max_score"] == rubric.max_score > 0
        assert [t["name"] for t in payload["tests"]] == [c.id for c in rubric.criteria]
        for test, criterion in zip(payload["tests"], result.criteria, strict=True):
            assert set(test) == CLASSROOM_TEST_KEYS
            assert test["status"] == ("pass" if criterion.passed else "fail")
            assert type(test["score"]) in (int, float) and test["score"] == criterion.points
            assert all(isinstance(test[k], str) for k in ("name", "message", "test_code", "filename"))
            assert type(test["line_no"]) is int and type(test["duration"]) in (int, float)
    statuses = {
        r.submission: json.loads((tmp_path / "classroom" / f"{r.submission}.json").read_text())["status"]
        for r in results
    }
    assert statuses == {"alice": "pass", "bob": "fail", EVIL_NAME: "fail", "empty_folder": "error"}


def test_classroom_reporter_computes_the_csv_points(tmp_path, rubric, results) -> None:
    write_csv(results, rubric, tmp_path)
    write_classroom(results, rubric, tmp_path)
    for name, row in read_csv(tmp_path / "grades.csv").items():
        total, max_score = reporter_points((tmp_path / "classroom" / f"{name}.b64").read_text())
        assert (round(total, 2), max_score) == (float(row["score"]), float(row["max_score"]))


def test_one_result_gives_top_level_files(tmp_path, rubric, results) -> None:
    write_classroom(results[1:2], rubric, tmp_path)
    write_gradescope(results[1:2], rubric, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classroom.b64", "classroom.json", "results.json"]
    assert reporter_points((tmp_path / "classroom.b64").read_text())[0] == pytest.approx(results[1].score)


def test_students_never_see_hidden_messages(tmp_path, rubric, results) -> None:
    write_classroom(results, rubric, tmp_path)
    write_gradescope(results, rubric, tmp_path)
    classroom = json.loads((tmp_path / "classroom" / "bob.json").read_text())
    hidden = next(t for t in classroom["tests"] if t["name"] == HIDDEN)
    assert hidden["message"] == HIDDEN_MESSAGE and hidden["test_code"] == ""
    assert hidden["score"] == 6.67
    assert SECRET not in (tmp_path / "classroom" / "bob.json").read_text()
    gradescope = json.loads((tmp_path / "gradescope" / "bob.json").read_text())
    visibility = {t["name"]: t["visibility"] for t in gradescope["tests"]}
    assert visibility.pop(HIDDEN) == "after_published"
    assert set(visibility.values()) == {"visible"}


def test_classroom_text_cannot_run_workflow_commands(tmp_path, rubric, results) -> None:
    write_classroom(results, rubric, tmp_path)
    for path in (tmp_path / "classroom").glob("*.json"):
        for test in json.loads(path.read_text())["tests"]:
            for key in ("name", "message", "test_code"):
                assert not runner_would_run_a_command(test[key]), (path.name, key, test[key])
    bob = json.loads((tmp_path / "classroom" / "bob.json").read_text())
    assert "add-mask" in next(t["message"] for t in bob["tests"] if t["name"] == "validation-step")


@pytest.mark.parametrize(
    "text",
    [
        "::add-mask::secret",
        "   \t::stop-commands::token",
        "fine\n::set-output name=x::1",
        "fine\r::notice::x",
        "\u2028::error::x",
        "\u3000::warning::x",
        "see ##[set-output name=a;]b",
        "###[x",
    ],
)
def test_neutralise_leaves_no_workflow_command(text: str) -> None:
    assert runner_would_run_a_command(text)
    assert not runner_would_run_a_command(neutralise(text))


def test_neutralise_drops_invisible_characters_that_could_hide_a_command() -> None:
    # Not commands for today's runner, but nothing should hang on what a terminal hides.
    assert neutralise("\x1b[0m::debug::x\n\u200b::group::y\x00") == ": :debug::x\n: :group::y"


def test_neutralise_keeps_ordinary_text() -> None:
    text = "std::vector and a: b\n  indented line\nlast"
    assert neutralise(text) == text


def run_classroom_entry(out: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "grader.host.publish.action", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, cwd=PROJECT)


def action_env(tmp_path: Path) -> dict[str, str]:
    return {"GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}


def read_output(path: Path) -> dict[str, str]:
    """Every `name<<delimiter` output in the file; nothing else may be in it."""
    text = path.read_text()
    blocks = re.findall(r"([\w-]+)<<(ghadelimiter_[0-9a-f]{32})\n([^\n]*)\n\2\n", text)
    assert "".join(f"{n}<<{d}\n{v}\n{d}\n" for n, d, v in blocks) == text, text
    return {name: value for name, _, value in blocks}


def rubric_file(rubric: Rubric, tmp_path: Path) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(rubric.model_dump(mode="json")))
    return path


def test_action_entry_point_sets_the_output_and_the_summary(tmp_path, rubric, results) -> None:
    out = tmp_path / "out"
    bob = results[1]
    write_results([bob], rubric, out)
    log = tmp_path / "grade.log"
    log.write_text("Grading bob\n" + INJECTIONS)
    env = action_env(tmp_path)
    completed = run_classroom_entry(
        out, "--rubric", str(rubric_file(rubric, tmp_path)), "--log", str(log), env=env
    )
    assert completed.returncode == 0 and completed.stderr == "", completed.stderr
    assert "Grading bob" in completed.stdout and "add-mask" in completed.stdout
    # The grader's own annotations aside (tests/test_action.py), the log holds no command.
    lines = re.split(r"\r\n|\r|\n", completed.stdout)  # as the runner splits them
    log = [line for line in lines if not line.startswith(("::error ", "::warning "))]
    assert not runner_would_run_a_command("\n".join(log) + completed.stderr)
    encoded = read_output(tmp_path / "output")["result"]
    assert json.loads(base64.b64decode(encoded)) == json.loads((out / "classroom.json").read_text())
    assert reporter_points(encoded) == (pytest.approx(bob.score), rubric.max_score)
    summary = (tmp_path / "summary.md").read_text()
    assert "| | Criterion | Points | What the grader found |" in summary
    assert "| ✅ | `lightning-module` | 10 / 10 |" in summary
    assert "| ❌ | `training-step` | 7.5 / 15 |" in summary
    assert SECRET not in summary and "instructor" in summary


def test_action_entry_point_reports_an_error_when_grading_produced_nothing(tmp_path, rubric) -> None:
    completed = run_classroom_entry(
        tmp_path / "empty", "--rubric", str(rubric_file(rubric, tmp_path)), env=action_env(tmp_path)
    )
    assert completed.returncode == 0, completed.stderr
    payload = json.loads(base64.b64decode(read_output(tmp_path / "output")["result"]))
    assert payload["status"] == "error" and payload["max_score"] == rubric.max_score
    assert {t["score"] for t in payload["tests"]} == {0}
    assert len(payload["tests"]) == len(rubric.criteria)


# --- Gradescope ---------------------------------------------------------------------------


def test_gradescope_results_follow_the_specification(tmp_path, rubric, results) -> None:
    write_gradescope(results, rubric, tmp_path)
    assert sorted(p.name for p in (tmp_path / "gradescope").iterdir()) == sorted(
        f"{r.submission}.json" for r in results
    )
    assert not (tmp_path / "results.json").exists()
    for result in results:
        data = json.loads((tmp_path / "gradescope" / f"{result.submission}.json").read_text())
        assert set(data) == {"score", "execution_time", "output", "output_format", "tests"}
        assert data["score"] == result.score
        assert data["execution_time"] == 42
        assert isinstance(data["output"], str) and result.status in data["output"]
        assert len(data["tests"]) == len(rubric.criteria)
        for test, criterion in zip(data["tests"], result.criteria, strict=True):
            assert set(test) == GRADESCOPE_TEST_KEYS
            assert test["name"] == criterion.id
            assert (test["score"], test["max_score"]) == (criterion.points, criterion.max_points)
            assert test["status"] == ("passed" if test["score"] >= test["max_score"] else "failed")
            assert isinstance(test["output"], str) and test["output"]
            assert test["visibility"] in ("visible", "after_published")


# --- JUnit --------------------------------------------------------------------------------


def test_junit_has_a_suite_per_submission_and_a_case_per_criterion(tmp_path, rubric, results) -> None:
    publish_batch(["junit"], results, rubric, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == sorted(r.submission for r in results)
    by_name = {r.submission: r for r in results}
    failures = 0
    for suite in suites:
        result = by_name[suite.get("name")]
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == [c.id for c in rubric.criteria]
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert suite.get("errors") == "0" and float(suite.get("time")) == pytest.approx(42.4)
        properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert properties == {
            "rubric": "m14",
            "score": f"{result.score:g}",
            "max_score": "100",
            "status": result.status,
        }
        for case, criterion in zip(cases, result.criteria, strict=True):
            assert case.get("classname") == result.submission
            points = {p.get("name"): float(p.get("value")) for p in case.find("properties")}
            assert points == {"points": criterion.points, "max_points": criterion.max_points}
            failure = case.find("failure")
            assert (failure is None) == criterion.passed
            if failure is not None:
                assert failure.get("message") == re.sub("[\x00\x1b]", "", criterion.message)
                assert failure.get("type") in ("partial", "missed")
        failures += int(suite.get("failures"))
    assert int(root.get("tests")) == len(results) * len(rubric.criteria)
    assert int(root.get("failures")) == failures
    evil = next(s for s in suites if s.get("name") == EVIL_NAME)
    assert "hunter2" in evil.find("system-out").text and "\x00" not in evil.find("system-err").text
    assert SECRET in (tmp_path / "junit.xml").read_text()  # instructor-facing: hidden shown


# --- HTML summary -------------------------------------------------------------------------


def svg_of(src: str) -> str:
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix) :]).decode("utf-8")


def test_summary_escapes_student_text_and_embeds_its_plots(tmp_path, rubric, results) -> None:
    publish_batch([], results, rubric, tmp_path)
    text = (tmp_path / "summary.html").read_text()
    page = Page(text)
    assert {name for name, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "code", "strong", "div",
        "section", "ul", "li", "figure", "img", "figcaption", "table", "thead", "tbody", "tr", "th",
        "td", "button", "a", "footer", "script",
    }  # fmt: skip
    assert len(page.all("script")) == 1  # the sorting, allowed by its hash
    csp = next(m["content"] for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&lt;script&gt;" in text
    histogram, pass_rates = (svg_of(img["src"]) for img in page.all("img"))
    assert "submissions" in histogram
    assert all(c.id in pass_rates for c in rubric.criteria)
    links = [a["href"] for a in page.all("a")]
    table_links = sorted(
        f"feedback/{n}.html"
        for n in ("alice", "bob", "empty_folder", "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E")
    )
    assert links[-len(table_links) :] == table_links and set(links) == set(table_links)
    header, *rows = page.rows
    assert header[:6] == ["submission", "score", "status", "review", "accuracy", "reference"]
    assert len(header) == 6 + len(rubric.criteria)
    assert [row[0] for row in rows] == sorted(r.submission for r in results)
    assert SECRET not in text  # messages are not part of the page


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


# Headless, offline and quiet: no GPU, no updates, no first-run pages.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def run_browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [*HEADLESS_FLAGS, f"--user-data-dir={profile}", "--window-size=1600,1200"]
    command = [chromium(), *flags, *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_summary_shows_plots_and_table_in_a_browser(tmp_path, rubric, results) -> None:
    out = tmp_path / "out"
    for result in results:
        write_feedback([result], rubric, out)
        write_feedback_html([result], rubric, out)
    publish_batch([], results, rubric, out)
    page = out / "summary.html"

    dom = run_browser(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    rendered = Page(dom.stdout)
    assert len(rendered.all("script")) == 1  # the sorting, allowed by its hash
    images = [svg_of(img["src"]) for img in rendered.all("img")]
    assert len(images) == 2 and all("<svg" in image for image in images)
    assert len(rendered.rows) == 1 + len(results)
    for link in rendered.all("a"):
        assert (out / unquote(link["href"])).is_file()

    shot = tmp_path / "summary.png"
    taken = run_browser(page, tmp_path / "profile", f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.is_file(), taken.stderr
    from matplotlib.image import imread

    pixels = (imread(shot)[..., :3] * 255).round()

    def count(colour: str) -> int:
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        return int((abs(pixels - rgb).max(axis=-1) <= 8).sum())

    assert count("#1f77b4") > 1000, "the histogram's bars are not on screen"
    assert count("#2ca02c") > 1000, "the pass-rate bars are not on screen"


# --- all formats together -----------------------------------------------------------------


def test_every_format_agrees_with_the_csv(tmp_path, rubric, results) -> None:
    write_csv(results, rubric, tmp_path)
    assert_formats_agree_with_csv(tmp_path, results, rubric)


# --- student text is data ------------------------------------------------------------------

HOSTILE_TEXT = (
    "[/] [bold red]x[/] \x1b]52;c;ZXZpbA==\x07\x1b]0;owned\x07\x1b[2J\x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\"
    "\n::set-output name=x::1\nScore: 100 / 100\x9b31m"
)


def test_student_text_reaches_no_terminal_or_log_as_anything_but_text(tmp_path, rubric) -> None:
    from rich.console import Console

    from grader.host.cli import summary_table

    result = graded(
        rubric,
        "-cmd|calc",
        [0] * len(rubric.criteria),
        status="crashed",
        graded_class=HOSTILE_TEXT,
        stdout=HOSTILE_TEXT,
        messages={"training-step": HOSTILE_TEXT},
    )
    console = Console(record=True, width=200, force_terminal=True)
    console.print(summary_table([result]))  # a class named "[/]" used to raise MarkupError
    shown = console.export_text()
    assert "[/] [bold red]x[/]" in shown and "\x1b]" not in shown and "\x9b" not in shown

    feedback = feedback_markdown(result, rubric)
    assert "\x1b" not in feedback and "\x07" not in feedback and "\x9b" not in feedback
    # No fake score line; the student's own output is shown fenced, as their output.
    before_output = feedback.split("## Your program's")[0]
    assert [line for line in before_output.splitlines() if line.startswith("Score:")] == []
    assert "\n::set-output" not in feedback and ": :set-output" in feedback

    write_csv([result], rubric, tmp_path)
    assert read_csv(tmp_path / "grades.csv")["'-cmd|calc"]["status"] == "crashed"


def test_gradescope_shows_text_and_hides_the_points_of_hidden_criteria(tmp_path, rubric) -> None:
    points = [c.points for c in rubric.criteria]
    result = graded(rubric, "alice", points, messages={"training-step": "<script>x</script>\x1b[31m"})
    payload = json.loads(
        (write_gradescope([result], rubric, tmp_path), tmp_path / "results.json")[1].read_text()
    )
    assert payload["output_format"] == "text"
    assert all(test["output_format"] == "text" for test in payload["tests"])
    visible = sum(c.points for c in rubric.criteria if not c.hidden)
    assert (
        payload["output"]
        .splitlines()[0]
        .endswith(
            f"{visible:g} / {visible:g} on the criteria shown now; the others count once grades are published"
        )
    )
    assert payload["score"] == result.score  # the total still matches the CSV
    assert "\x1b" not in json.dumps(payload["tests"])
