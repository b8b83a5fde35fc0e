"""Re-running a batch grades only what changed, and every report agrees with the gradebook."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.host.publish import read_results
from grader.rubric import load_rubric
from tests.conftest import SAMPLES, graded_copy, read_csv, run_grade
from tests.expected import EXPECTED
from tests.test_formats import assert_formats_agree_with_csv

pytestmark = pytest.mark.slow


def test_a_rerun_keeps_unchanged_results_and_regrades_only_a_change(
    graded_samples: Path, tmp_path: Path
) -> None:
    submissions, out = graded_copy(graded_samples, tmp_path)
    rows = read_csv(out / "grades.csv")

    again = run_grade(
        submissions,
        "--rubric",
        "m14",
        "--out",
        out,
        "--format",
        "junit",
        "--format",
        "gradescope",
        "--format",
        "classroom",
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("unchanged, earlier result kept") == len(EXPECTED)
    assert read_csv(out / "grades.csv") == rows
    results = list(read_results(out).values())
    assert_formats_agree_with_csv(out, results, load_rubric("m14"))

    (submissions / "syntax_error.py").write_text((SAMPLES / "correct_lightning.py").read_text())
    changed = run_grade(submissions, "--rubric", "m14", "--out", out)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert changed.stdout.count("unchanged, earlier result kept") == len(EXPECTED) - 1
    rows_after = read_csv(out / "grades.csv")
    assert rows_after["syntax_error"]["score"] == "100"
    assert {k: v for k, v in rows_after.items() if k != "syntax_error"} == {
        k: v for k, v in rows.items() if k != "syntax_error"
    }
