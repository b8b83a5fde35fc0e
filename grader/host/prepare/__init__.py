"""Step 1, prepare: what a batch shares (digits, spec, reference) and each submission's copy."""

from __future__ import annotations

from pathlib import Path

from grader import tree
from grader.contract import SPEC_FILE, RunSpec
from grader.host.prepare.data import Splits
from grader.host.prepare.discovery import Submission
from grader.host.prepare.staging import Staged, stage
from grader.rubric.models import Rubric


def digits_bundle(inputs: Path) -> Path:
    """Where the digits of the runner whose inputs are `inputs` lie, outside that folder."""
    return inputs.with_name(f"{inputs.name}-digits.npz")


def write_inputs(rubric: Rubric, splits: Splits, folder: Path) -> Path:
    """The runner's inputs, identical for every submission: the spec in `folder` (which the
    sandbox mounts) and the digits without test labels beside it (which reach it on stdin)."""
    folder.mkdir(parents=True, exist_ok=True)
    splits.write_bundle(digits_bundle(folder))
    spec = RunSpec(
        fit=rubric.fit_settings(),
        class_hint=rubric.model.class_hint,
        init_kwargs=rubric.model.init_kwargs,
        input_layouts=rubric.model.input_layouts,
    )
    (folder / SPEC_FILE).write_text(spec.model_dump_json(), encoding="utf-8")
    return folder


def stage_submission(submission: Submission, work: Path) -> Staged:
    """A fresh private copy of the submission in `work/submission`, with `work/output` empty."""
    tree.remove(work)
    work.mkdir(mode=0o700, parents=True)  # private until a sandbox opens it to its run alone
    staged = stage(submission.path, work / "submission")
    (work / "output").mkdir()
    return staged
