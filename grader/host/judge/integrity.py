"""Whether the runner's report can be believed.

The runner's supervisor signs the report and never runs student code; the workers that do
run it cannot sign. Evidence of tampering comes from three places:
- the supervisor's own observations (`RunReport.tampering`): the tripwire in the workers
  (`gc` walks, the grader's frames read, its functions replaced, `ctypes`), a report file
  written by someone else, a worker that exits cleanly without finishing, results that
  change after they were reported, a checkpoint rewritten after the fit;
- a report file that is there but not signed by the supervisor;
- the checkpoint Lightning saved, whose record of the fit (epoch, step, the checkpoint
  callback's best score, the optimizer's step counts, the loops) must agree with the report.
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
    report = run.report
    if report is None:
        return ["the report file is not the one the grader wrote"] if run.report_refused else []
    found = list(report.tampering)
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
