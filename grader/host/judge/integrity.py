"""Whether the runner's report can be believed: the checks a forged report rarely survives.

Student code runs in the runner's own process, so it can reach the runner's report writer
and have it sign a made-up run. What it rarely fakes as well is the rest of the evidence:
- an honest runner exits 0 only when it reached its end or stopped where its report says
  why (no class, a model that cannot be built); any other early exit with 0 is not its own;
- a completed fit leaves the checkpoint Lightning saved, with Lightning's record of that fit
  (epoch, step, the checkpoint callback's best score, the optimizer's step counts, the loops),
  and that record must agree with the report.
A suspicion costs the runtime evidence: only what the host reads itself (the source) counts,
and the instructor is told to review the submission.
"""

from __future__ import annotations

import math

from grader.contract import RunReport
from grader.host.execute import Execution

SCORE_TOLERANCE = 1e-4


def suspicions(run: Execution, monitor: str) -> list[str]:
    """Why the report looks forged; empty when it agrees with everything else.

    `monitor` is the metric the grader's `ModelCheckpoint` watches (the rubric's `val_loss`).
    """
    report, outcome = run.report, run.outcome
    if report is None:
        return []
    found: list[str] = []
    stopped_early = report.stage in ("constructed", "probed", "fitted")
    if outcome.exit_code == 0 and stopped_early and not report.runner_problem and not outcome.timed_out:
        found.append(f"the run exited cleanly at stage `{report.stage}`, which the runner never does")
    if report.stage in ("fitted", "done") and report.fit.completed:
        found += _checkpoint_disagrees(report, run, monitor)
    return found


def _checkpoint_disagrees(report: RunReport, run: Execution, monitor: str) -> list[str]:
    fit, facts = report.fit, run.checkpoint
    if not fit.checkpoint.best_model_path:
        if fit.checkpoint.best_model_score is not None:
            return ["a best score is reported without a checkpoint"]
        # The grader's ModelCheckpoint saves at the first validation that logs the metric.
        if monitor in fit.logged_metrics and fit.problem is None:
            return [f"the fit completed with `{monitor}` logged but left no checkpoint"]
        return []
    trace = facts.trace if facts else None
    if trace is None:
        return []  # an unreadable checkpoint costs `checkpoint-saved`, as for anyone
    found = []
    if trace.epoch is None or trace.global_step is None or not trace.has_loops:
        found.append("the checkpoint lacks Lightning's record of the fit (epoch, step, loops)")
        return found
    if trace.global_step > fit.global_step or trace.epoch > fit.epochs_run:
        found.append(
            f"the checkpoint was saved at step {trace.global_step}, epoch {trace.epoch}, after the reported "
            f"end of the fit (step {fit.global_step}, epoch {fit.epochs_run})"
        )
    best = fit.checkpoint.best_model_score
    if best is not None and (
        trace.best_model_score is None
        or not math.isclose(trace.best_model_score, best, abs_tol=SCORE_TOLERANCE)
    ):
        found.append("the checkpoint's best score differs from the reported one")
    # Adam and its kin count steps per parameter; the parameter stepped most often was
    # stepped at every optimizer step (one that got no gradient for a while counts fewer).
    if trace.optimizer_steps and max(trace.optimizer_steps) != trace.global_step:
        found.append(
            f"the optimizer took {max(trace.optimizer_steps)} steps, the checkpoint says {trace.global_step}"
        )
    return found
