"""The GitHub action on its own (issue 23): its steps run as a runner runs them, through
`.github/actions-local-run.sh`; its annotations as the runner reads them; its pins and templates.

The reporting step's summary and `result` output are tested with the other formats
(tests/test_formats.py); the image step with the docker backend (tests/test_docker_backend.py).
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.host.publish.annotations import annotation, repository_path, submission_root
from grader.host.publish.common import plain_text
from grader.host.publish.feedback import HIDDEN_MESSAGE
from grader.host.publish.github_actions import escape_data, escape_property
from grader.host.results import CriterionResult
from grader.rubric import load_rubric
from tests.conftest import PROJECT, SAMPLES

LOCAL_RUN = PROJECT / ".github" / "actions-local-run.sh"
TEMPLATES = PROJECT / ".github" / "templates"
COMMAND = re.compile(r"::(?P<name>[\w-]+)(?: (?P<properties>[^:]*))?::(?P<message>.*)")
# The first major of each action that runs on Node 24 (its action.yml: `runs.using: node24`).
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6}


# --- the runner's side ----------------------------------------------------------------------


def runner_lines(text: str) -> list[str]:
    """The log as the runner reads it: lines end at \\r and \\n only."""
    return re.split(r"\r\n|\r|\n", text)


def unescape(text: str) -> str:
    """What the runner decodes from a command's escaped text."""
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


def commands(log: str) -> list[dict]:
    """Every line the runner runs as a workflow command, parsed as it parses them."""
    found = []
    for line in runner_lines(log):
        body = line.lstrip()
        if body.startswith("::"):
            match = COMMAND.fullmatch(body)
            assert match, f"a command the runner could misread: {line!r}"
            given = match["properties"] or ""
            properties = dict(item.split("=", 1) for item in given.split(",") if item)
            found.append(
                {
                    "name": match["name"],
                    "message": unescape(match["message"]),
                    **{key: unescape(value) for key, value in properties.items()},
                }
            )
        assert "##[" not in line, line
    return found


def read_outputs(path: Path) -> dict[str, str]:
    text = path.read_text()
    blocks = re.findall(r"([\w-]+)<<(ghadelimiter_[0-9a-f]{32})\n(.*?)\n\2\n", text, re.DOTALL)
    assert "".join(f"{n}<<{d}\n{v}\n{d}\n" for n, d, v in blocks) == text, text
    return {name: value for name, _, value in blocks}


# --- annotations ----------------------------------------------------------------------------


def criterion(**given) -> CriterionResult:
    values = {"id": "training-step", "points": 0.0, "max_points": 15.0, "message": "raised at model.py:15"}
    return CriterionResult(**{**values, **given})


def test_escaping_is_the_toolkits() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext%3A a%2C b"
    assert escape_data("%0A") == "%250A"  # an escape already in the text is data


def test_an_annotation_points_at_the_students_file_and_line_from_the_repository_root(tmp_path) -> None:
    (tmp_path / "homework").mkdir()
    (tmp_path / "homework" / "model.py").write_text("")
    for path, root in (("homework", "homework"), ("homework/model.py", "homework"), (".", "."), ("./", ".")):
        assert submission_root(tmp_path, path) == root
    assert repository_path("homework", "src/model.py") == "homework/src/model.py"
    assert repository_path(".", "model.py") == "model.py"
    assert repository_path("homework", "../../etc/passwd") is None
    assert repository_path("homework", "/etc/passwd") is None

    line = annotation(
        criterion(file="model.py", line=15, hint="Flatten before the linear layer."), "homework"
    )
    (parsed,) = commands(line)
    assert parsed == {
        "name": "error",
        "file": "homework/model.py",
        "line": "15",
        "title": "training-step (0/15)",
        "message": "raised at model.py:15\nFix: Flatten before the linear layer.",
    }
    partial = commands(annotation(criterion(points=7.5, file="../outside.py", line=3), "."))[0]
    assert partial["name"] == "warning" and partial["title"] == "training-step (7.5/15)"
    assert "file" not in partial and "line" not in partial  # no place GitHub could show


def test_a_hidden_criterion_is_annotated_without_its_message_or_place() -> None:
    (parsed,) = commands(annotation(criterion(hidden=True, file="model.py", line=3, hint="secret"), "."))
    assert parsed == {"name": "error", "title": "training-step (0/15)", "message": HIDDEN_MESSAGE}


@pytest.mark.parametrize(
    "text",
    [
        "line one\n::add-mask::hunter2\n::stop-commands::token",
        "carriage\r::warning::x and 100%0A%3A literally",
        "\x1b[31m::error file=x.py::coloured\x1b[0m\x00 ##[set-output name=score;]100",
        "a title: with, commas and ::colons:: file=/etc/passwd,line=1",
    ],
)
def test_student_text_in_an_annotation_is_one_commands_data(text: str) -> None:
    line = annotation(criterion(message=text, file=text, line=4, hint=text), ".")
    assert len(runner_lines(line)) == 1
    (parsed,) = commands(line)
    shown = plain_text(text).replace("##[", "# #[")
    assert parsed["message"] == f"{shown}\nFix: {shown}"
    assert parsed["file"] == posixpath.normpath(shown) and parsed["line"] == "4"
    assert set(parsed) == {"name", "file", "line", "title", "message"}


