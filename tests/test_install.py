"""The grader where a student has it: no Docker, no bubblewrap, not root.

Run for real as an unprivileged user (`setpriv`, so it needs root) with a PATH that holds no
`bwrap` and a Docker host that does not answer: `--self-check` grades without a sandbox and
says so in one line, leading with the score and the first thing to fix; a batch refuses and
says how to get a sandbox. The non-editable install itself is checked by
`.ci/installed-check.sh` (a wheel in a fresh venv, used from outside the checkout).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from grader.sandbox.installation import hidden_folders

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
NOBODY = 65534


@pytest.fixture
def student_machine() -> Iterator[tuple[Path, dict[str, str]]]:
    """A home of the unprivileged user's own (outside pytest's root-only folders), the
    project's rubrics and reference in it, and an environment where no sandbox works."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as an unprivileged user")
    tmp_path = Path(tempfile.mkdtemp(prefix="lightning-grader-student-"))
    home = tmp_path / "home"
    project = home / "lightning-grader"
    shutil.copytree(PROJECT / "reference", project / "reference")
    (project / "rubrics").mkdir(parents=True)
    rubric = yaml.safe_load((PROJECT / "rubrics" / "m14.yaml").read_text())
    rubric["fit"].update(max_epochs=1, limit_train_batches=5, limit_val_batches=2)
    (project / "rubrics" / "m14.yaml").write_text(yaml.safe_dump(rubric))
    shutil.copy(PROJECT / "submissions" / "no_validation_step.py", home / "no_validation_step.py")
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", tmp_path], check=True)
    os.chmod(tmp_path, 0o755)
    # A student's own installation is readable by them (the `user` backend, run by other
    # tests as root, may have closed the labelled digits to others on this machine).
    for folder in hidden_folders():
        os.chmod(folder, stat.S_IMODE(os.stat(folder).st_mode) | 0o005)
    env = {
        "PATH": str(Path(sys.executable).parent),  # no bwrap on it
        "HOME": str(home),
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "GRADER_PROJECT_DIR": str(project),
        "GRADER_OFFLINE": "1",
        "LANG": "C.UTF-8",
    }
    yield home, env
    shutil.rmtree(tmp_path, ignore_errors=True)


def as_student(home: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    command += [
        "env",
        "-i",
        *(f"{k}={v}" for k, v in env.items()),
        sys.executable,
        "-m",
        "grader",
        *arguments,
    ]
    return subprocess.run(command, cwd=home, capture_output=True, text=True, timeout=600)


def test_self_check_without_a_sandbox_grades_and_says_so(student_machine):
    home, env = student_machine
    ran = as_student(home, env, "no_validation_step.py", "--self-check", "--out", str(home / "out"))
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    notice = [line for line in ran.stderr.splitlines() if "No sandbox here" in line]
    assert notice and "on your own machine" in " ".join(ran.stderr.split()), ran.stderr
    lines = [line.strip() for line in ran.stdout.splitlines() if line.strip()]
    score = next(i for i, line in enumerate(lines) if line.startswith("Score: 70 / 100"))
    # The fix worth the most points first (a missing `validation_step` costs 20), the score last.
    first_fix = next(i for i, line in enumerate(lines) if line.startswith("First to fix (up to 20 points):"))
    assert "validation_step is not defined" in " ".join(lines[first_fix : first_fix + 2]), lines
    assert first_fix < score, lines
    assert len(lines) < 40, "the self-check output should fit on one screen"
    assert "Sandbox: none" in ran.stdout


def test_a_batch_without_a_sandbox_refuses_and_says_how_to_fix_it(student_machine):
    home, env = student_machine
    ran = as_student(home, env, str(home), "--out", str(home / "out"))
    assert ran.returncode == 2
    message = " ".join(ran.stderr.split())
    assert "no isolating sandbox works here" in message
    assert "apt install bubblewrap" in message and "docker" in message
    why = [line for line in ran.stderr.splitlines() if line.startswith("why: ")]
    assert why == [
        "why: process: bubblewrap is not installed: no bwrap on PATH; `grade --doctor` says how to fix it"
    ]
    assert "Traceback" not in ran.stderr
