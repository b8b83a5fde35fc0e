"""`grade` as a person reads it without grading anything: `--help` (defaults, examples, panels,
no `<bool>`), the refusals of `--fail-under`, and the batch's table at a terminal's width."""

from __future__ import annotations

import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from grader.host.cli import app, fail_under_verdict, summary_table
from grader.host.results import CriterionResult, GradeResult, Timings
from grader.rubric import load_rubric
from tests.conftest import SAMPLES

PANELS = (
    "Checking your own work (students)",
    "Grading (everyone)",
    "Grading a class (instructors)",
    "This machine and the grader",
)


def run(*arguments: str, columns: int = 80):
    return CliRunner().invoke(app, list(arguments), env={"COLUMNS": str(columns), "NO_COLOR": "1"})


def panels(help_text: str) -> dict[str, str]:
    """Each panel's text, its rows' cells joined as one reads them across wrapped lines."""
    found = {}
    for block in help_text.split("╭─")[1:]:
        title, _, body = block.partition("\n")
        rows = [line.strip("│ ").strip() for line in body.splitlines() if line.startswith("│")]
        found[title.strip("─╮ ")] = " ".join(" ".join(rows).split())
    return found


@pytest.fixture(scope="module")
def help_text() -> str:
    ran = run("--help")
    assert ran.exit_code == 0, ran.output
    return ran.output


def test_help_fits_80_columns_and_shows_no_bool(help_text: str) -> None:
    assert max(len(line) for line in help_text.splitlines()) <= 80
    assert "<bool>" not in help_text
    assert "…" not in help_text  # no word cut at a column's edge
    assert run("-h").output == help_text


def test_help_groups_student_and_instructor_options(help_text: str) -> None:
    found = panels(help_text)
    assert list(found) == ["Arguments", *PANELS]
    student, everyone, instructors, machine = (found[name] for name in PANELS)
    assert "--self-check" in student and "--fail-under POINTS" in student
    for option in ("--rubric", "--out", "--sandbox", "--data-dir", "--offline"):
        assert option in everyone
    for option in ("--format", "--only", "--force", "--layout", "--roster", "--lms-assignment", "--jobs"):
        assert option in instructors and option not in student
    for option in ("--doctor", "--install-apparmor-profile", "--rubric-schema", "--version", "--help"):
        assert option in machine


def test_help_shows_every_default(help_text: str) -> None:
    found = panels(help_text)
    instructors = found["Grading a class (instructors)"]
    assert "[default: (one per core, as memory allows)]" in instructors  # was lost as Rich markup
    assert "[default: (the roster's column of the rubric's title, else its one column" in instructors
    assert "[default: (detected from the names)]" in instructors
    assert "canvas, moodle, blackboard, brightspace, github" in instructors
    everyone = found["Grading (everyone)"]
    assert "[default: m14]" in everyone and "[default: grades]" in everyone and "[default: auto]" in everyone
    assert "[default: (never)]" in found["Checking your own work (students)"]


def test_help_ends_with_examples_a_person_can_paste(help_text: str) -> None:
    examples = help_text.split("Examples", 1)[1]
    commands = [line.strip() for line in examples.splitlines() if line.strip().startswith("grade ")]
    assert commands == [
        "grade my_project/ --self-check",
        "grade my_project/ --self-check --fail-under 80",
        "grade submissions.zip --rubric m14 --roster gradebook.csv --out grades/",
        "grade submissions.zip --out grades/ --only smithjane_4321",
        "grade --doctor",
    ]
    options = set(re.findall(r"--[a-z-]+", help_text.split("Examples", 1)[0]))
    assert {o for c in commands for o in re.findall(r"--[a-z-]+", c)} <= options  # each is a real option


def test_fail_under_is_for_a_self_check(tmp_path) -> None:
    ran = run(str(SAMPLES / "correct_lightning.py"), "--fail-under", "50", "--out", str(tmp_path / "out"))
    assert ran.exit_code == 2
    assert "--fail-under is for --self-check" in " ".join(ran.output.split())
    assert not (tmp_path / "out").exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("points", "refusal"), [("101", "above the 100 points"), ("-1", "greater than or equal to 0")]
)
def test_fail_under_refuses_points_no_submission_could_meet(tmp_path, points: str, refusal: str) -> None:
    ran = run(
        str(SAMPLES / "correct_lightning.py"), "--self-check", "--fail-under", points, "--out", str(tmp_path)
    )
    assert ran.exit_code == 2
    assert refusal in " ".join(ran.output.split())


