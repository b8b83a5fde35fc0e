"""Red-team findings on the LMS round trip and the reports, as fast tests on the real modules.

A test that passes guards a hole that is closed. A strict `xfail` shows a hole that is still
open, with what breaks and what should happen: it fails the suite the day the hole closes, so
that its mark is removed and it guards the fix from then on.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import zipfile
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from grader.host.cli import ci_variable
from grader.host.lms.download import read_download
from grader.host.lms.roster import read_roster
from grader.host.publish import markdown
from grader.host.publish.feedback_html import feedback_html
from grader.host.publish.lms import save_roster, scaling_note, write_lms
from grader.host.results import CriterionResult, GradeResult, Student, Timings
from grader.rubric import load_rubric

RUBRIC = load_rubric("m14")
AUTOGRADER = Path(__file__).resolve().parent.parent / "examples" / "classroom50" / "autograder.py"
RENDERER = MarkdownIt("commonmark", {"html": False}).enable("table")
LIVE = re.compile(r"<(a|img)\b")


def _result(name: str, message: str = "", student: Student | None = None, score: float = 70) -> GradeResult:
    criteria = [
        CriterionResult(id=c.id, points=0.0 if i == 0 else c.points, max_points=c.points, message=message)
        for i, c in enumerate(RUBRIC.criteria)
    ]
    return GradeResult(
        submission=name,
        rubric=RUBRIC.id,
        student=student,
        score=score,
        max_score=RUBRIC.max_score,
        status="ok",
        criteria=criteria,
        timings=Timings(total_seconds=1.0),
    )


# --- Markdown: two code spans side by side ---------------------------------------------------

# Each came out of a real run: the first as the exception `training_step` raised, the second as
# a metric name `validation_step` logged. A code span's closing fence ran into the next span's
# opening one, and the link after them was live in feedback/<name>.html and the job summary.
ADJACENT_SPANS = [
    "`training_step` raised `ValueError: [Grader error - open the full log](https://evil.example/p)`` `@` "
    "at model.py:16.",
    "`validation_step` runs but logs `` `@`[logged](https://evil.example/m)``, not `val_loss`.",
    "`a`/`X@'```.![a](https://evil.example/i.png)>=",
]


@pytest.mark.parametrize("message", ADJACENT_SPANS)
@pytest.mark.parametrize("cell", [False, True])
def test_adjacent_code_spans_leave_no_link_or_image(message: str, cell: bool) -> None:
    line = markdown.render(message, cell=cell)
    html = RENDERER.render(f"| a |\n|---|\n| {line} |" if cell else line)
    assert not LIVE.search(html), html


def test_feedback_page_has_no_student_link() -> None:
    page = feedback_html(_result("mallory", ADJACENT_SPANS[0]), RUBRIC)
    assert "evil.example" in page  # shown, as text
    assert not re.search(r"<a href=\"https?://", page)


# --- Downloads -------------------------------------------------------------------------------


def test_moodle_zip_of_one_student_is_read_as_moodle(tmp_path: Path) -> None:
    archive = tmp_path / "M14-submissions.zip"
    with zipfile.ZipFile(archive, "w") as handle:  # Eve named her files as Canvas names Jane's
        handle.writestr("Eve Attacker_777_assignsubmission_file_/doejane_123_456_model.py", "x = 1\n")
    download = read_download(archive)
    try:
        assert download.layout == "moodle"
        assert [s.student.name for s in download.submissions if s.student] == ["Eve Attacker"]
    finally:
        download.close()


def test_github_login_with_a_hyphen_is_kept(tmp_path: Path) -> None:
    """The assignment comes from `gh classroom clone`'s `<assignment>-submissions` folder; a lone clone
    elsewhere is graded as its folder, never cut into a login it may not be."""
    for parent in ("hw1-submissions", "elsewhere"):
        clone = tmp_path / parent / "hw1-jane-doe"
        clone.mkdir(parents=True)
        (clone / "model.py").write_text("x = 1\n")
    download = read_download(tmp_path / "hw1-submissions")
    assert download.layout == "github"
    assert [s.name for s in download.submissions] == ["jane-doe"]
    assert [s.name for s in read_download(tmp_path / "elsewhere").submissions] == ["hw1-jane-doe"]


def test_brightspace_students_of_one_name_are_both_graded(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html></html>")
    (tmp_path / "1001-2001 - Wang, Wei- Jan 5, 2026 1015 AM - model.py").write_text("a = 1\n")
    (tmp_path / "1002-2002 - Wang, Wei- Jan 6, 2026 1015 AM - model.py").write_text("b = 2\n")
    download = read_download(tmp_path)
    try:
        assert len(download.submissions) == 2 or any("same name" in w for w in download.warnings)
    finally:
        download.close()


def test_long_file_name_in_a_download_does_not_stop_the_batch(tmp_path: Path) -> None:
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("doejane_123_456_model.py", "x = 1\n")
        handle.writestr("eveevil_999_888_" + "模" * 90 + ".py", "x = 1\n")
    download = read_download(archive)
    try:
        assert "doejane_123" in [s.name for s in download.submissions]
    finally:
        download.close()


# --- Rosters and exports ---------------------------------------------------------------------


def test_a_student_named_points_possible_stays_rostered(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,M14 Lightning (4821)\n"
        "    Points Possible,,,,,100.00\n"
        '"Doe, Jane",101,S001,jane,A,\n'
        '"Points Possible, Eve",102,S002,eve,A,\n'
    )
    assert [s.lms_id for s in read_roster(path).students] == ["101", "102"]


def test_canvas_row_without_an_id_is_listed_as_not_exported(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("name,username\nAda Lovelace,ada\nAlan Turing,\n")
    out = tmp_path / "out"
    save_roster(read_roster(path), out)
    alan = Student(key="Alan_Turing", platform="plain", name="Alan Turing")
    write_lms([_result("Alan_Turing", student=alan)], RUBRIC, out)
    with (out / "lms" / "unmatched.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert any(r["kind"] == "not exported" and "canvas" in r["reason"] for r in rows)


def test_the_points_possible_row_is_that_cell_exactly_with_no_id(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,M14 Lightning (4821)\n"
        '"Points Possible, Eve",102,S002,eve,A,\n'  # first: not the points row, though it comes early
        "    Points Possible,,,,,10.00\n"
        "Points Possible,103,S003,pp,A,\n"  # a student of that very name: Canvas gave them an ID
    )
    roster = read_roster(path)
    assert [s.lms_id for s in roster.students] == ["102", "103"]
    assert [i.points for i in roster.items] == [10.0]


CANVAS_TEN_POINTS = (
    "Student,ID,SIS User ID,SIS Login ID,Section,M14 Lightning (4821)\n"
    "    Points Possible,,,,,10.00\n"
    '"Doe, Jane",101,S001,jane,A,\n'
)


def test_scores_are_scaled_to_the_columns_points(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(CANVAS_TEN_POINTS)
    out = tmp_path / "out"
    save_roster(read_roster(path), out)
    jane = Student(key="Doe_Jane_101", platform="canvas", name="Doe, Jane", ids={"user_id": "101"})
    write_lms([_result("Doe_Jane_101", student=jane, score=0.85 * RUBRIC.max_score)], RUBRIC, out)
    with (out / "lms" / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][0].strip() == "Points Possible" and rows[1][5] == "10"
    assert rows[2][:2] == ["Doe, Jane", "101"] and rows[2][5] == "8.5"
    note = scaling_note(out, RUBRIC)
    assert note and "worth 10 points" in note and "8.5" in note


def test_a_submission_without_a_student_is_listed_with_its_own_ids(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(CANVAS_TEN_POINTS)
    out = tmp_path / "out"
    save_roster(read_roster(path), out)
    stranger = Student(key="Roe_Rick_555", platform="canvas", name="Roe, Rick", ids={"user_id": "555"})
    write_lms([_result("Roe_Rick_555", student=stranger)], RUBRIC, out)
    with (out / "lms" / "unmatched.csv").open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] == "no student"]
    assert [(r["submission"], r["name"], r["lms_id"]) for r in rows] == [("Roe_Rick_555", "Roe, Rick", "555")]


def test_a_semicolon_does_not_start_a_formula_cell(tmp_path: Path) -> None:
    """A spreadsheet of a locale whose list separator is `;` splits there: a quoted first value
    stays whole, and a later one's `;` is followed by no formula's start."""
    path = tmp_path / "roster.csv"
    path.write_text(
        "name,username,email,student_id\nEve;=HYPERLINK(1),eve,eve@uni.edu,S9\nAda; +SUM(1),ada,ada@uni.edu,\n"
    )
    out = tmp_path / "out"
    save_roster(read_roster(path), out)
    eve = Student(key="eve", platform="plain", name="Eve;=HYPERLINK(1)")
    ada = Student(key="ada", platform="plain")  # no student_id: listed as not exported, by name
    write_lms([_result("eve", student=eve), _result("ada", student=ada), _result("bob;@2")], RUBRIC, out)
    exports = sorted((out / "lms").glob("*.csv"))
    assert [p.name for p in exports] == [
        "blackboard.csv",
        "brightspace.csv",
        "canvas.csv",
        "moodle.csv",
        "unmatched.csv",
    ]
    for export in exports:
        with export.open(newline="", encoding="utf-8") as handle:
            cells = [c for row in csv.reader(handle, delimiter=";") for c in row]
        assert not [c for c in cells if c.lstrip().startswith(("=", "+", "-", "@"))], export.name
    with (out / "lms" / "unmatched.csv").open(newline="", encoding="utf-8") as handle:
        names = {r["name"] for r in csv.DictReader(handle) if r["kind"] == "not exported"}
    assert names == {"Ada; '+SUM(1)"}


# --- --self-check in CI ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "found"),
    [({"CI": "true"}, "CI"), ({"GITHUB_ACTIONS": "true"}, "GITHUB_ACTIONS"), ({"HOME": "/h"}, None)],
)
def test_self_check_knows_a_ci_runner(environ: dict[str, str], found: str | None) -> None:
    """In CI, `--self-check` refuses as a batch does where no sandbox works (cli.open_backend)."""
    assert ci_variable(environ) == found


def test_classroom50_outputs_replace_a_committed_symlink(tmp_path: Path, monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("autograder", AUTOGRADER)
    autograder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(autograder)
    secret = tmp_path / "runner-file"
    secret.write_text("the runner's\n")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "result.json").symlink_to(secret)
    (checkout / "release-body.md").mkdir()
    monkeypatch.chdir(checkout)
    autograder.write_own("result.json", b"{}\n")
    autograder.write_own("release-body.md", b"# M14\n")
    assert secret.read_text() == "the runner's\n"
    assert not (checkout / "result.json").is_symlink()
    assert (checkout / "result.json").read_bytes() == b"{}\n"
    assert (checkout / "release-body.md").read_bytes() == b"# M14\n"