# --- the action's files ---------------------------------------------------------------------


def action() -> dict:
    return yaml.safe_load((PROJECT / "action.yml").read_text())


def workflow_files() -> list[Path]:
    return [PROJECT / "action.yml", *sorted((PROJECT / ".github").rglob("*.yml"))]


def test_no_action_in_the_repository_pins_a_node20_release() -> None:
    pins = []
    for path in workflow_files():
        for uses in re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@v?(\d+)", path.read_text()):
            pins.append((path.name, *uses))
    assert {name for _, name, _ in pins} == set(NODE24_MAJORS), pins
    for where, name, major in pins:
        assert int(major) >= NODE24_MAJORS[name], f"{where}: {name}@v{major} runs on Node 20"


def test_the_action_takes_inputs_through_the_environment_and_always_reports() -> None:
    steps = action()["runs"]["steps"]
    ids = [s.get("id") for s in steps]
    assert ids.index("grade") < ids.index("report") < ids.index("commit-status")
    report = steps[ids.index("report")]
    assert report["if"] == "always()" and "report.sh" in report["run"]
    assert steps[-1]["uses"].startswith("actions/upload-artifact@") and steps[-1]["if"] == "always()"
    assert steps[ids.index("commit-status")]["if"] == "always() && inputs.commit-status == 'true'"
    for name in ("score", "max-score", "status", "result"):
        assert action()["outputs"][name]["value"] == f"${{{{ steps.report.outputs.{name} }}}}"
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], "inputs reach scripts through env only"
            # Never inside the student's checkout, never its folders on sys.path.
            assert step["working-directory"] == "${{ runner.temp }}"
            assert step["env"]["PYTHONSAFEPATH"] == "1"
            script = re.fullmatch(r'bash "\$GITHUB_ACTION_PATH/(.+)"', step["run"].strip())
            assert script and (PROJECT / script[1]).is_file(), step["run"]


def test_the_templates_fit_plain_actions_classroom50_and_classmoji() -> None:
    found = {path.parent.name: path for path in TEMPLATES.rglob("*.yml")}
    assert set(found) == {"actions", "classroom50", "classmoji"}
    for platform, path in found.items():
        assert (
            path.name == "lightning-grader.yml"
        )  # Classmoji writes classroom.yml; Classroom 50 autograde.yaml
        workflow = yaml.safe_load(path.read_text())
        (job,) = workflow["jobs"].values()
        checkout, grading = job["steps"]
        assert checkout["with"]["persist-credentials"] is False
        assert grading["uses"] == "GRADER_REPO@v1" and grading["id"] == "grading"
        assert path.read_text().count("GRADER_REPO") >= 2  # the placeholder, and what to set it to
        given = grading["with"]
        assert set(given) <= set(action()["inputs"]), platform
        assert ("statuses" in workflow["permissions"]) == (given.get("commit-status") is True)
        triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
        assert "tags" not in triggers["push"], "Classroom 50 pushes submit/* tags for its own runs"
    assert "fail-under" in yaml.safe_load(found["actions"].read_text())["jobs"]["grade"]["steps"][1]["with"]
    for path in [*workflow_files(), PROJECT / "README.md"]:
        assert "YOUR-ORG" not in path.read_text(), path


# --- the report step alone --------------------------------------------------------------------


def run_report_step(
    tmp_path: Path, path: str, failed: str, fail_under: str = ""
) -> subprocess.CompletedProcess:
    """The action's report step as the runner runs it, from a checkout holding a fake `grader/`."""
    checkout = tmp_path / "checkout"
    (checkout / "grader").mkdir(parents=True)
    (checkout / "grader" / "__init__.py").write_text("raise SystemExit('the student grader ran')\n")
    env = {
        **os.environ,
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_WORKSPACE": str(checkout),
        "PATH": path,
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_ACTION_PATH": str(PROJECT),
        "RUBRIC": "m14",
        "SUBMISSION": ".",
        "FAIL_UNDER": fail_under,
        "FAILED_STEP": failed,
        "PYTHONSAFEPATH": "1",
    }
    script = PROJECT / ".github" / "action" / "report.sh"
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, cwd=checkout)


def test_the_action_reports_a_failed_step_as_an_error(tmp_path) -> None:
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    completed = run_report_step(tmp_path, path, "getting the grading image")
    assert completed.returncode == 0, completed.stderr  # without fail-under, the failed step says it
    assert "student grader" not in completed.stdout + completed.stderr
    outputs = read_outputs(tmp_path / "output")
    payload = json.loads(base64.b64decode(outputs["result"]))
    assert payload["status"] == "error" and payload["max_score"] == load_rubric("m14").max_score
    assert "getting the grading image failed" in payload["tests"][0]["message"]
    assert (outputs["score"], outputs["max-score"], outputs["status"]) == ("0", "100", "error")
    assert "| | Criterion | Points |" in completed.stdout  # the findings reach the log too
    assert commands(completed.stdout) == []  # nothing graded, nothing to point at


