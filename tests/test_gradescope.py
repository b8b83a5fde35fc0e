"""Gradescope for real: `make-autograder-zip`, then `.ci/gradescope-image.sh` builds a
Gradescope-like image from the grading image (root, Docker's default seccomp, so namespaces
are refused; /autograder/{source,submission,results}; setup.sh run as Gradescope runs it),
and `run_autograder` grades in it, as Gradescope runs it: as root, in a fresh container.

Needs the Docker engine and the grading image (`bash .ci/docker-setup.sh`); without them these
tests skip, except in CI (`CI` set), where they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.docker]

PROJECT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "gradescope" / "probe.py"
IMAGE = "lightning-grader-gradescope:test"
DISK_MB = 1024  # rubrics/m14.yaml


@dataclass
class Graded:
    results: dict  # /autograder/results/results.json
    graded: list[dict]  # the grader's own result files of the run
    processes: list[str]  # of sandbox uids, still running after run_autograder
    scratch: list[str]  # of sandbox uids, left in /tmp, /var/tmp, /dev/shm
    log: str

    @property
    def findings(self) -> dict:
        """What the hostile sample printed about itself (its stdout, as the grader kept it)."""
        lines = [
            line for line in self.graded[0]["stdout"].splitlines() if line.startswith("HOSTILE-FINDINGS ")
        ]
        assert lines, "the hostile sample never reported"
        return json.loads(lines[0].split(" ", 1)[1])


def _docker_ready() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client"
    checked = subprocess.run(["docker", "image", "inspect", "lightning-grader:latest"], capture_output=True)
    return None if checked.returncode == 0 else "no grading image (bash .ci/docker-setup.sh)"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    problem = _docker_ready()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"Gradescope test needs Docker in CI: {problem}")
        pytest.skip(problem)
    folder = tmp_path_factory.mktemp("autograder")
    zip_path = folder / "autograder.zip"
    # The grading image's venv already holds torch: setup.sh adds the grader's host side to it.
    subprocess.run(
        [
            "make-autograder-zip",
            "--rubric",
            "m14",
            "--offline",
            "--venv",
            "/opt/venv",
            "--torch-index",
            "",
            "-o",
            zip_path,
        ],
        check=True,
        capture_output=True,
    )
    built = subprocess.run(
        ["bash", PROJECT / ".ci" / "gradescope-image.sh", zip_path, IMAGE], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return IMAGE


def run_autograder(image: str, submission: Path, *docker_args: str) -> Graded:
    """A fresh container per submission, as Gradescope does; then the probe, as root."""
    script = (
        "cp -r /autograder/submission-in/. /autograder/submission/ "
        # As Gradescope provides it: the student's name and e-mail, earlier submissions.
        '&& echo \'{"users": [{"email": "student@example.edu"}]}\' > /autograder/submission_metadata.json '
        "&& /autograder/run_autograder > /autograder/run.log 2>&1; "
        "sleep 3; python3 /probe.py; echo; cat /autograder/run.log"
    )
    ran = subprocess.run(
        [
            *["docker", "run", "--rm", *docker_args],
            *["-v", f"{submission}:/autograder/submission-in:ro", "-v", f"{PROBE}:/probe.py:ro"],
            *[image, "bash", "-c", script],
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    probe, _, log = ran.stdout.partition("\n")
    assert ran.returncode == 0, ran.stderr[-3000:] + log[-3000:]
    found = json.loads(probe)
    return Graded(json.loads(found["results"]), found["graded"], found["processes"], found["scratch"], log)


def submission_folder(tmp_path: Path, sample: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(sample, folder / sample.name)
    return folder


def test_a_correct_submission_gets_full_marks(image: str, tmp_path: Path) -> None:
    graded = run_autograder(
        image, submission_folder(tmp_path, PROJECT / "submissions" / "correct_lightning.py")
    )
    assert graded.results["score"] == 100, graded.log[-3000:]
    assert graded.results["tests"] and all(test["status"] == "passed" for test in graded.results["tests"])
    assert "Sandbox: user" in graded.log  # namespaces are refused here, so `auto` chose `user`
    assert graded.processes == [] and graded.scratch == []


def test_a_hostile_submission_gets_nothing_out(image: str, tmp_path: Path) -> None:
    canary = f"canary-{secrets.token_hex(16)}"
    sample = PROJECT / "submissions" / "hostile" / "gradescope_escape.py"
    graded = run_autograder(image, submission_folder(tmp_path, sample), "-e", f"GRADESCOPE_SECRET={canary}")
    found = graded.findings

    # Its result is the grader's: stopped at the disk budget it filled, never the forged one.
    own = graded.graded[0]
    assert graded.results["score"] == own["score"] < 100
    assert "forged" not in json.dumps(graded.results)
    assert own["status"] == "crashed" and f"more than {DISK_MB} MB" in own["status_reason"]
    assert found["results"] == {"errno": 13}
    # The source, rubric, reference (also inside the installed package), the grader's state,
    # the results, the original submission and its metadata: not even listed. Nor any
    # labelled digits.
    assert all(attempt == {"errno": 13} for attempt in found["secrets"].values()), found["secrets"]  # EACCES
    shipped = {path: attempt for path, attempt in found["secrets"].items() if "_shipped" in path}
    assert shipped and all(attempt == {"errno": 13} for attempt in shipped.values()), shipped
    assert all(set(attempt) == {"errno"} for attempt in found["labelled_digits"].values())
    assert not [
        path
        for path in found["visible"]
        if path.startswith(("/autograder/source", "/autograder/grader-state"))
    ]
    # The environment: the sandbox's allow-list only, and no other process's.
    assert canary not in json.dumps(found["environment"])
    assert set(found["environment"]["own"]) <= {
        *("PATH", "HOME", "TMPDIR", "MPLCONFIGDIR", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ"),
        *("PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "PYTHONUNBUFFERED", "WANDB_MODE", "WANDB_SILENT"),
        *(
            "HYDRA_FULL_ERROR",
            "MPLBACKEND",
            "NO_COLOR",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
        ),
    }
    # Its detached rewriter and its 1 GB of /tmp did not outlive the run.
    assert graded.processes == [] and graded.scratch == []


def test_a_grader_that_cannot_run_still_leaves_a_valid_result(image: str, tmp_path: Path) -> None:
    sample = PROJECT / "submissions" / "correct_lightning.py"
    # bubblewrap is not in the image: the grader refuses, and says why.
    graded = run_autograder(image, submission_folder(tmp_path, sample), "-e", "GRADER_SANDBOX=process")
    assert graded.results["score"] == 0
    assert "could not grade this submission" in graded.results["output"]
    assert "bubblewrap" in graded.results["output"]
    assert graded.graded == []
