"""Re-running a batch grades only what changed, and every report agrees with the gradebook."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
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


def test_regrading_some_submissions_into_the_class_folder_keeps_every_row(
    graded_samples: Path, tmp_path: Path
) -> None:
    """One file, then `--only` two of the folder, into the class's --out: only their rows change."""
    submissions, out = graded_copy(graded_samples, tmp_path)
    rows = read_csv(out / "grades.csv")
    (submissions / "syntax_error.py").write_text((SAMPLES / "correct_lightning.py").read_text())
    one = run_grade(submissions / "syntax_error.py", "--rubric", "m14", "--out", out)
    assert one.returncode == 0, one.stdout + one.stderr
    after_one = read_csv(out / "grades.csv")
    assert set(after_one) == set(rows) and after_one["syntax_error"]["score"] == "100"
    assert {k: v for k, v in after_one.items() if k != "syntax_error"} == {
        k: v for k, v in rows.items() if k != "syntax_error"
    }
    summary = (out / "summary.html").read_text()
    assert all(f">{name}<" in summary for name in rows), "the class report lost rows"

    (submissions / "crash_in_training_step.py").write_text((SAMPLES / "correct_lightning.py").read_text())
    only = run_grade(
        submissions, "--rubric", "m14", "--out", out, "--only", "crash_in_training_step,no_validation_step"
    )
    assert only.returncode == 0, only.stdout + only.stderr
    assert only.stdout.count("(ok)") == 2 and "syntax_error" not in only.stdout  # the two, and only them
    after_only = read_csv(out / "grades.csv")
    assert set(after_only) == set(rows)
    assert after_only["crash_in_training_step"]["score"] == "100"
    assert after_only["no_validation_step"] == rows["no_validation_step"]  # unchanged, kept
    assert {k: v for k, v in after_only.items() if k != "crash_in_training_step"} == {
        k: v for k, v in after_one.items() if k != "crash_in_training_step"
    }

    unknown = run_grade(submissions, "--rubric", "m14", "--out", out, "--only", "nobody")
    assert unknown.returncode == 2 and "no submission named nobody" in unknown.stderr


def test_results_of_another_rubric_are_never_mixed_in(graded_samples: Path, tmp_path: Path) -> None:
    submissions, out = graded_copy(graded_samples, tmp_path)
    stray = out / "results" / "correct_lightning.json"
    stray.write_text(
        stray.read_text()
        .replace('"rubric":"m14"', '"rubric":"m13"')
        .replace('"rubric": "m14"', '"rubric": "m13"')
    )
    refused = run_grade(submissions / "syntax_error.py", "--rubric", "m14", "--out", out)
    assert refused.returncode == 2
    # The console wraps the line where the folder's name ends it: compare the words.
    assert "holds 1 result(s) of rubric m13, not m14" in " ".join(refused.stderr.split())


@pytest.mark.process
def test_ctrl_c_stops_the_run_in_progress_keeps_what_was_graded_and_resumes(
    tmp_path: Path, test_rubric: Path
) -> None:
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    for name in ("ann", "ben", "cat"):
        shutil.copyfile(SAMPLES / "correct_lightning.py", folder / f"{name}.py")
    command = [str(Path(sys.executable).parent / "grade"), str(folder), "--rubric", str(test_rubric)]
    command += ["--out", str(out), "--sandbox", "process", "--jobs", "1"]
    # Ctrl-C as a terminal sends it, even where this test runs with SIGINT ignored (started in
    # the background by a shell without job control, which the batch would inherit).
    batch = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 600
    while not (out / "results" / "ann.json").is_file() and batch.poll() is None:
        assert time.monotonic() < deadline, "the first submission was never graded"
        time.sleep(0.2)
    time.sleep(1.0)  # ben's sandbox is running now
    batch.send_signal(signal.SIGINT)
    stdout, stderr = batch.communicate(timeout=120)
    assert batch.returncode == 130, stdout + stderr
    assert "Stopped: 1 of 3 results are written" in " ".join(stderr.split()), stderr
    assert list(read_csv(out / "grades.csv")) == ["ann"]
    assert sorted(path.name for path in (out / "results").iterdir()) == ["ann.json"]
    left = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert left == [], "a sandbox outlived the stop"
    # The same command again grades only the rest.
    again = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ann: 100/100 (ok) — unchanged, earlier result kept" in again.stdout
    assert sorted(read_csv(out / "grades.csv")) == ["ann", "ben", "cat"]
