"""The LMS round trip's far end (issue 22, item 3): rosters as each LMS exports them, matching
that never guesses, and each gradebook's import file in its documented format."""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import pytest

from grader.host.lms.matching import find, match
from grader.host.lms.roster import Roster, RosterError, RosterStudent, read_roster
from grader.host.publish import read_results
from grader.host.publish.common import number
from grader.host.publish.lms import save_roster, write_lms
from grader.host.results import GradeResult, Student
from grader.rubric import load_rubric
from tests.conftest import graded_copy, run_grade

# As Canvas's gradebook exporter writes it (with SIS ids): a custom column, two assignments, the
# totals, a `Manual Posting` row, the `Points Possible` row and the Student View account.
CANVAS_EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Notes,M14 Lightning (4821),Quiz 1 (4790),"
    "Current Points,Final Points,Current Score,Unposted Current Score,Final Score,Unposted Final Score\n"
    ",,,,,,Manual Posting,,,,,,,\n"
    "    Points Possible,,,,,(read only),100.00,5.00,(read only),(read only),(read only),(read only),"
    "(read only),(read only)\n"
    '"Lovelace, Ada",101,S001,ada,Section A,,,4.00,4.00,4.00,80.00,80.00,26.67,26.67\n'
    '"Turing, Alan",102,S002,alan,Section A,,,5.00,5.00,5.00,100.00,100.00,33.33,33.33\n'
    '"Hopper, Grace",103,S003,grace,Section B,,,3.00,3.00,3.00,60.00,60.00,20.00,20.00\n'
    '"Student, Test",999,,,Section A,,,,0.00,0.00,,,0.00,0.00\n'
)
# Moodle's Grades > Export > Plain text file, comma-separated.
MOODLE_EXPORT = (
    "First name,Last name,ID number,Institution,Department,Email address,Assignment: M14 (Real),"
    "Course total (Real),Last downloaded from this course\n"
    "Ada,Lovelace,S001,Uni,CS,ada@uni.edu,-,40.00,1714000000\n"
    "Alan,Turing,S002,Uni,CS,alan@uni.edu,-,50.00,1714000000\n"
    "Grace,Hopper,S003,Uni,CS,grace@uni.edu,-,30.00,1714000000\n"
)
# Blackboard's Work Offline > Download: tab-separated, every value quoted, UTF-16 with a BOM.
BLACKBOARD_EXPORT = (
    '"Last Name"\t"First Name"\t"Username"\t"Student ID"\t"Last Access"\t"Availability"\t'
    '"Weighted Total [Total Pts: up to 0 Percentage] |1001"\t"M14 [Total Pts: 100 Score] |1234"\n'
    '"Lovelace"\t"Ada"\t"ada"\t"S001"\t"2024-04-25 10:00:00"\t"Available"\t""\t""\n'
    '"Turing"\t"Alan"\t"alan"\t"S002"\t"2024-04-25 11:00:00"\t"Available"\t""\t""\n'
    '"Hopper"\t"Grace"\t"grace"\t"S003"\t"2024-04-25 12:00:00"\t"Available"\t""\t""\n'
)
# Brightspace's Grades > Export (key field Both, points grade, user details): ids behind `#`.
BRIGHTSPACE_EXPORT = (
    "OrgDefinedId,Username,Last Name,First Name,Email,"
    "M14 Points Grade <Numeric MaxPoints:100 Weight:10 Category:Labs>,End-of-Line Indicator\n"
    "#S001,#ada,Lovelace,Ada,ada@uni.edu,,#\n"
    "#S002,#alan,Turing,Alan,alan@uni.edu,,#\n"
    "#S003,#grace,Hopper,Grace,grace@uni.edu,,#\n"
)
PLAIN_ROSTER = (
    "name,username,email,student_id,github,section\n"
    "Ada Lovelace,ada,ada@uni.edu,S001,adal,A\n"
    "Alan Turing,alan,alan@uni.edu,S002,aturing,A\n"
    "Grace Hopper,grace,grace@uni.edu,S003,ghopper,B\n"
)
TITLE = load_rubric("m14").title
NUMBER = re.compile(r"^\d+(\.\d+)?$")  # a dot, no thousands separator


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def utf16(text: str) -> bytes:
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- rosters, read as each platform exports them -------------------------------------------


