"""The samples in submissions/ graded end to end through the `grade` command."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.host.results import GradeResult
from grader.rubric import load_rubric
from grader.sandbox import SandboxUnavailable, open_sandbox
from tests.conftest import PROJECT, SAMPLES, read_csv, read_json, run_grade
from tests.expected import EXPECTED
from tests.test_inert_text import shown_text

pytestmark = pytest.mark.slow

CRITERIA = [c.id for c in load_rubric("m14").criteria]


def test_csv_has_a_row_per_sample_and_a_column_per_criterion(graded_samples: Path) -> None:
    header = (graded_samples / "grades.csv").read_text().splitlines()[0].split(",")
    assert header == ["submission", "score", "max_score", "status", *CRITERIA, "review"]
    assert set(read_csv(graded_samples / "grades.csv")) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_gets_expected_points_and_status(graded_samples: Path, name: str) -> None:
    points, status = EXPECTED[name]
    row = read_csv(graded_samples / "grades.csv")[name]
    assert row["status"] == status
    assert [float(row[c]) for c in CRITERIA] == points
    assert row["review"] == ""  # no honest sample looks tampered with
    assert float(row["score"]) == sum(points)
    result = GradeResult.model_validate(read_json(graded_samples / "results" / f"{name}.json"))
    assert result.status == status
    assert [c.points for c in result.criteria] == points
    assert result.timings.total_seconds > 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_missed_point_is_explained_without_a_traceback(graded_samples: Path, name: str) -> None:
    result = GradeResult.model_validate(read_json(graded_samples / "results" / f"{name}.json"))
    # As a reader sees it; an error's own backticks show in its block.
    feedback = shown_text((graded_samples / "feedback" / f"{name}.md").read_text()).replace("`", "")
    causes = {cause.id: cause for cause in result.causes}
    for criterion in result.criteria:
        assert criterion.message
        assert "Traceback" not in criterion.message
        if criterion.points < criterion.max_points:
            # A criterion held back by a cause is explained by its cause, once for all of them.
            cause = causes.get(criterion.cause)
            said = [cause.title, cause.detail, cause.error] if cause else [criterion.message]
            for text in filter(None, said):
                assert " ".join(text.replace("`", "").split()) in feedback


def test_messages_name_what_to_fix(graded_samples: Path) -> None:
    def message(name: str, criterion: str) -> str:
        result = read_json(graded_samples / "results" / f"{name}.json")
        return next(c["message"] for c in result["criteria"] if c["id"] == criterion)

    assert 'self.log("val_loss", loss)' in message("no_validation_step", "checkpoint-saved")
    assert "plain `torch.nn.Module`" in message("plain_nn_module", "lightning-module")
    assert "syntax_error.py:11" in message("syntax_error", "training-step")
    assert "crash_in_training_step.py:15" in message("crash_in_training_step", "training-step")
    status_reason = read_json(graded_samples / "results" / "needs_constructor_args.json")["status_reason"]
    assert "your model could not be built" in status_reason and "give them default values" in status_reason
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


def test_reference_scores_full_marks_in_self_check(tmp_path: Path) -> None:
    completed = run_grade(PROJECT / "reference" / "m14", "--self-check", "--rubric", "m14", "--out", tmp_path)
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
    assert note.replace("`", "") in shown_text((graded_samples / "feedback" / f"{name}.md").read_text())


def test_the_intended_class_is_graded_and_the_choice_explained(graded_samples: Path) -> None:
    result = read_json(graded_samples / "results" / "several_models.json")
    assert result["graded_class"] == "MyAwesomeModel"
    message = result["criteria"][0]["message"]
    assert "LinearBaseline" in message
    assert "models.py" in message


# One sample of each outcome: full marks through the student's config, partial, crashed.
REPRESENTATIVE = ("hydra_src_layout", "no_validation_step", "crash_in_training_step")


@pytest.mark.docker
@pytest.mark.process
def test_both_isolating_backends_give_the_same_grades(graded_samples: Path, tmp_path: Path) -> None:
    """The representative samples graded on the backend the session's run did not use."""
    rows = read_csv(graded_samples / "grades.csv")
    used = read_json(graded_samples / "results" / f"{REPRESENTATIVE[0]}.json")["backend"]
    other = "process" if used == "docker" else "docker"
    try:
        open_sandbox(other)
    except SandboxUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in REPRESENTATIVE:
        source = next(SAMPLES.glob(f"{name}*"))
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, folder / source.name)
    completed = run_grade(folder, "--rubric", "m14", "--out", tmp_path / "out", "--sandbox", other)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    again = read_csv(tmp_path / "out" / "grades.csv")
    assert again == {name: rows[name] for name in REPRESENTATIVE}
    assert read_json(tmp_path / "out" / "results" / f"{REPRESENTATIVE[0]}.json")["backend"] == other
