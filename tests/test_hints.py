"""The error-hint table (grader/host/judge/hints.py), each hint on an error that real torch and
Lightning raise: every sample in tests/hint_samples/ runs in one Python (torch and Lightning
imported once), its error becomes a `Problem` as the runner makes it, and the table must name
it, with that error's numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.contract import Problem
from grader.host.judge.hints import HINTS, REMOVED_TRAINER_ARGUMENTS, hint_for

SAMPLES = Path(__file__).parent / "hint_samples"
BATCH = 64

# Each sample, the hint it raises, and what that hint must say.
EXPECTED = {
    "unflattened_conv": ("shapes", ["shaped (64, 8, 26, 26)", "`x.flatten(1)`", "8·26·26 = 5408 features", "as it expects"]),
    "wrong_in_features": ("shapes", ["with 5408 = 8·26·26 (channels, height, width", "expects 128", "`nn.Linear(5408, 10)`"]),
    "float_labels": ("label-dtype", ["class indices of dtype `torch.long`, not Float", "no `.float()`"]),
    "one_hot_labels": ("label-probabilities", ["class probabilities", "instead of one-hot labels"]),
    "layers_in_a_list": ("no-parameters", ["`nn.ModuleList`, not a Python list", "`self.parameters()`"]),
    "lightning1_trainer": ("trainer-argument", ['removed `Trainer(gpus=...)`: use `accelerator="gpu", devices=N`']),
    "detached_loss": ("no-gradient", ["no gradient", "`torch.no_grad()`"]),
    "checkpoint_unlogged": ("checkpoint-not-logged", ['`self.log("val_loss", loss)` in `validation_step`']),
    "early_stopping_unlogged": ("early-stopping-not-logged", ['`self.log("val_loss", loss)` in `validation_step`']),
}  # fmt: skip

# Runs each sample as a script, and turns what it raises into the runner's `Problem`; then
# checks that Lightning's `Trainer` refuses every argument the table calls removed.
DRIVER = """
import json, runpy, sys, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
from grader.runner.problems import problem_from
samples = Path(sys.argv[1])
sys.path.insert(0, str(samples))
raised = {}
for name in sys.argv[3:]:
    try:
        runpy.run_path(str(samples / f"{name}.py"), run_name="__main__")
    except Exception as error:
        raised[name] = problem_from(error, samples).model_dump()
from lightning.pytorch import Trainer
refused = {}
for argument in json.loads(sys.argv[2]):
    try:
        Trainer(**{argument: 1})
    except TypeError as error:
        refused[argument] = str(error)
print(json.dumps({"raised": raised, "refused": refused}))
"""


@pytest.fixture(scope="module")
def raised(tmp_path_factory: pytest.TempPathFactory) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", DRIVER, SAMPLES, json.dumps(list(REMOVED_TRAINER_ARGUMENTS)), *EXPECTED],
        cwd=tmp_path_factory.mktemp("hint-samples"),  # Lightning's checkpoints land there
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


def matching(problem: Problem) -> list[str]:
    return [hint.name for hint in HINTS if hint.pattern.search(problem.message)]


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_each_hint_names_the_error_a_sample_raises(raised: dict, sample: str) -> None:
    name, says = EXPECTED[sample]
    problem = Problem.model_validate(raised["raised"][sample])
    assert matching(problem) == [name], problem.message
    hint = hint_for(problem, BATCH)
    for words in says:
        assert words in hint, (words, hint)


def test_every_hint_is_raised_by_a_sample() -> None:
    assert {name for name, _ in EXPECTED.values()} == {hint.name for hint in HINTS}


def test_the_removed_trainer_arguments_are_ones_lightning_refuses(raised: dict) -> None:
    refused = raised["refused"]
    assert sorted(refused) == sorted(REMOVED_TRAINER_ARGUMENTS)
    for argument, message in refused.items():
        problem = Problem(kind="TypeError", message=f"TypeError: {message}")
        assert hint_for(problem, BATCH) == (
            f"Lightning 2 removed `Trainer({argument}=...)`: use {REMOVED_TRAINER_ARGUMENTS[argument]} instead."
        )


def test_a_hint_quotes_only_what_its_pattern_bounds() -> None:
    """A name in a student's message is no longer than the pattern allows: the rest is not quoted."""
    long = "v" * 500
    problem = Problem(
        kind="RuntimeError", message=f"Early stopping conditioned on metric `{long}` which is not available"
    )
    assert hint_for(problem, BATCH) is None
    other = Problem(kind="KeyError", message="KeyError: 'img'")
    assert hint_for(other, BATCH) is None
