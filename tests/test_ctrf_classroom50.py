"""The CTRF and Classroom 50 formats, checked by their real consumers on the graded samples.

CTRF reports are validated by CTRF's reference implementation (npm package `ctrf`) and
rendered into a job summary by `github-actions-ctrf`; Classroom 50 results are validated
against Classroom 50's published schema (tests/classroom50/, vendored). The npm packages are
installed once into pytest's cache (or taken from `GRADER_NPM_TOOLS`, a folder holding their
node_modules); without npm these tests skip, except in CI (`CI` set), where they fail. The
locations every format reads are checked on the samples too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader.host.publish import read_results
from grader.host.publish.classroom50 import integer_scores, write_classroom50
from grader.host.publish.ctrf import write_ctrf
from grader.host.publish.junit import junit_tree
from grader.rubric import load_rubric
from tests.conftest import SAMPLES

NPM_PACKAGES = ("ctrf", "github-actions-ctrf")
CLASSROOM50_SCHEMA = Path(__file__).parent / "classroom50" / "result-v1.schema.json"
CLASSROOM50_ENV = {
    "CLASSROOM": "ml-ops",
    "ASSIGNMENT": "m14",
    "ASSIGNMENT_TYPE": "individual",
    "USERNAME": "alice",
    "SUBMISSION_TAG": "submit/2026-09-01T10-00-00Z-abc1234",
    "COMMIT_URL": "https://github.com/course/m14-alice/commit/abc1234",
    "RELEASE_URL": "https://github.com/course/m14-alice/releases/tag/submit%2F2026",
}


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def npm_tools(request: pytest.FixtureRequest) -> Path:
    """A folder whose node_modules holds `ctrf` and `github-actions-ctrf`."""
    given = os.environ.get("GRADER_NPM_TOOLS")
    folder = Path(given) if given else request.config.cache.mkdir("npm-ctrf")
    if all((folder / "node_modules" / name / "package.json").is_file() for name in NPM_PACKAGES):
        return folder
    if not shutil.which("npm") or not shutil.which("node"):
        _missing("npm and node are needed to check CTRF with its reference implementation")
    installed = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), *NPM_PACKAGES],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    return folder


@pytest.fixture(scope="module")
def graded(graded_samples: Path) -> dict:
    return read_results(graded_samples)


@pytest.fixture(scope="module")
def rubric():
    return load_rubric("m14")


def ctrf_validation(tools: Path, reports: list[Path]) -> list[dict]:
    """`validate` of the `ctrf` package on each report: `{valid, errors}`."""
    script = (
        "const {validate} = require(process.argv[1]); const fs = require('fs');"
        "console.log(JSON.stringify(process.argv.slice(2).map("
        "f => validate(JSON.parse(fs.readFileSync(f, 'utf8'))))));"
    )
    module = tools / "node_modules" / "ctrf"
    done = subprocess.run(
        ["node", "-e", script, str(module), *map(str, reports)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ctrf_reports_are_valid_for_the_reference_implementation(graded, rubric, npm_tools, tmp_path):
    write_ctrf(list(graded.values()), rubric, tmp_path / "batch")
    write_ctrf([graded["crash_in_training_step"]], rubric, tmp_path / "one")
    reports = [*sorted((tmp_path / "batch" / "ctrf").glob("*.json")), tmp_path / "one" / "ctrf-report.json"]
    assert len(reports) == len(graded) + 1
    for path, verdict in zip(reports, ctrf_validation(npm_tools, reports), strict=True):
        assert verdict == {"valid": True, "errors": []}, (path.name, verdict)
    report = json.loads((tmp_path / "one" / "ctrf-report.json").read_text())
    result = graded["crash_in_training_step"]
    assert report["results"]["tool"]["name"] == "lightning-grader"
    summary = report["results"]["summary"]
    assert summary["tests"] == len(result.criteria)
    assert summary["failed"] == sum(not c.passed for c in result.criteria)
    step = next(t for t in report["results"]["tests"] if t["name"] == "training-step")
    assert step["status"] == "failed" and step["filePath"] == "crash_in_training_step.py"
    assert step["extra"]["points"] == 0 and step["extra"]["maxPoints"] == 15 and step["extra"]["hint"]


def test_github_actions_ctrf_renders_the_criteria(graded, rubric, npm_tools, tmp_path):
    result = graded["crash_in_training_step"]
    write_ctrf([result], rubric, tmp_path)
    summary = tmp_path / "step-summary.md"
    summary.touch()
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_REPOSITORY": "course/m14-alice"}
    cli = npm_tools / "node_modules" / "github-actions-ctrf" / "dist" / "core" / "cli.js"
    done = subprocess.run(
        ["node", str(cli), str(tmp_path / "ctrf-report.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shown = summary.read_text()
    for criterion in result.criteria:
        assert criterion.id in shown
    # It annotates each failed test at the place the grader found.
    step = next(c for c in result.criteria if c.id == "training-step")
    assert f"file=crash_in_training_step.py,line={step.line}" in done.stdout


def test_classroom50_results_match_the_published_schema(graded, rubric, tmp_path, monkeypatch):
    for name, value in CLASSROOM50_ENV.items():
        monkeypatch.setenv(name, value)
    validator = jsonschema.Draft202012Validator(json.loads(CLASSROOM50_SCHEMA.read_text()))
    write_classroom50(list(graded.values()), rubric, tmp_path / "batch")
    write_classroom50([graded["crash_in_training_step"]], rubric, tmp_path / "one")
    documents = {path.stem: path for path in (tmp_path / "batch" / "classroom50").glob("*.json")}
    assert set(documents) == set(graded)
    for name, path in [*documents.items(), ("crash_in_training_step", tmp_path / "one" / "result.json")]:
        document = json.loads(path.read_text())
        validator.validate(document)
        result = graded[name]
        tests = document["tests"]
        assert document["score"] == sum(t["score"] for t in tests) <= document["max-score"]
        assert document["max-score"] == rubric.max_score  # m14's points are whole already
        assert abs(document["score"] - result.score) < len(tests)
        for test, criterion in zip(tests, result.criteria, strict=True):
            assert test["test-name"] == criterion.id and test["passed"] == criterion.passed
            assert (test["score"] == test["max-score"]) == criterion.passed
    body = (tmp_path / "one" / "release-body.md").read_text()
    crashed = json.loads((tmp_path / "one" / "result.json").read_text())
    assert f"{crashed['score']}/{crashed['max-score']}" in body.splitlines()[0]
    assert "| `training-step` | FAIL | 0 / 15 |" in body


def test_integer_rule_sums_and_keeps_partial_criteria_below_full():
    assert integer_scores([10, 2.5, 7.34], [10, 5, 10]) == ([10, 3, 7], [10, 5, 10])
    assert integer_scores([4.6, 4.6], [5, 5]) == ([4, 4], [5, 5])  # 5 would read as full points
    assert integer_scores([1.25, 0.5], [2.5, 0.5]) == ([13, 5], [25, 5])  # scaled by 10


def test_locations_point_at_the_students_code(graded, rubric):
    crash = graded["crash_in_training_step"]
    source = (SAMPLES / "crash_in_training_step.py").read_text().splitlines()
    by_id = {c.id: c for c in crash.criteria}
    # The raising statement: the innermost frame of the student's file, in `forward`.
    raising = next(n for n, line in enumerate(source, 1) if "self.fc(torch.relu(self.conv(x)))" in line)
    assert (by_id["training-step"].file, by_id["training-step"].line) == (
        "crash_in_training_step.py",
        raising,
    )
    declared = next(n for n, line in enumerate(source, 1) if line.startswith("class MyAwesomeModel"))
    assert by_id["lightning-module"].line == declared
    missing = {c.id: c for c in graded["no_validation_step"].criteria}["validation-step"]
    assert missing.file == "no_validation_step.py" and missing.line is not None
    notebook = {c.id: c for c in graded["lecture_notebook"].criteria}["training-step"]
    assert notebook.file == "lecture_notebook.ipynb" and notebook.cell and notebook.line
    for result in graded.values():
        for criterion in result.criteria:
            if criterion.file is None:
                continue
            assert not Path(criterion.file).is_absolute() and ".." not in Path(criterion.file).parts
            folder = SAMPLES / result.submission
            if folder.is_dir():
                assert (folder / criterion.file).is_file()
            elif not (SAMPLES / f"{result.submission}.zip").is_file():
                assert Path(criterion.file).stem == result.submission  # a lone .py or notebook
    case = junit_tree([crash], rubric).getroot().find("testsuite/testcase[@name='training-step']")
    assert isinstance(case, ET.Element)
    assert (case.get("file"), case.get("line")) == ("crash_in_training_step.py", str(raising))
