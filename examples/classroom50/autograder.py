"""A Classroom 50 autograder that grades the student's checkout with lightning-grader.

Put it at `CLASSROOM/autograders/ASSIGNMENT/autograder.py` in the classroom50 repository
(a rubric YAML next to it is used when there is one, else `--rubric m14`). Classroom 50's
runner starts it in the student's checkout with its identity variables set (`CLASSROOM`,
`ASSIGNMENT`, `SUBMISSION_TAG`, `COMMIT_URL`, ...). It runs

    grade . --self-check --format classroom50

leaves `./result.json` and `./release-body.md` as the runner reads them, with the graded
commit's date as `datetime`, and writes `status=` and `summary=` to `$GITHUB_OUTPUT` as the
runner's own autograders do. It exits 0 whenever grading ran, whatever the score (the score
is in result.json); a non-zero exit is an infrastructure error to Classroom 50.

`grade` must be installed (the assignment's `runtime` block, or `LIGHTNING_GRADER_SPEC`: a pip
requirement installed when `grade` is missing). `GRADER_SANDBOX` picks the sandbox (default
`docker`): the code graded is a student's, on the course's runner, so it never runs without one;
where none works, the autograder exits non-zero. Docker needs the grading image of the installed
grader's version on the runner: `GRADER_IMAGE` names it (the one `.github/workflows/publish-image.yml`
publishes, e.g. `ghcr.io/OWNER/lightning-grader:v1.2.0`, pulled when missing), else
`lightning-grader:latest` must be there already (`docker build -t lightning-grader:latest .` in the
grader's checkout).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGE = "lightning-grader:latest"  # grader/sandbox/docker.py's, when GRADER_IMAGE is unset


def grade_command() -> list[str]:
    found = shutil.which("grade")
    if found:
        return [found]
    spec = os.environ.get("LIGHTNING_GRADER_SPEC")
    if not spec:
        sys.exit("::error::lightning-grader is not installed and LIGHTNING_GRADER_SPEC is not set")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", spec], check=True)
    return [sys.executable, "-m", "grader"]


def ensure_grading_image() -> None:
    """The docker backend's image on the runner, pulled when missing, or an infrastructure error."""
    image = os.environ.get("GRADER_IMAGE") or DEFAULT_IMAGE
    if shutil.which("docker") is None:
        sys.exit("::error::GRADER_SANDBOX=docker, but the runner has no docker")
    try:
        here = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
        if here.returncode == 0:
            return
        if "/" in image and subprocess.run(["docker", "pull", "--quiet", image], check=False).returncode == 0:
            return
    except OSError as error:
        sys.exit(f"::error::docker does not run: {error}")
    sys.exit(
        f"::error::no grading image {image} on the runner: set GRADER_IMAGE to the published image of "
        "the installed grader's version, or build it on the runner"
    )


def write_own(name: str, data: bytes) -> None:
    """`name` in the checkout as a new file of ours: whatever the student committed under that name
    (a symlink to a file of the runner's, a folder) is removed first, and the write follows no link."""
    path = Path(name)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def rubric() -> str:
    local = sorted(HERE.glob("*.yaml"))
    return str(local[0]) if local else "m14"


def commit_date() -> str | None:
    """The graded commit's committer date in UTC: Classroom 50's `datetime`, the same on a regrade."""
    try:
        shown = subprocess.run(
            ["git", "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ"],
            capture_output=True,
            text=True,
            env={**os.environ, "TZ": "UTC"},
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return shown.stdout.strip() or None


def status_and_summary(result: dict) -> tuple[str, str]:
    passed = sum(test["passed"] for test in result["tests"])
    total = len(result["tests"])
    score = f"{result['score']}/{result['max-score']}"
    if passed == total:
        return "success", f"lightning-grader: {score} (all criteria passed)"
    return "failure", f"lightning-grader: {score} ({passed}/{total} criteria passed)"


def main() -> None:
    sandbox = os.environ.get("GRADER_SANDBOX", "docker")
    if sandbox == "docker":
        ensure_grading_image()
    with tempfile.TemporaryDirectory() as out:
        command = [
            *grade_command(),
            ".",
            "--self-check",
            "--rubric",
            rubric(),
            "--format",
            "classroom50",
            "--sandbox",
            sandbox,
            "--out",
            out,
        ]
        graded = subprocess.run(command, check=False)
        if not (Path(out) / "result.json").is_file():
            sys.exit(f"::error::grading produced no result (exit code {graded.returncode})")
        result = json.loads((Path(out) / "result.json").read_text(encoding="utf-8"))
        release_body = (Path(out) / "release-body.md").read_bytes()
    if date := commit_date():
        result["datetime"] = date
    write_own("result.json", (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    write_own("release-body.md", release_body)
    status, summary = status_and_summary(result)
    if "GITHUB_OUTPUT" in os.environ:
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
            output.write(f"status={status}\nsummary={summary}\n")
    print(summary)


if __name__ == "__main__":
    main()
