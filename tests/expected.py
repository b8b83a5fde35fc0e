"""The points and status every sample in submissions/ must get: the one table the tests
and CI read. `python -m tests.expected GRADES.csv` checks a `grade submissions/` run against
it and says what differs (CI runs it on the README's own command before the test suite)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

# Points per criterion, in rubric order (rubrics/m14.yaml), and the status.
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
    # The student's runtime context (issue 26): a wandb sweep ranked before the real config is a
    # search space, never values (its list of learning rates once broke `configure_optimizers`).
    "sweep_beside_config": FULL,
    # `validation_loss` instead of `val_loss`: the fit still runs; only what watches `val_loss` is lost.
    "validation_loss_name": ([10, 15, 10, 5, 5, 10, 10, 0, 0, 5, 10], "ok"),
    "no_validation_step": ([10, 15, 10, 0, 5, 10, 10, 0, 0, 0, 10], "ok"),
    "plain_nn_module": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "rejected"),
    "crash_in_training_step": ([10, 0, 10, 0, 0, 0, 0, 0, 0, 10, 0], "crashed"),
    "syntax_error": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "crashed"),
    # The model cannot be built: its hooks are judged from source, for half the points. Nothing
    # gives its constructor's arguments a value, so the grader never calls it and none of the
    # student's code runs: not gradable as handed in, rather than crashed (issue 25).
    "needs_constructor_args": ([10, 7.5, 5, 5, 2.5, 0, 0, 0, 0, 10, 0], "rejected"),
}


def differences(grades_csv: Path) -> list[str]:
    """What in a gradebook differs from the table; empty when it all agrees."""
    with grades_csv.open(newline="") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    problems = [f"{name}: not graded" for name in sorted(set(EXPECTED) - set(rows))]
    problems += [f"{name}: graded but not expected" for name in sorted(set(rows) - set(EXPECTED))]
    for name, (points, status) in sorted(EXPECTED.items()):
        row = rows.get(name)
        if row is None:
            continue
        criteria = list(row)[4:-1]  # between the status and the review column
        got = [float(row[c]) for c in criteria]
        if row["status"] != status or got != points or row["review"]:
            problems.append(f"{name}: {row['status']} {got} {row['review']}, expected {status} {points}")
    return problems


if __name__ == "__main__":
    found = differences(Path(sys.argv[1]))
    print("\n".join(found) or f"all {len(EXPECTED)} samples got their expected points")
    sys.exit(1 if found else 0)