def test_canvas_export_is_read_as_it_is(tmp_path: Path) -> None:
    roster = read_roster(write(tmp_path, "2024-04-25T1000_Grades-CS101.csv", CANVAS_EXPORT))
    assert roster.platform == "canvas"
    # Neither the Manual Posting row, nor Points Possible, nor the Student View account is a student.
    assert [s.name for s in roster.students] == ["Lovelace, Ada", "Turing, Alan", "Hopper, Grace"]
    ada = roster.students[0]
    assert (ada.lms_id, ada.sis_id, ada.login, ada.section) == ("101", "S001", "ada", "Section A")
    assert (ada.first, ada.last) == ("Ada", "Lovelace")
    items = {i.name: (i.id, i.points) for i in roster.items}
    assert items == {"M14 Lightning": ("4821", 100.0), "Quiz 1": ("4790", 5.0)}


def test_moodle_export_is_read_as_it_is(tmp_path: Path) -> None:
    roster = read_roster(write(tmp_path, "CS101 Grades.csv", MOODLE_EXPORT, "utf-8-sig"))
    assert roster.platform == "moodle"
    assert [(s.name, s.sis_id, s.email) for s in roster.students] == [
        ("Ada Lovelace", "S001", "ada@uni.edu"),
        ("Alan Turing", "S002", "alan@uni.edu"),
        ("Grace Hopper", "S003", "grace@uni.edu"),
    ]
    assert [(i.name, i.header) for i in roster.items] == [
        ("M14", "Assignment: M14 (Real)"),
        ("Course total", "Course total (Real)"),
    ]


@pytest.mark.parametrize("form", ["utf-16 tab-separated", "comma-separated"])
def test_blackboard_download_is_read_as_it_is(tmp_path: Path, form: str) -> None:
    path = tmp_path / "gc_CS101_fullgc_2024-04-25-10-00-00.xls"
    if form == "comma-separated":
        path.write_text(BLACKBOARD_EXPORT.replace("\t", ","), encoding="utf-8")
    else:
        path.write_bytes(utf16(BLACKBOARD_EXPORT))
    roster = read_roster(path)
    assert roster.platform == "blackboard"
    assert [(s.login, s.sis_id, s.name) for s in roster.students] == [
        ("ada", "S001", "Ada Lovelace"),
        ("alan", "S002", "Alan Turing"),
        ("grace", "S003", "Grace Hopper"),
    ]
    item = next(i for i in roster.items if i.name == "M14")
    assert (item.id, item.points, item.header) == ("1234", 100.0, "M14 [Total Pts: 100 Score] |1234")


def test_brightspace_export_is_read_as_it_is(tmp_path: Path) -> None:
    roster = read_roster(write(tmp_path, "CS101_GradesExport_2024-04-25.csv", BRIGHTSPACE_EXPORT))
    assert roster.platform == "brightspace"
    assert [(s.sis_id, s.login, s.email) for s in roster.students] == [
        ("S001", "ada", "ada@uni.edu"),
        ("S002", "alan", "alan@uni.edu"),
        ("S003", "grace", "grace@uni.edu"),
    ]
    assert [(i.name, i.points) for i in roster.items] == [("M14", 100.0)]


