"""The samples in submissions/ graded end to end through the `grade` command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.host.results import GradeResult
from grader.rubric import load_rubric
from grader.sandbox import SandboxUnavailable, open_sandbox
from tests.conftest import PROJECT, grade_samples, read_csv, read_json, run_grade

pytestmark = pytest.mark.slow

CRITERIA = [c.id for c in load_rubric("m14").criteria]
# Points per criterion, in rubric order, and the status each sample must get.
FULL = ([10, 15, 10, 10, 5, 10, 10, 5, 5, 10, 10], "ok")
EXPECTED = {
    "correct_lightning": FULL,
    "correct_pytorch_lightning": FULL,
    # Real hand-in forms and styles (issue 4): each is a complete solution, so full marks.
    "cloned_repo": FULL,
    "data_in_init": FULL,
    "flat_784_input": FULL,
    "hydra_src_layout": FULL,
    "lecture_notebook": FULL,
    "s204711_lms_download": FULL,
    "several_models": FULL,
    "wandb_torchmetrics": FULL,
    # Real course code (issue 8): built, staged and fitted the way the student's own code runs.
    "callsite_positional": FULL,
    "omegaconf_params": FULL,
    "hydra_cfg_model": FULL,
    "hydra_models_config": FULL,
    "init_loads_data": FULL,
    "datamodule_download": FULL,
    "exported_notebook": FULL,
    "notebook_magics": FULL,
    "flat_forward_step_reshapes": FULL,
    "package_lightning_py": FULL,
    "syspath_hack": FULL,
    "wrapper_backbone": FULL,
    "criterion_arg": FULL,
    "missing_package": FULL,
    "cuda_in_step": FULL,
    # `validation_loss` instead of `val_loss`: the fit still runs; only what watches `val_loss` is lost.
    "validation_loss_name": ([10, 15, 10, 5, 5, 10, 10, 0, 0, 5, 10], "ok"),
    "no_validation_step": ([10, 15, 10, 0, 5, 10, 10, 0, 0, 0, 10], "ok"),
    "plain_nn_module": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "rejected"),
    "crash_in_training_step": ([10, 0, 10, 0, 0, 0, 0, 0, 0, 10, 0], "crashed"),
    "syntax_error": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "crashed"),
    "never_finishes": ([10, 15, 10, 10, 5, 0, 0, 0, 0, 10, 0], "timeout"),
    # The model cannot be built: its hooks are judged from source, for half the points.
    "needs_constructor_args": ([10, 7.5, 5, 5, 2.5, 0, 0, 0, 0, 10, 0], "crashed"),
}


def test_csv_has_a_row_per_sample_and_a_column_per_criterion(graded_samples: Path) -> None:
    header = (graded_samples / "grades.csv").read_text().splitlines()[0].split(",")
    assert header == ["submission", "score", "max_score", "status", *CRITERIA]
    assert set(read_csv(graded_samples / "grades.csv")) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_gets_expected_points_and_status(graded_samples: Path, name: str) -> None:
    points, status = EXPECTED[name]
    row = read_csv(graded_samples / "grades.csv")[name]
    assert row["status"] == status
    assert [float(row[c]) for c in CRITERIA] == points
    assert float(row["score"]) == sum(points)
    result = GradeResult.model_validate(read_json(graded_samples / "results" / f"{name}.json"))
    assert result.status == status
    assert [c.points for c in result.criteria] == points
    assert result.timings.total_seconds > 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_missed_point_is_explained_without_a_traceback(graded_samples: Path, name: str) -> None:
    result = GradeResult.model_validate(read_json(graded_samples / "results" / f"{name}.json"))
    feedback = (graded_samples / "feedback" / f"{name}.md").read_text()
    for criterion in result.criteria:
        assert criterion.message
        assert "Traceback" not in criterion.message
        if criterion.points < criterion.max_points:
            assert criterion.message in feedback


def test_messages_name_what_to_fix(graded_samples: Path) -> None:
    def message(name: str, criterion: str) -> str:
        result = read_json(graded_samples / "results" / f"{name}.json")
        return next(c["message"] for c in result["criteria"] if c["id"] == criterion)

    assert 'self.log("val_loss", loss)' in message("no_validation_step", "checkpoint-saved")
    assert "plain `torch.nn.Module`" in message("plain_nn_module", "lightning-module")
    assert "syntax_error.py:11" in message("syntax_error", "training-step")
    assert "crash_in_training_step.py:15" in message("crash_in_training_step", "training-step")
    assert "time limit" in message("never_finishes", "fit-completes")
    status_reason = read_json(graded_samples / "results" / "needs_constructor_args.json")["status_reason"]
    assert "give the arguments default values" in status_reason
    assert "Judged from your source only" in message("needs_constructor_args", "validation-step")


def test_fit_state_is_recorded(graded_samples: Path) -> None:
    result = GradeResult.model_validate(read_json(graded_samples / "results" / "correct_lightning.json"))
    assert result.fit.completed
    assert result.fit.early_stopping.monitor == "val_loss"
    assert result.fit.early_stopping.checks >= 1
    assert result.fit.checkpoint.best_model_path
    assert result.graded_class == "MNISTClassifier"
    assert result.framework == "lightning.pytorch"
    pl_result = read_json(graded_samples / "results" / "correct_pytorch_lightning.json")
    assert pl_result["framework"] == "pytorch_lightning"


def test_reference_scores_full_marks_in_self_check(test_rubric: Path, tmp_path: Path) -> None:
    completed = run_grade(
        PROJECT / "reference" / "m14", "--self-check", "--rubric", test_rubric, "--out", tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    assert "Score: 100 / 100" in completed.stdout
    result = read_json(tmp_path / "results" / "m14.json")
    assert result["score"] == result["max_score"] == 100
    assert result["accuracy"] == pytest.approx(result["reference_accuracy"])


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("hydra_src_layout", "`MyAwesomeModel(cfg)` with values from configs/config.yaml"),
        ("callsite_positional", "built as in train.py:"),
        ("omegaconf_params", "with values from config.yaml"),
        ("hydra_cfg_model", "with values from conf/config.yaml"),
        ("hydra_models_config", "with values from src/models/config/default_config.yaml"),
        ("criterion_arg", "criterion"),
        ("init_loads_data", "data/processed/train_images.pt"),
        ("init_loads_data", "fit used the grader's data loaders"),
        ("missing_package", "package `torchdrift` is not installed"),
        ("cuda_in_step", "GPU calls ran on the CPU"),
        ("notebook_magics", "notebook_magics.ipynb, code cell 4, line 1 `%%time`"),
        ("flat_forward_step_reshapes", "it predicted from (N,784)"),
        ("wandb_torchmetrics", "wandb.init("),
        ("data_in_init", "data/processed/train_images.pt"),
        ("lecture_notebook", "converted"),
        ("lecture_notebook", "was not run"),
        ("lecture_notebook", "lecture_notebook.ipynb, code cell 1, line 1 `!pip install"),
        ("flat_784_input", "graded with (N,784)"),
    ],
)
def test_adaptations_are_told_to_the_student(graded_samples: Path, name: str, note: str) -> None:
    result = GradeResult.model_validate(read_json(graded_samples / "results" / f"{name}.json"))
    assert any(note in line for line in result.notes), result.notes
    assert note in (graded_samples / "feedback" / f"{name}.md").read_text()


def test_the_intended_class_is_graded_and_the_choice_explained(graded_samples: Path) -> None:
    result = read_json(graded_samples / "results" / "several_models.json")
    assert result["graded_class"] == "MyAwesomeModel"
    message = result["criteria"][0]["message"]
    assert "LinearBaseline" in message
    assert "models.py" in message


@pytest.mark.docker
def test_docker_backend_gives_the_same_grades(
    graded_samples: Path, test_rubric: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    try:
        open_sandbox("docker")
    except SandboxUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))
    in_docker = grade_samples(tmp_path_factory.mktemp("grades-docker"), test_rubric, "docker")
    process_rows, docker_rows = read_csv(graded_samples / "grades.csv"), read_csv(in_docker / "grades.csv")
    assert docker_rows == process_rows
    assert read_json(in_docker / "results" / "correct_lightning.json")["backend"] == "docker"
