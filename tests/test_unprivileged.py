"""The `process` backend run by a normal user, for real: warm, and as safe as root's.

As root the test suite cannot see what a user's grader does, so these tests run the grader and
the hostile suite as `nobody` through `setpriv` (`tests/unprivileged.py`), with a copy of this
virtual environment that user may execute. The hostile suite there must pass on the warm path:
one zygote on the host for the whole run, each worker joining its run's namespaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.unprivileged import NOBODY, as_user, installation_for_users, remove, user_folder

pytestmark = [pytest.mark.slow, pytest.mark.process]

PROJECT = Path(__file__).resolve().parent.parent


class UserMachine:
    """A home and a Python of `nobody`'s, and the grader's environment for it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.home = folder / "home"
        self.home.mkdir()
        shutil.chown(self.home, NOBODY, NOBODY)
        self.python, self.project = installation_for_users(folder)
        self.env = {
            "GRADER_PROJECT_DIR": str(self.project),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "GRADER_OFFLINE": "1",
            "LANG": "C.UTF-8",
            "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        }

    def run(self, *arguments: str, env: dict[str, str] | None = None, timeout: float = 1200):
        command = ["env", "-i", *(f"{k}={v}" for k, v in {**self.env, **(env or {})}.items())]
        return as_user(
            NOBODY,
            [*command, str(self.python), *arguments],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def user_machine() -> Iterator[UserMachine]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("bwrap") is None:
        pytest.skip("needs root, setpriv and bubblewrap to run as an unprivileged user")
    folder = user_folder("lightning-grader-user-")
    yield UserMachine(folder)
    remove(folder)


def test_a_users_process_backend_runs_warm_here(user_machine: UserMachine) -> None:
    probe = "from grader.sandbox.process import warm_problem; print(warm_problem())"
    ran = user_machine.run("-c", probe)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "None", ran.stdout


def test_a_users_batch_takes_every_worker_from_one_warm_zygote(user_machine: UserMachine) -> None:
    """While a user's batch runs, no zygote starts inside a sandbox (each would import torch
    again): there is one zygote, on the host, serving all the runs."""
    students = user_machine.home / "class"
    for index in range(2):
        shutil.copytree(user_machine.project / "reference" / "m14", students / f"student{index}")
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(students)], check=True)
    seen: set[tuple[str, ...]] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            for process in psutil.process_iter(["uids", "cmdline"]):
                command = process.info["cmdline"] or []
                if (
                    process.info["uids"]
                    and process.info["uids"].real == NOBODY
                    and "grader.runner.zygote" in command
                ):
                    seen.add(tuple(argument for argument in command if argument.startswith("--")))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        ran = user_machine.run(
            "-m",
            "grader",
            str(students),
            "--rubric",
            "m14",
            "--out",
            str(user_machine.home / "out"),
            "--sandbox",
            "process",
        )
    finally:
        done.set()
        watcher.join()
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    grades = (user_machine.home / "out" / "grades.csv").read_text()
    assert grades.count("100") >= 2, grades
    assert seen == {("--serve",)}, f"zygotes seen: {seen} in {time.monotonic() - started:.0f} s"


def test_the_hostile_suite_passes_as_a_user_on_the_warm_path(user_machine: UserMachine) -> None:
    basetemp = user_machine.home / "pytest"
    ran = user_machine.run(
        "-m",
        "pytest",
        "tests/test_hostile.py",
        "-m",
        "process",
        "-p",
        "no:cacheprovider",
        f"--basetemp={basetemp}",
        "-q",
        "-rs",
        env={"CI": "1", "GRADER_TEST_REQUIRE_WARM": "1"},
        timeout=3000,
    )
    summary = ran.stdout.strip().splitlines()[-1] if ran.stdout.strip() else ran.stderr[-2000:]
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    assert " passed" in summary, summary
    # The one test that may skip: a run's CPU quota needs a cgroup, which a user may not have.
    skipped = [line for line in ran.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("without cgroups of its own" in line for line in skipped), skipped