def scored(name: str, score: float, status: str = "ok", reason: str = "") -> GradeResult:
    rubric = load_rubric("m14")
    left = score
    criteria = []
    for c in rubric.criteria:
        points = min(c.points, left)
        left -= points
        criteria.append(
            CriterionResult(
                id=c.id, points=points, max_points=c.points, message=f"{c.id}: missed, see the feedback"
            )
        )
    return GradeResult(
        submission=name,
        rubric=rubric.id,
        score=score,
        max_score=rubric.max_score,
        status=status,
        status_reason=reason,
        graded_class="MyAwesomeModel",
        accuracy=0.93 if status == "ok" else None,
        criteria=criteria,
        timings=Timings(total_seconds=12.5),
    )


@pytest.mark.parametrize(("points", "status"), [(29.5, 0), (30, 0), (30.5, 1), (100, 1)])
def test_fail_under_exits_1_below_the_points_only(points: float, status: int, capsys) -> None:
    assert fail_under_verdict(scored("me", 30), points) == status
    said = capsys.readouterr().out.strip()
    verdict = "below" if status else "at or above"
    assert said == f"30 / 100 is {verdict} --fail-under {points:g}: exit status {status}."


@pytest.fixture(scope="module")
def class_results() -> list[GradeResult]:
    """The samples' own names (the longest is 26 characters) and a few failing reasons."""
    names = sorted(p.stem for p in SAMPLES.iterdir() if not p.name.startswith("."))
    names.append("a_student_who_named_the_folder_after_the_whole_assignment_title")
    reasons = ["", "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x5408 and 784x128)", ""]
    statuses = ["ok", "crashed", "ok"]
    return [scored(name, 100 - 7 * (i % 5), statuses[i % 3], reasons[i % 3]) for i, name in enumerate(names)]


def rendered(results: list[GradeResult], width: int) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False)
    console.print(summary_table(results, width))
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [50, 80, 100, 120, 200])
def test_the_table_gives_each_submission_one_line_within_the_width(class_results, width: int) -> None:
    lines = rendered(class_results, width)
    assert max(len(line) for line in lines) <= width
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == len(class_results)  # one line each: nothing folded
    for result, row in zip(class_results, rows, strict=True):
        name = row.split("│")[1].strip()
        assert name == result.submission or (name.endswith("…") and result.submission.startswith(name[:-1]))
        assert f"{result.score:g}/100" in row and result.status in row


def test_the_table_drops_what_does_not_fit_and_shows_the_first_blocking_reason_where_it_does(
    class_results,
) -> None:
    def headers(width: int) -> list[str]:
        header = next(line for line in rendered(class_results, width) if line.startswith("┃"))
        return [cell.strip() for cell in header.strip("┃").split("┃")]

    assert headers(50) == ["submission", "score", "status"]
    assert headers(80) == ["submission", "score", "status", "accuracy", "seconds"]
    assert headers(120) == ["submission", "score", "status", "accuracy", "seconds", "first blocking reason"]
    assert headers(200) == [
        "submission",
        "score",
        "status",
        "graded class",
        "accuracy",
        "seconds",
        "first blocking reason",
    ]
    full_marks = [r for r in class_results if r.score == 100 and not r.status_reason]
    assert "first blocking reason" not in "\n".join(rendered(full_marks, 200))  # nothing blocks them
    at_80 = "\n".join(rendered(class_results, 80))
    assert all(f"│ {r.submission} " in at_80 for r in class_results[:-1])  # the samples' names whole
    assert "│ a_student_who_named_the_folder_aft… │" in at_80
    at_120 = "\n".join(rendered(class_results, 120))
    assert "│ RuntimeError: mat1 and mat2 sha… │" in at_120  # whole in feedback/ and summary.html
