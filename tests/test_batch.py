"""A class-sized batch in one `grade` call, and re-runs that grade only what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, read_csv, run_grade

pytestmark = pytest.mark.slow

QUICK = ["syntax_error.py", "plain_nn_module.py", "crash_in_training_step.py"]


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 mixed submissions: every sample that finishes, plus copies of quick ones."""
    folder = tmp_path_factory.mktemp("class")
    for sample in sorted(SAMPLES.iterdir()):
        if sample.name.startswith(".") or sample.name in ("hostile", "never_finishes.py", "README.md"):
            continue
        target = folder / sample.name
        (shutil.copytree if sample.is_dir() else shutil.copyfile)(sample, target)
    copies = 0
    while len(list(folder.iterdir())) < 30:
        source = SAMPLES / QUICK[copies % len(QUICK)]
        shutil.copyfile(source, folder / f"student_{copies:02d}{source.suffix}")
        copies += 1
    return folder


def test_thirty_submissions_in_one_call_then_only_changes_are_regraded(
    class_folder: Path, test_rubric: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grades"
    first = run_grade(class_folder, "--rubric", test_rubric, "--out", out, "--sandbox", "process")
    assert first.returncode == 0, first.stderr
    rows = read_csv(out / "grades.csv")
    assert len(rows) == 30
    assert {row["status"] for row in rows.values()} >= {"ok", "crashed", "rejected"}
    assert len(list((out / "feedback").glob("*.md"))) == 30

    again = run_grade(class_folder, "--rubric", test_rubric, "--out", out, "--sandbox", "process")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged, earlier result kept") == 30
    assert read_csv(out / "grades.csv") == rows

    (class_folder / "student_00.py").write_text((SAMPLES / "correct_lightning.py").read_text())
    changed = run_grade(class_folder, "--rubric", test_rubric, "--out", out, "--sandbox", "process")
    assert changed.stdout.count("unchanged, earlier result kept") == 29
    assert read_csv(out / "grades.csv")["student_00"]["score"] == "100"
