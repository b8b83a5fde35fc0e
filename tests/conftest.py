"""Shared set-up: offline, private caches, and one graded batch of the samples per session.

The samples are graded once, by the README's own command; every test that needs graded
samples reads that run. CI grades them itself before the suite and passes its output in
`GRADER_SAMPLE_GRADES`, so they are graded once per CI run too.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "submissions"
SAMPLE_GRADES_ENV = "GRADER_SAMPLE_GRADES"
# Short enough that a hostile sample that never finishes does not dominate the suite.
TEST_WALL_SECONDS = 90


# A test that uses one of these trains a model or starts a sandbox: it is `slow`.
SLOW_FIXTURES = {"sandbox", "graders", "graded_samples", "short_fit_inputs", "inputs"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """No downloads, no developer caches: tests see what CI sees."""
    base = tmp_path_factory.mktemp("env")
    values = {
        "GRADER_OFFLINE": "1",
        "GRADER_CACHE_DIR": str(base / "cache"),
        "GRADER_DATA_DIR": str(base / "no-mnist-here"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def short_fit_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runner inputs for sandbox tests: real digits, a fit of a few batches."""
    from grader.contract import RunSpec
    from grader.host.prepare import digits_bundle
    from grader.host.prepare.data import make_splits
    from grader.rubric import load_rubric

    rubric = load_rubric("m14")
    folder = tmp_path_factory.mktemp("inputs")
    make_splits(rubric.data, tmp_path_factory.mktemp("nodata"), download=False).write_bundle(
        digits_bundle(folder)
    )
    fit = rubric.fit_settings().model_copy(
        update={"max_epochs": 1, "limit_train_batches": 3, "limit_val_batches": 1}
    )
    spec = RunSpec(fit=fit, class_hint=rubric.model.class_hint, input_layouts=rubric.model.input_layouts)
    (folder / "spec.json").write_text(spec.model_dump_json())
    return folder


@pytest.fixture(scope="session")
def test_rubric(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The m14 rubric with a shorter wall-clock limit."""
    rubric = yaml.safe_load((PROJECT / "rubrics" / "m14.yaml").read_text())
    rubric["limits"]["wall_seconds"] = TEST_WALL_SECONDS
    path = tmp_path_factory.mktemp("rubric") / "m14-test.yaml"
    path.write_text(yaml.safe_dump(rubric))
    return path


def run_grade(*args: str | Path, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    """The `grade` console script, as a user runs it."""
    command = [str(Path(sys.executable).parent / "grade"), *map(str, args)]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=os.environ.copy(), timeout=1800
    )


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def graded_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`grade submissions/ --rubric m14` with the default sandbox, run once per session."""
    given = os.environ.get(SAMPLE_GRADES_ENV)
    if given:
        assert (Path(given) / "grades.csv").is_file(), f"{SAMPLE_GRADES_ENV}={given} holds no grades.csv"
        return Path(given)
    out = tmp_path_factory.mktemp("grades")
    completed = run_grade(SAMPLES, "--rubric", "m14", "--out", out)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return out


def graded_copy(graded: Path, destination: Path) -> tuple[Path, Path]:
    """A copy of the samples and of their grades, for tests that grade them again."""
    submissions, out = destination / "submissions", destination / "grades"
    shutil.copytree(SAMPLES, submissions, ignore=shutil.ignore_patterns("hostile"))
    shutil.copytree(graded, out)
    return submissions, out