def test_the_action_reports_an_error_even_when_the_grader_could_not_be_installed(tmp_path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    completed = run_report_step(tmp_path, f"{bare / 'bin'}:/usr/bin:/bin", "installing the grader", "50")
    assert completed.returncode == 1, completed.stderr  # nothing graded is below any fail-under
    assert "installing the grader failed" in completed.stdout
    outputs = read_outputs(tmp_path / "output")
    payload = json.loads(base64.b64decode(outputs["result"]))
    assert payload["status"] == "error" and payload["max_score"] == load_rubric("m14").max_score
    assert [t["score"] for t in payload["tests"]] == [0]
    assert (outputs["score"], outputs["max-score"], outputs["status"]) == ("0", "100", "error")
    assert "0 / 100" in (tmp_path / "summary.md").read_text()


# --- the whole action, as a runner runs it -------------------------------------------------


def local_run(tmp_path: Path, submission: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, Path]:
    """`.github/actions-local-run.sh` on a student repository holding `submission` as
    homework/model.py, with the process sandbox in place of docker."""
    workspace = tmp_path / "repository"
    (workspace / "homework").mkdir(parents=True)
    shutil.copy(submission, workspace / "homework" / "model.py")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GRADER_SANDBOX": "process",
        "INPUT_PATH": "homework",
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
    }
    completed = subprocess.run(
        ["bash", str(LOCAL_RUN)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1200
    )
    return completed, tmp_path / "runner" / "lightning-grader"


def test_the_local_run_fails_the_job_when_grading_fails(tmp_path) -> None:
    """No sandbox: a rubric that does not exist stops `grade` before it grades anything."""
    completed, _ = local_run(tmp_path, SAMPLES / "correct_lightning.py", rubric="no-such-rubric")
    assert completed.returncode == 1, completed.stderr
    assert "failed: Grade" in completed.stderr and "skipped: Commit status" in completed.stderr
    assert "grade exited with status 2" in completed.stdout
    outputs = read_outputs(tmp_path / "output")
    assert outputs["status"] == "error" and outputs["score"] == "0"


@pytest.mark.slow
def test_the_action_passes_a_correct_submission(tmp_path) -> None:
    completed, out = local_run(tmp_path, SAMPLES / "correct_lightning.py", fail_under="50")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    (result,) = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    outputs = read_outputs(tmp_path / "output")
    assert float(outputs["score"]) == pytest.approx(result["score"]) and result["score"] >= 50
    assert outputs["max-score"] == "100" and outputs["status"] == "success"
    assert json.loads(base64.b64decode(outputs["result"]))["max_score"] == 100
    missed = [c for c in result["criteria"] if c["points"] < c["max_points"]]
    assert len(commands(completed.stdout)) == len(missed)
    assert "The job passes: it needs 50 points" in (tmp_path / "summary.md").read_text()
    assert "the job succeeds" in completed.stderr


@pytest.mark.slow
def test_the_action_fails_a_crashing_submission_below_fail_under(tmp_path) -> None:
    completed, out = local_run(
        tmp_path, SAMPLES / "crash_in_training_step.py", fail_under="50", commit_status="true"
    )
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr
    assert "failed: Report" in completed.stderr  # grading worked; the points are below fail-under
    (result,) = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    step = next(c for c in result["criteria"] if c["id"] == "training-step")
    assert step["points"] == 0 and step["file"] == "model.py" and step["line"]
    source = (SAMPLES / "crash_in_training_step.py").read_text().splitlines()
    assert 0 < step["line"] <= len(source)

    annotations = {c["title"]: c for c in commands(completed.stdout)}
    assert annotations["training-step (0/15)"] == {
        "name": "error",
        "file": "homework/model.py",  # from the repository's root: the `path` input and the criterion's file
        "line": str(step["line"]),
        "title": "training-step (0/15)",
        "message": f"{step['message']}\nFix: {step['hint']}",
    }
    assert "RuntimeError" in annotations["training-step (0/15)"]["message"]
    missed = [c for c in result["criteria"] if c["points"] < c["max_points"]]
    assert len(annotations) == len(missed)

    outputs = read_outputs(tmp_path / "output")
    assert float(outputs["score"]) == pytest.approx(result["score"]) and result["score"] < 50
    assert (outputs["max-score"], outputs["status"]) == ("100", "failure")
    # What needs GitHub itself: the request it would send, and the files the artifact would hold.
    assert '"state": "failure"' in completed.stdout
    assert f'"description": "{outputs["score"]}/100", "context": "lightning-grader/m14"' in completed.stdout
    for name in ("feedback.md", "result.json", "junit.xml"):
        assert f"{out / 'artifact' / name}\n" in completed.stderr
    assert json.loads((out / "artifact" / "result.json").read_text())["score"] == result["score"]
