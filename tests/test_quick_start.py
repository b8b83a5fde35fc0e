"""The README's quick start, exactly as written, on a class as Canvas hands it out.

The commands are read from the README's "Quick start" section, not copied here: a class
downloaded from Canvas (`submissions.zip`, one student with two files, one late, one rostered
student who handed in nothing) and its gradebook export (`gradebook.csv`) are laid out, and
every `grade` line runs in that folder in order. Only the install lines are not run: CI's
fresh virtual environment has installed the grader with the README's own command.
"""

from __future__ import annotations

import json
import re
import shlex
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT, SAMPLES, read_csv, run_grade
from tests.test_lms_exports import read_rows, write
from tests.test_lms_layouts import MODEL_PY, TRAIN_PY

pytestmark = [pytest.mark.slow, pytest.mark.process]

# Canvas's gradebook export for the class: its Manual Posting and Points Possible rows, the test student.
GRADEBOOK = (
    "Student,ID,SIS User ID,SIS Login ID,Section,M14 Lightning (4821),Current Score,Final Score\n"
    ",,,,,Manual Posting,,\n"
    "    Points Possible,,,,,100.00,(read only),(read only)\n"
    '"Smith, Jane",4321,S4321,jsmith,Section A,,,\n'
    '"Doe, Bob",222,S0222,bdoe,Section A,,,\n'
    '"Absent, Al",555,S0555,aabsent,Section B,,,\n'
    '"Student, Test",999,,,Section A,,,\n'
)


def quick_start_commands() -> list[list[str]]:
    """The `grade` lines of the README's quick start, in order, without their comments."""
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    return [shlex.split(line, comments=True) for line in lines if line.startswith("grade ")]


def test_the_readme_quick_start_grades_a_canvas_download_and_exports_it(tmp_path: Path) -> None:
    commands = quick_start_commands()
    assert [c[:2] for c in commands] == [
        ["grade", "submissions.zip"],
        ["grade", "submissions.zip"],
        ["grade", "my_project/"],
    ]
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as zipped:
        zipped.writestr("smithjane_4321_9001_model.py", MODEL_PY)
        zipped.writestr("smithjane_4321_9001_train.py", TRAIN_PY)
        zipped.writestr("doebob_LATE_222_9002_solution.py", (SAMPLES / "syntax_error.py").read_text())
    write(tmp_path, "gradebook.csv", GRADEBOOK)

    graded = run_grade(*commands[0][1:], "--sandbox", "process", cwd=tmp_path)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert graded.stdout.splitlines()[0].startswith("Layout: canvas (3 of 3 entries named lastfirst_")
    out = tmp_path / "grades"
    rows = read_csv(out / "grades.csv")
    assert set(rows) == {"smithjane_4321", "doebob_222"}
    assert rows["smithjane_4321"]["score"] == "100", rows  # model.py and train.py import each other
    assert rows["doebob_222"]["status"] == "crashed"
    jane = json.loads((out / "results" / "smithjane_4321.json").read_text())
    assert jane["student"] == {
        "key": "smithjane_4321",
        "platform": "canvas",
        "name": "smithjane",
        "ids": {"user_id": "4321", "submission_id": "9001"},
        "late": False,
        "attempt": None,
        "files": ["model.py", "train.py"],
    }
    bob = json.loads((out / "results" / "doebob_222.json").read_text())
    assert bob["student"]["late"] is True

    canvas = read_rows(out / "lms" / "canvas.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "M14 Lightning (4821)"]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "100"]
    by_id = {row[1]: row for row in canvas[2:]}
    assert set(by_id) == {"4321", "222", "555"}  # every rostered student, never the test student
    assert by_id["4321"][5] == "100" and by_id["222"][5] == rows["doebob_222"]["score"]
    assert by_id["555"][5] == ""  # no submission: an empty cell, never 0
    unmatched = read_rows(out / "lms" / "unmatched.csv")
    assert [(r[0], r[2]) for r in unmatched[1:]] == [("no submission", "Absent, Al")]
    summary = (out / "summary.html").read_text()
    assert 'id="needs-attention"' in summary and "doebob_222" in summary

    # The regrade line: one student again, into the class's folder, without the roster.
    again = run_grade(*commands[1][1:], "--sandbox", "process", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert read_csv(out / "grades.csv") == rows  # every row kept, the unchanged scores the same
    assert read_rows(out / "lms" / "canvas.csv") == canvas  # exported again from the kept roster
