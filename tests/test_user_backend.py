"""The `user` backend for real, on this machine as root: what a run reaches and what it leaves.

The whole hostile suite also runs on it (`tests/test_hostile.py`), and in a Gradescope-like
container (`tests/test_gradescope.py`).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import psutil
import pytest

from grader.host.execute import runner_stdin
from grader.sandbox import user
from grader.sandbox.base import SandboxLimits, SandboxOutcome, SandboxRequest, SandboxUnavailable
from grader.sandbox.user import UserSandbox

pytestmark = pytest.mark.user

LIMITS = SandboxLimits(wall_seconds=40, memory_mb=2000, threads=1, output_bytes=65536)


@pytest.fixture(scope="module")
def sandbox() -> UserSandbox:
    backend = UserSandbox()
    try:
        backend.check()
    except SandboxUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"user sandbox unavailable in CI: {error}")
        pytest.skip(str(error))
    return backend


@pytest.fixture(scope="module")
def inputs(short_fit_inputs: Path) -> Path:
    return short_fit_inputs


def student(tmp_path: Path, code: str) -> Path:
    """A submission whose module runs `code` in a class body, which the runner executes."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "student.py").write_text("class Student:\n" + textwrap.indent(textwrap.dedent(code), "    "))
    return folder


def run(sandbox: UserSandbox, inputs: Path, submission: Path, output: Path, *private: Path) -> SandboxOutcome:
    output.mkdir()
    request = SandboxRequest(
        submission, inputs, output, runner_stdin("nonce", inputs), LIMITS, private=private
    )
    return sandbox.run(request)


def test_private_folders_are_closed_before_the_run_and_leftovers_removed_after(sandbox, inputs, tmp_path):
    results = tmp_path / "results"
    results.mkdir(mode=0o755)
    (results / "grades.csv").write_text("alice,100\n")
    os.chmod(results / "grades.csv", 0o644)
    submission = student(
        tmp_path,
        f"""
        import json, os, subprocess, sys
        found = {{"uid": os.getuid(), "groups": os.getgroups()}}
        try:
            found["results"] = open({str(results / "grades.csv")!r}).read()
        except OSError as error:
            found["results"] = error.errno
        found["sleeper"] = subprocess.Popen(["sleep", "300"], start_new_session=True).pid
        with open("/tmp/lightning-grader-user-test", "w") as trace:
            trace.write("left behind")
        with open("findings.json", "w") as out:
            json.dump(found, out)
        """,
    )
    output = tmp_path / "output"
    run(sandbox, inputs, submission, output, results)
    found = json.loads((output / "findings.json").read_text())
    assert found["uid"] in user.UIDS and found["groups"] == []
    assert found["results"] == 13  # EACCES
    assert stat.S_IMODE(results.stat().st_mode) & 0o007 == 0
    assert not psutil.pid_exists(found["sleeper"]) or psutil.Process(found["sleeper"]).status() == "zombie"
    assert not Path("/tmp/lightning-grader-user-test").exists()
    # The output is the host's again, whatever the run made of it.
    assert output.stat().st_uid == os.getuid()


def test_a_run_that_could_read_a_private_folder_does_not_start(sandbox, inputs, tmp_path):
    """A folder the backend cannot close (a read-only mount): the check as the run's uid refuses."""
    frozen = tmp_path / "frozen"
    frozen.mkdir(mode=0o755)
    os.chmod(frozen, 0o755)
    (frozen / "answers.txt").write_text("secret")
    if subprocess.run(["mount", "--bind", "-o", "ro", frozen, frozen], capture_output=True).returncode:
        pytest.skip("cannot make a read-only bind mount here")
    subprocess.run(["mount", "-o", "remount,bind,ro", frozen, frozen], capture_output=True)
    try:
        submission = student(tmp_path, "x = 1\n")
        with pytest.raises(SandboxUnavailable, match=f"it can reach {frozen}"):
            run(sandbox, inputs, submission, tmp_path / "output", frozen)
    finally:
        subprocess.run(["umount", frozen], capture_output=True)


def test_without_root_it_says_what_to_use_instead(monkeypatch):
    user._problem.cache_clear()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    try:
        with pytest.raises(SandboxUnavailable, match=r"needs root.*process"):
            UserSandbox().check()
    finally:
        monkeypatch.undo()
        user._problem.cache_clear()