def test_plain_roster_takes_the_columns_it_has(tmp_path: Path) -> None:
    roster = read_roster(write(tmp_path, "class.csv", "GitHub,Name\nadal,Ada Lovelace\n\n,\n"))
    assert roster.platform == "plain"
    assert [(s.github, s.name, s.login) for s in roster.students] == [("adal", "Ada Lovelace", None)]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty"),
        (b"colour,shape\nred,round\n", "cannot tell which gradebook export"),
        (b"username,email\n", "lists no students"),
        (bytes(range(256)) * 4, "is not a CSV: not text"),
    ],
)
def test_a_roster_that_cannot_be_read_says_why(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(RosterError, match=says):
        read_roster(path)
    with pytest.raises(RosterError, match="cannot read roster"):
        read_roster(tmp_path / "absent.csv")


# --- matching: by id, then login or email, then GitHub, then name; never a guess ------------

CLASS = Roster(
    platform="plain",
    source="class.csv",
    students=[
        RosterStudent(name="Lovelace, Ada", lms_id="101", sis_id="S001", login="ada", email="ada@uni.edu"),
        RosterStudent(name="Alan Turing", lms_id="102", login="alan", email="Alan@Uni.edu"),
        RosterStudent(name="Lee, Alex", section="A"),
        RosterStudent(name="Alex Lee", section="B"),
        RosterStudent(name="Grace Hopper", github="GHopper"),
        RosterStudent(name="José Núñez", first="José", last="Núñez"),
    ],
)


@pytest.mark.parametrize(
    ("student", "place", "how"),
    [
        (Student(key="x", platform="canvas", name="turingalan", ids={"user_id": "101"}), 0, "LMS id"),
        (Student(key="x", platform="moodle", name="Someone Else", ids={"sis_id": "S001"}), 0, "LMS id"),
        (Student(key="alan", platform="blackboard", ids={"username": "ALAN"}), 1, "login or email"),
        (Student(key="alan@uni.edu", platform="plain"), 1, "login or email"),
        (Student(key="m14-ghopper", platform="github", ids={"github": "ghopper"}), 4, "GitHub login"),
        (
            Student(key="lovelaceada", platform="canvas", name="lovelaceada", ids={"submission_id": "7"}),
            0,
            "full name",
        ),
        (
            Student(key="x", platform="moodle", name="Ada Lovelace", ids={"participant_id": "55"}),
            0,
            "full name",
        ),
        (
            Student(key="x", platform="brightspace", name="Turing, Alan", ids={"submission_id": "9"}),
            1,
            "full name",
        ),
        (Student(key="x", platform="moodle", name="jose NUNEZ"), 5, "full name"),
        (Student(key="nunezjose", platform="canvas", name="nunezjose"), 5, "full name"),
    ],
)
def test_each_identifier_in_its_order(student: Student, place: int, how: str) -> None:
    assert find(student, CLASS) == (place, how)


def test_an_ambiguous_name_is_never_guessed() -> None:
    place, reason = find(Student(key="x", platform="moodle", name="Alex Lee"), CLASS)
    assert place is None
    assert reason.startswith("ambiguous: its full name fits 2 rostered students")
    assert "Lee, Alex" in reason and "Alex Lee" in reason
    place, reason = find(Student(key="nobody", platform="plain"), CLASS)
    assert place is None and reason.startswith("no rostered student")


# --- exports, from real graded results -----------------------------------------------------


@pytest.fixture(scope="module")
def samples(graded_samples: Path) -> dict[str, GradeResult]:
    return read_results(graded_samples)


def with_student(result: GradeResult, **student) -> GradeResult:
    return result.model_copy(update={"student": Student(**student)})


@pytest.fixture(scope="module")
def class_results(samples: dict[str, GradeResult]) -> list[GradeResult]:
    """Three real results handed in as each platform names them, and one nobody is rostered as."""
    ok = samples["correct_lightning"]
    partial = next(r for r in samples.values() if 0 < r.score < r.max_score and r.status == "ok")
    return [
        with_student(ok, key="lovelaceada", platform="canvas", name="lovelaceada", ids={"user_id": "101"}),
        with_student(partial, key="alan", platform="blackboard", ids={"username": "alan"}),
        samples["syntax_error"].model_copy(update={"submission": "stranger"}),
    ]


def lms_out(
    tmp_path: Path, roster: Roster, results: list[GradeResult], assignment: str | None = None
) -> Path:
    out = tmp_path / "grades"
    save_roster(roster.model_copy(update={"assignment": assignment}), out)
    write_lms(results, load_rubric("m14"), out)
    return out / "lms"


def check_unmatched(folder: Path, missing: list[str]) -> None:
    rows = read_rows(folder / "unmatched.csv")
    assert rows[0] == [
        "kind",
        "submission",
        "name",
        "lms_id",
        "sis_id",
        "login",
        "email",
        "github",
        "section",
        "reason",
    ]
    assert [(r[0], r[1]) for r in rows[1:] if r[0] == "no student"] == [("no student", "stranger")]
    assert [r[2] for r in rows[1:] if r[0] == "no submission"] == missing
    assert all(r[-1] for r in rows[1:])  # each says why


def test_canvas_csv(tmp_path: Path, class_results: list[GradeResult]) -> None:
    roster = read_roster(write(tmp_path, "grades.csv", CANVAS_EXPORT))
    folder = lms_out(tmp_path, roster, class_results, assignment="M14 Lightning (4821)")
    rows = read_rows(folder / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "M14 Lightning (4821)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "100"]  # the rubric's points
    ok, partial = class_results[0], class_results[1]
    assert rows[2:] == [
        ["Lovelace, Ada", "101", "S001", "ada", "Section A", number(ok.score)],
        ["Turing, Alan", "102", "S002", "alan", "Section A", number(partial.score)],
        ["Hopper, Grace", "103", "S003", "grace", "Section B", ""],  # no submission: empty, never 0
    ]
    assert all(NUMBER.match(row[5]) for row in rows[1:3])
    assert sorted(p.name for p in folder.glob("*.csv")) == ["canvas.csv", "unmatched.csv"]
    check_unmatched(folder, ["Hopper, Grace"])


def test_canvas_takes_the_rosters_id_for_the_rubric_title(
    tmp_path: Path, class_results: list[GradeResult]
) -> None:
    export = CANVAS_EXPORT.replace("M14 Lightning (4821)", f"{TITLE} (4821)")
    folder = lms_out(tmp_path, read_roster(write(tmp_path, "grades.csv", export)), class_results)
    assert read_rows(folder / "canvas.csv")[0][5] == f"{TITLE} (4821)"


def test_moodle_csv(tmp_path: Path, class_results: list[GradeResult]) -> None:
    roster = read_roster(write(tmp_path, "grades.csv", MOODLE_EXPORT))
    results = [
        with_student(class_results[1], key="x", platform="moodle", name="Alan Turing"),
        *class_results[2:],
    ]
    folder = lms_out(tmp_path, roster, [*results, class_results[0]], assignment="M14")
    rows = read_rows(folder / "moodle.csv")
    # Every student has an ID number: Moodle maps users by it ("Map from" ID number, to useridnumber).
    assert rows[0] == ["ID number", "Assignment: M14 (Real)", "Assignment: M14 (Feedback)"]
    partial = results[0]
    ok = class_results[0]
    assert rows[1] == [
        "S001",
        number(ok.score),
        f"{number(ok.score)} / {number(ok.max_score)} (ok). Full marks.",
    ]
    assert rows[2][:2] == ["S002", number(partial.score)]
    assert rows[2][2].startswith(
        f"{number(partial.score)} / {number(partial.max_score)} (ok). First to fix: "
    )
    assert "\n" not in rows[2][2]
    assert len(rows) == 3  # only graded students: an empty feedback would overwrite theirs
    check_unmatched(folder, ["Grace Hopper"])


def test_moodle_maps_by_email_when_an_id_number_is_missing(
    tmp_path: Path, class_results: list[GradeResult]
) -> None:
    export = MOODLE_EXPORT.replace("Grace,Hopper,S003", "Grace,Hopper,")
    alan = with_student(class_results[1], key="x", platform="moodle", name="Alan Turing")
    folder = lms_out(tmp_path, read_roster(write(tmp_path, "grades.csv", export)), [class_results[0], alan])
    rows = read_rows(folder / "moodle.csv")
    assert rows[0][0] == "Email address"
    assert [r[0] for r in rows[1:]] == ["ada@uni.edu", "alan@uni.edu"]


def test_blackboard_csv(tmp_path: Path, class_results: list[GradeResult]) -> None:
    path = tmp_path / "gc.xls"
    path.write_bytes(utf16(BLACKBOARD_EXPORT))
    folder = lms_out(tmp_path, read_roster(path), class_results, assignment="M14 (1234)")
    rows = read_rows(folder / "blackboard.csv")
    assert rows[0] == ["Username", "M14 [Total Pts: 100 Score] |1234"]  # the column as downloaded: its ID
    assert rows[1:] == [["ada", number(class_results[0].score)], ["alan", number(class_results[1].score)]]
    # Blackboard: "Data in each column of comma-delimited files must be contained within a quote character".
    lines = (folder / "blackboard.csv").read_text(encoding="utf-8").splitlines()
    assert all(re.fullmatch(r'"[^"]*"(,"[^"]*")*', line) for line in lines)
    check_unmatched(folder, ["Grace Hopper"])


def test_brightspace_csv(tmp_path: Path, class_results: list[GradeResult]) -> None:
    roster = read_roster(write(tmp_path, "export.csv", BRIGHTSPACE_EXPORT))
    results = [
        with_student(class_results[0], key="x", platform="brightspace", name="Lovelace, Ada"),
        *class_results[1:],
    ]
    folder = lms_out(tmp_path, roster, results)
    rows = read_rows(folder / "brightspace.csv")
    # No --lms-assignment: the roster's one grade item named after the rubric's id (m14) takes the grades.
    assert rows[0] == ["OrgDefinedId", "M14 Points Grade", "End-of-Line Indicator"]
    assert rows[1:] == [["#S001", number(results[0].score), "#"], ["#S002", number(results[1].score), "#"]]
    check_unmatched(folder, ["Grace Hopper"])


def test_a_plain_roster_gets_each_export_its_columns_allow(
    tmp_path: Path, class_results: list[GradeResult]
) -> None:
    roster = read_roster(write(tmp_path, "class.csv", PLAIN_ROSTER))
    folder = lms_out(tmp_path, roster, class_results, assignment="M14 (12345)")
    assert sorted(p.name for p in folder.glob("*.csv")) == [
        "blackboard.csv",
        "brightspace.csv",
        "canvas.csv",
        "moodle.csv",
        "unmatched.csv",
    ]
    assert read_rows(folder / "canvas.csv")[2] == [
        "Ada Lovelace",
        "",
        "S001",
        "ada",
        "A",
        number(class_results[0].score),
    ]
    assert read_rows(folder / "blackboard.csv")[0] == ["Username", "M14 |12345"]
    assert read_rows(folder / "brightspace.csv")[0][:2] == ["OrgDefinedId", "M14 Points Grade"]
    assert read_rows(folder / "moodle.csv")[0][:2] == ["ID number", "M14"]
    check_unmatched(folder, ["Grace Hopper"])

    # Moodle's import keys by one column: Email address once an ID number is missing, and a graded
    # student without an email address is listed as left out, never dropped in silence.
    gaps = PLAIN_ROSTER.replace("alan@uni.edu,S002", ",S002").replace(",S003,", ",,")
    folder = lms_out(tmp_path, read_roster(write(tmp_path, "gaps.csv", gaps)), class_results)
    assert [r[0] for r in read_rows(folder / "moodle.csv")] == ["Email address", "ada@uni.edu"]
    left = [r for r in read_rows(folder / "unmatched.csv") if r[0] == "not exported"]
    assert [(r[1], r[2], r[-1]) for r in left] == [
        (
            class_results[1].submission,
            "Alan Turing",
            "graded, but left out of moodle.csv: the roster gives no Email address",
        )
    ]

    # A roster of email addresses only: Moodle's import alone can use it; the others' files go.
    emails = read_roster(write(tmp_path, "emails.csv", "email\nada@uni.edu\nalan@uni.edu\n"))
    folder = lms_out(tmp_path, emails, class_results)
    assert sorted(p.name for p in folder.glob("*.csv")) == ["moodle.csv", "unmatched.csv"]


def test_two_submissions_of_one_student_export_neither(
    tmp_path: Path, class_results: list[GradeResult]
) -> None:
    roster = read_roster(write(tmp_path, "grades.csv", CANVAS_EXPORT))
    twin = class_results[1].model_copy(update={"submission": "alan_again"})
    matching = match([*class_results, twin], roster)
    assert 1 not in matching.matched
    assert matching.missing[1].startswith("ambiguous: 2 submissions fit this student")
    folder = lms_out(tmp_path, roster, [*class_results, twin])
    assert read_rows(folder / "canvas.csv")[3][5] == ""


def test_student_text_stays_text(tmp_path: Path, class_results: list[GradeResult]) -> None:
    export = CANVAS_EXPORT.replace('"Hopper, Grace"', '"=HYPERLINK(""http://x"",""y"")\x1b[31m"')
    folder = lms_out(tmp_path, read_roster(write(tmp_path, "grades.csv", export)), class_results)
    name = read_rows(folder / "canvas.csv")[4][0]
    assert name.startswith("'=") and "\x1b" not in name
    assert all(not row[2].startswith("=") for row in read_rows(folder / "unmatched.csv"))


# --- the command --------------------------------------------------------------------------


def test_grade_with_a_roster_exports_and_remembers_it(graded_samples: Path, tmp_path: Path) -> None:
    submissions, out = graded_copy(graded_samples, tmp_path)
    roster = write(
        tmp_path, "class.csv", "username,name\ncorrect_lightning,Ada Lovelace\nghost,Nobody Here\n"
    )
    bad = write(tmp_path, "bad.csv", "colour,shape\nred,round\n")
    refused = run_grade(submissions, "--rubric", "m14", "--out", out, "--roster", bad)
    assert refused.returncode == 2 and "cannot tell which gradebook export" in refused.stderr
    assert "Traceback" not in refused.stderr and not (out / "lms").exists()

    done = run_grade(
        submissions, "--rubric", "m14", "--out", out, "--roster", roster, "--lms-assignment", "M14 (77)"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first_lines = " ".join(" ".join(done.stdout.splitlines()[:6]).split())  # Rich wraps at 80 columns
    assert "Roster: class.csv, a plain roster (2 students)." in first_lines
    assert "Exports for the LMS: canvas, blackboard, brightspace" in first_lines  # no email, no id: no Moodle
    folder = out / "lms"
    canvas = read_rows(folder / "canvas.csv")
    graded = read_results(out)
    assert canvas[0][5] == "M14 (77)"
    assert canvas[2] == [
        "Ada Lovelace",
        "",
        "",
        "correct_lightning",
        "",
        number(graded["correct_lightning"].score),
    ]
    unmatched = read_rows(folder / "unmatched.csv")
    assert [r[2] for r in unmatched if r[0] == "no submission"] == ["Nobody Here"]
    assert {r[1] for r in unmatched if r[0] == "no student"} == set(graded) - {"correct_lightning"}

    # A later run without --roster exports again from the kept roster: tests/test_quick_start.py.
