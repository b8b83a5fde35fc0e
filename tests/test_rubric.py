"""Rubrics load from YAML, refuse broken files with file, field and reason, and publish a schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from grader.rubric import RubricError, load_rubric
from grader.rubric.models import AccuracyVsReference
from tests.conftest import PROJECT, run_grade


def write_variant(tmp_path: Path, change) -> Path:
    rubric = yaml.safe_load((PROJECT / "rubrics" / "m14.yaml").read_text())
    change(rubric)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(rubric))
    return path


def test_m14_loads_by_id_with_all_criteria() -> None:
    rubric = load_rubric("m14")
    assert rubric.max_score == 100
    assert {c.id for c in rubric.criteria} == {
        "lightning-module", "training-step", "configure-optimizers", "validation-step",
        "logs-train-loss", "fit-completes", "loss-decreases", "checkpoint-saved",
        "early-stopping", "uses-callbacks", "accuracy-vs-reference",
    }  # fmt: skip
    accuracy = next(c for c in rubric.criteria if isinstance(c, AccuracyVsReference))
    assert accuracy.zero_credit_ratio < accuracy.full_credit_ratio


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda r: r["criteria"][0].update(points=-1), "criteria.0", "greater than 0"),
        (lambda r: r["criteria"][1].update(kind="telepathy"), "criteria.1", "kind"),
        (lambda r: r["criteria"].append(dict(r["criteria"][0])), "(top level)", "unique"),
        (lambda r: r["data"].pop("batch_size"), "data.batch_size", "required"),
        (lambda r: r["limits"].update(memory_gb=3), "limits.memory_gb", "not permitted"),
    ],
)
def test_broken_rubric_names_file_field_and_reason(tmp_path: Path, change, field: str, reason: str) -> None:
    path = write_variant(tmp_path, change)
    with pytest.raises(RubricError) as error:
        load_rubric(str(path))
    assert str(path) in str(error.value)
    assert field in str(error.value)
    assert reason in str(error.value)


def test_accuracy_thresholds_must_be_ordered(tmp_path: Path) -> None:
    def swap(rubric: dict) -> None:
        rubric["criteria"][-1].update(zero_credit_ratio=0.95, full_credit_ratio=0.9)

    with pytest.raises(RubricError, match="zero_credit_ratio must be below full_credit_ratio"):
        load_rubric(str(write_variant(tmp_path, swap)))


def test_cli_refuses_unknown_and_broken_rubrics_with_one_line(tmp_path: Path) -> None:
    unknown = run_grade(PROJECT / "submissions", "--rubric", "m99", "--out", tmp_path)
    assert unknown.returncode == 2
    assert "unknown rubric 'm99'" in unknown.stderr
    assert "m14" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    broken = write_variant(tmp_path, lambda r: r["fit"].update(max_epochs=0))
    refused = run_grade(PROJECT / "submissions", "--rubric", broken, "--out", tmp_path)
    assert refused.returncode == 2
    assert "fit.max_epochs" in refused.stderr
    missing = run_grade(tmp_path / "nowhere", "--out", tmp_path)
    assert missing.returncode == 2
    assert "no such file or folder" in missing.stderr


def test_cli_prints_the_json_schema() -> None:
    completed = run_grade("--rubric-schema")
    assert completed.returncode == 0
    schema = json.loads(completed.stdout)
    assert {"criteria", "data", "fit", "limits"} <= set(schema["properties"])


@pytest.mark.slow  # the batch measures the reference solution first
def test_cli_grades_a_single_file_as_a_batch_of_one(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"  # refused at staging: no sandbox run is needed
    notes.write_text("my model is in the other repo")
    completed = run_grade(notes, "--sandbox", "none", "--offline", "--out", tmp_path / "out")
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert [row.split(",")[:4] for row in rows[1:]] == [["notes", "0", "100", "rejected"]]
