"""Turn the evidence about one submission into points, one check per criterion kind.

A check is registered with `@check(kind)`; a new kind needs a model in the rubric and a
check here, nothing else. Checks that need a runner stage which was never reached are
not judged: they get 0 points and the reason, in the student's terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from statistics import fmean

from grader.contract import Problem, RunReport
from grader.host.execute.checkpoint import CheckpointFacts
from grader.host.judge import causes
from grader.host.judge.static_checks import MAX_SOURCE_BYTES, SourceFacts
from grader.host.judge.verdict import SYNTAX_ERRORS, Need, blocker, fit_blocker, stopped_before, where
from grader.host.results import Cause, CriterionResult, Measured
from grader.rubric.models import Criterion, Rubric
from grader.sandbox import SandboxOutcome


@dataclass
class Evidence:
    report: RunReport | None
    stop_reason: str | None  # why the runner did not reach the end, for the student
    source: SourceFacts
    checkpoint: CheckpointFacts | None
    accuracy: float | None
    reference_accuracy: float | None
    rubric: Rubric
    measured: Measured | None = None  # what the grader measured of the trained model itself
    outcome: SandboxOutcome | None = None  # how the sandbox ended the run
    tampering: str | None = None  # why the run's report is not believed, when it is not

    @property
    def monitor(self) -> str:
        return self.rubric.fit.monitor

    @property
    def batch_size(self) -> int:
        return self.rubric.data.batch_size

    def blocker(self, needs: Need | None) -> str | None:
        return blocker(self.report, self.stop_reason, needs)

    @cached_property
    def stop_cause(self) -> Cause:
        """Why the run stopped where it did, as the cause of what it left unjudged."""
        if self.tampering:
            return causes.tampering_cause()
        stop = self.stop_reason or "grading stopped early"
        return causes.stop_cause(self.outcome, self.report, stop, self.rubric, self.source)

    def blocking_cause(self, needs: Need | None) -> Cause:
        """The cause of `blocker(needs)`: the fit's error, else why the run stopped."""
        if needs is None or stopped_before(self.report, needs):
            return self.stop_cause
        return causes.problem_cause("Trainer.fit", fit_blocker(self.report, needs), self.batch_size)

    def raised(self, what: str, problem: Problem) -> Cause:
        return causes.problem_cause(what, problem, self.batch_size)

    def monitor_cause(self) -> Cause:
        return causes.monitor_cause(self.report, self.source, self.monitor)


@dataclass(frozen=True)
class Verdict:
    fraction: float
    message: str
    fix: str | None = None  # replaces the rubric's hint when the check knows better
    cause: Cause | None = None  # the reason for the missing points, shared with other criteria


Check = Callable[[Criterion, Evidence], Verdict]
CHECKS: dict[str, tuple[Need | None, Check]] = {}
# Checks from the class's source, for when its hooks could not be called; half the credit.
FROM_SOURCE: dict[str, Check] = {}
SOURCE_ONLY_CREDIT = 0.5


def from_source(kind: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        FROM_SOURCE[kind] = function
        return function

    return register


def check(kind: str, needs: Need | None) -> Callable[[Check], Check]:
    """Register the check for `kind`; `needs` is the runner stage its evidence comes from."""

    def register(function: Check) -> Check:
        CHECKS[kind] = (needs, function)
        return function

    return register


def _blocked(criterion: Criterion, evidence: Evidence, needs: Need | None, blocker: str) -> Verdict:
    """A criterion the run never reached: its own hint would send the student after code that
    may well be right, so its fix is the blocking cause's."""
    cause = evidence.blocking_cause(needs)
    if criterion.kind in FROM_SOURCE and evidence.report and evidence.report.hook_sources:
        verdict = FROM_SOURCE[criterion.kind](criterion, evidence)
        return Verdict(
            verdict.fraction * SOURCE_ONLY_CREDIT,
            f"Judged from your source only, because {blocker}: {verdict.message}",
            cause=cause,
        )
    return Verdict(0.0, f"Not judged: {blocker}.", cause=cause)


def assess(rubric: Rubric, evidence: Evidence) -> tuple[list[CriterionResult], list[Cause]]:
    """Every criterion's points and message, and the causes of the missed points, each once."""
    results, found = [], {}
    for criterion in rubric.criteria:
        needs, function = CHECKS[criterion.kind]
        blocker = evidence.blocker(needs)
        verdict = _blocked(criterion, evidence, needs, blocker) if blocker else function(criterion, evidence)
        fraction = min(max(verdict.fraction, 0.0), 1.0)
        cause = found.setdefault(verdict.cause.id, verdict.cause) if verdict.cause and fraction < 1 else None
        fix = verdict.fix or (cause.fix if cause else "") or criterion.hint
        results.append(
            CriterionResult(
                id=criterion.id,
                points=round(criterion.points * fraction, 2),
                max_points=criterion.points,
                message=verdict.message,
                description=criterion.description,
                hint=fix if fraction < 1 else "",
                hidden=criterion.hidden,
                cause=cause.id if cause else None,
            )
        )
    return results, list(found.values())


def _raised(what: str, problem: Problem, evidence: Evidence) -> Verdict:
    return Verdict(
        0.0,
        f"`{what}` raised `{problem.message}`{where(problem.location)}.",
        cause=evidence.raised(what, problem),
    )


def _never_logged(evidence: Evidence) -> str:
    logged = evidence.report.fit.logged_metrics if evidence.report else []
    names = ", ".join(f"`{name}`" for name in logged if not name.startswith(("epoch", "step"))) or "nothing"
    return (
        f"`{evidence.monitor}` is never logged (your code logs {names}): add "
        f'`self.log("{evidence.monitor}", loss)` in `validation_step`'
    )


@check("lightning-module", needs="found")
def _lightning_module(criterion: Criterion, evidence: Evidence) -> Verdict:
    found = evidence.report.discovery
    if found.class_name:
        return Verdict(
            1.0,
            f"`{found.class_name}` ({found.file}:{found.line}) subclasses "
            f"`{found.framework}.LightningModule`; {found.reason}.",
        )
    cause = evidence.stop_cause
    if found.plain_modules:
        names = ", ".join(f"`{name}`" for name in found.plain_modules)
        return Verdict(
            0.0,
            f"{names} is a plain `torch.nn.Module`: subclass `LightningModule` instead "
            "and move the training loop into `training_step`.",
            cause=cause,
        )
    return Verdict(0.0, "No class in your submission subclasses `LightningModule`.", cause=cause)


@check("training-step", needs="probed")
def _training_step(criterion: Criterion, evidence: Evidence) -> Verdict:
    probe = evidence.report.training_step
    if not probe.defined:
        return Verdict(0.0, "`training_step` is not defined.")
    if probe.problem:
        return _raised("training_step", probe.problem, evidence)
    if not probe.loss_is_scalar:
        return Verdict(0.0, f"`training_step` returned a {probe.returned}, not a single loss value.")
    if not probe.loss_requires_grad:
        fit = evidence.report.fit.problem
        # The fit's backward then fails on that loss: one cause, stated with the fit's error.
        cause = evidence.raised("Trainer.fit", fit) if fit and not fit.by_grader else None
        return Verdict(
            0.5,
            "`training_step` returned a loss without a gradient: do not call `.item()`, "
            "`.detach()` or `torch.no_grad()` on it.",
            cause=cause,
        )
    value = f" ({probe.loss_value:.3f})" if probe.loss_value is not None else ""
    model = evidence.rubric.model
    adapted = evidence.report.input_layout != model.input_layouts[0]
    cost = ""
    if adapted and model.adapted_layout_credit < 1:
        cost = f"; the rubric keeps {model.adapted_layout_credit:.0%} of these points for other shapes than ({model.input_layouts[0]})"
    return Verdict(
        model.adapted_layout_credit if adapted else 1.0,
        f"`training_step` returned a scalar loss with a gradient{value} for a batch of "
        f"{evidence.rubric.data.batch_size} digits shaped ({evidence.report.input_layout}){cost}.",
    )


@check("configure-optimizers", needs="probed")
def _configure_optimizers(criterion: Criterion, evidence: Evidence) -> Verdict:
    probe = evidence.report.configure_optimizers
    if probe.problem:
        return _raised("configure_optimizers", probe.problem, evidence)
    if not probe.ok:
        return Verdict(
            0.0,
            f"`configure_optimizers` returned {probe.returned}, which holds no torch optimizer.",
        )
    return Verdict(1.0, f"`configure_optimizers` returned {probe.returned}.")


@check("validation-step", needs="probed")
def _validation_step(criterion: Criterion, evidence: Evidence) -> Verdict:
    probe = evidence.report.validation_step
    if not probe.defined:
        return Verdict(
            0.0,
            f"`validation_step` is not defined: add it and log `{evidence.monitor}` there.",
            cause=evidence.monitor_cause(),
        )
    if probe.problem:
        return _raised("validation_step", probe.problem, evidence)
    if evidence.monitor not in probe.logged:
        logged = ", ".join(f"`{name}`" for name in probe.logged) or "nothing"
        return Verdict(
            0.5,
            f"`validation_step` runs but logs {logged}, not `{evidence.monitor}`: add "
            f'`self.log("{evidence.monitor}", loss)` there.',
            cause=evidence.monitor_cause(),
        )
    return Verdict(1.0, f"`validation_step` runs and logs `{evidence.monitor}`.")


@check("logs-train-loss", needs="probed")
def _logs_train_loss(criterion: Criterion, evidence: Evidence) -> Verdict:
    probe = evidence.report.training_step
    # What the training worker alone says its fit logged counts only where both processes found
    # `training_step` working (a student may log it in an epoch hook).
    logged = set(probe.logged) | (set(evidence.report.fit.logged_metrics) if probe.ok else set())
    if "train_loss" in logged:
        return Verdict(1.0, "`train_loss` is logged.")
    if probe.problem:
        return Verdict(
            0.0,
            "Not judged: `training_step` raised before it logged anything, see `training-step`.",
            cause=evidence.raised("training_step", probe.problem),
        )
    names = ", ".join(f"`{name}`" for name in probe.logged) or "nothing"
    return Verdict(0.0, f'`training_step` logs {names}: add `self.log("train_loss", loss)`.')


@check("fit-completes", needs="fitted")
def _fit_completes(criterion: Criterion, evidence: Evidence) -> Verdict:
    fit = evidence.report.fit
    measurement = evidence.report.measurement
    unable = _cannot_fit(evidence.report)
    if fit.completed and unable:
        return Verdict(
            0.0,
            f"Not confirmed: {unable}, so the fit cannot have run its steps.",
            cause=_hook_cause(evidence),
        )
    if fit.completed and not (measurement and measurement.loaded):
        # The training run's word alone: a fresh process must have built the class and loaded
        # the weights the fit left.
        why = evidence.stop_reason or _unmeasured(evidence)
        return Verdict(
            0.0,
            f"Not confirmed: the trained weights were never loaded into your model again ({why}).",
            cause=_predict_cause(evidence),
        )
    if fit.completed:
        stopped = evidence.report.fit.early_stopping.stopped_epoch
        early = f", stopped early at epoch {stopped}" if stopped else ""
        return Verdict(
            1.0,
            f"`Trainer.fit` ran {fit.epochs_run} epochs ({fit.global_step} steps) in {fit.seconds:.1f} s{early}.",
        )
    if fit.problem and fit.problem.by_grader:
        return Verdict(
            0.0,
            f"The grader's own fit failed, not your code (`{fit.problem.message}`).",
            cause=causes.grader_cause(fit.problem),
        )
    if fit.problem:
        return _raised("Trainer.fit", fit.problem, evidence)
    return Verdict(0.0, "`Trainer.fit` was interrupted before it finished.")


def _predict_cause(evidence: Evidence) -> Cause | None:
    """The error that kept the grader from measuring the trained model, when `forward` raised."""
    problem = evidence.report.predict_problem
    return evidence.raised("forward", problem) if problem else None


def _hook_cause(evidence: Evidence) -> Cause | None:
    """The error of the hook that rules out a fit (`_cannot_fit`), when it raised one."""
    for hook in ("training_step", "configure_optimizers"):
        probe = getattr(evidence.report, hook)
        if not probe.ok:
            return evidence.raised(hook, probe.problem) if probe.problem else None
    return None


def _unmeasured(evidence: Evidence) -> str:
    """Why the grader has no measurement of the trained model, in the student's terms."""
    problem = evidence.report.predict_problem
    if problem:
        return f"`forward` raised `{problem.message}`{where(problem.location)}"
    problems = evidence.measured.problems if evidence.measured else ()
    return problems[0] if problems else "your model's outputs hold no score per digit class"


def _logged_fall(evidence: Evidence, window: int) -> tuple[float, float] | None:
    """The first and last losses `training_step` returned, averaged over `window` steps."""
    losses = evidence.report.fit.train_losses
    if len(losses) < 2 * window:
        return None
    return fmean(losses[:window]), fmean(losses[-window:])


@check("loss-decreases", needs="done")
def _loss_decreases(criterion: Criterion, evidence: Evidence) -> Verdict:
    measured = evidence.measured
    if measured is None or measured.loss_fell is None:
        return Verdict(
            0.0,
            f"The grader could not measure your model's loss: {_unmeasured(evidence)}.",
            cause=_predict_cause(evidence),
        )
    logged = _logged_fall(evidence, criterion.window)
    start, end = measured.initial_loss, measured.final_loss
    if measured.loss_fell:
        said = f"; the loss `training_step` returned went {logged[0]:.3f} → {logged[1]:.3f}" if logged else ""
        return Verdict(
            1.0,
            f"The grader's own loss on held-out digits fell from {start:.3f} (your model as built) "
            f"to {end:.3f} after the fit{said}.",
        )
    message = f"The grader's own loss on held-out digits did not fall: {start:.3f} as built, {end:.3f} after the fit"
    if logged and logged[1] < logged[0]:
        message += (
            f", although the loss `training_step` returned fell ({logged[0]:.3f} → {logged[1]:.3f}): "
            "that loss must come from your model's outputs, so that its gradient trains the weights"
        )
    return Verdict(0.0, message + ".")


def _cannot_fit(report: RunReport) -> str | None:
    """Why the hooks the probing and the training worker both called rule out a fit; the fit's
    record is the training worker's word alone, its hooks' probes are two processes'."""
    for hook in ("training_step", "configure_optimizers"):
        if not getattr(report, hook).ok:
            return f"`{hook}` did not work when the grader called it"
    return None


def _unwatched(evidence: Evidence) -> str | None:
    """Why the callbacks cannot have watched the monitored value: `validation_step`, as both
    processes called it, does not log it."""
    unable = _cannot_fit(evidence.report)
    probe = evidence.report.validation_step
    if unable:
        return unable
    if not probe.ok or evidence.monitor not in probe.logged:
        return f"`validation_step` did not log `{evidence.monitor}` when the grader called it"
    return None


def _unwatched_cause(evidence: Evidence) -> Cause | None:
    """The cause of `_unwatched`: the hook's error, or nothing logging the monitored value."""
    if _cannot_fit(evidence.report):
        return _hook_cause(evidence)
    probe = evidence.report.validation_step
    if probe.problem:
        return evidence.raised("validation_step", probe.problem)
    return _monitor_cause(evidence)


def _monitor_cause(evidence: Evidence) -> Cause | None:
    """The monitored value is never logged, when `validation_step` as the grader called it does
    not log it either (else the criterion's own message says what went wrong)."""
    probe = evidence.report.validation_step
    return evidence.monitor_cause() if evidence.monitor not in probe.logged and not probe.problem else None


def _monitored_disagrees(evidence: Evidence, value: float | None) -> str | None:
    """Why a monitored value the callbacks saw cannot be believed; None when it can.

    A model whose measured loss fell really trained, so what it logged followed a real fit;
    otherwise the value must be the loss the grader measured of the best checkpoint."""
    measured = evidence.measured
    if measured is None or value is None:
        return f"the grader could not measure your model's loss to compare with (`{_unmeasured(evidence)}`)"
    if measured.loss_fell:
        return None
    agreement = measured.agrees_with(value)
    if agreement:
        return None
    if agreement is None:
        return f"the grader could not measure the best checkpoint's loss to compare with ({_unmeasured(evidence)})"
    best = min(measured.validated_losses.values())
    return (
        f"the `{evidence.monitor}` it saw ({value:.3f}) is not your model's loss on the validation digits, "
        f"which the grader measured as {best:.3f}: log the loss of your model's outputs"
    )


@check("checkpoint-saved", needs="done")
def _checkpoint_saved(criterion: Criterion, evidence: Evidence) -> Verdict:
    facts = evidence.checkpoint
    if facts and facts.fits_model:
        score = evidence.report.fit.checkpoint.best_model_score
        best = f" (best {evidence.monitor} {score:.4f})" if score is not None else ""
        unwatched = _unwatched(evidence)
        doubt = unwatched or _monitored_disagrees(evidence, score)
        if doubt:
            cause = _unwatched_cause(evidence) if unwatched else None
            return Verdict(0.0, f"A best checkpoint was saved{best}, but {doubt}.", cause=cause)
        return Verdict(1.0, f"The best checkpoint was saved{best}; {facts.message}.")
    if evidence.monitor not in evidence.report.fit.logged_metrics:
        return Verdict(
            0.0, f"No best checkpoint: {_never_logged(evidence)}.", cause=_unwatched_cause(evidence)
        )
    if facts and facts.found:
        return Verdict(0.5, f"A checkpoint was saved, but {facts.message}.")
    return Verdict(0.0, f"No best checkpoint: {facts.message if facts else 'none was saved'}.")


@check("early-stopping", needs="done")
def _early_stopping(criterion: Criterion, evidence: Evidence) -> Verdict:
    state = evidence.report.fit.early_stopping
    if not state.checks or state.best_score is None:
        return Verdict(
            0.0,
            f"`EarlyStopping` had nothing to watch: {_never_logged(evidence)}.",
            cause=_unwatched_cause(evidence),
        )
    unwatched = _unwatched(evidence)
    doubt = unwatched or _monitored_disagrees(evidence, state.best_score)
    if doubt:
        cause = _unwatched_cause(evidence) if unwatched else None
        return Verdict(0.0, f"`EarlyStopping` watched `{state.monitor}`, but {doubt}.", cause=cause)
    stopped = f", stopped the fit at epoch {state.stopped_epoch}" if state.stopped_epoch else ""
    return Verdict(
        1.0,
        f"`EarlyStopping` watched `{state.monitor}` at {state.checks} validation checks "
        f"(best {state.best_score:.4f}, patience {state.patience}{stopped}).",
    )


@check("uses-callbacks", needs=None)
def _uses_callbacks(criterion: Criterion, evidence: Evidence) -> Verdict:
    if evidence.source.refused:
        return Verdict(0.0, f"Not judged: {evidence.source.refused}.")
    if evidence.source.unparsable and not any(evidence.source.calls.values()):
        files = ", ".join(evidence.source.unparsable)
        problem = evidence.report.import_problem if evidence.report else None
        # The syntax error that stopped the import is the one that keeps the source unread.
        syntax = problem is not None and problem.kind in SYNTAX_ERRORS
        return Verdict(
            0.0,
            f"Not judged: {files} could not be read (a syntax error, or over {MAX_SOURCE_BYTES // 2**10} KB).",
            cause=evidence.stop_cause if syntax else None,
        )
    share = 1.0 / len(criterion.callbacks)
    earned, lines, renamed_only = 0.0, [], True
    for name in criterion.callbacks:
        sites = evidence.source.calls.get(name, [])
        used = [s for s in sites if s.reaches_trainer]
        watching = [s for s in used if s.monitor in (evidence.monitor, "?")]
        if watching:
            earned += share
            lines.append(f"`{name}` is configured at {watching[0].where()}")
        elif used:
            earned += share / 2
            monitor = used[0].monitor
            renamed_only = renamed_only and bool(monitor)
            what = f"monitors `{monitor}`" if monitor else "has no `monitor`"
            lines.append(f'`{name}` at {used[0].where()} {what}; use `monitor="{evidence.monitor}"`')
        elif sites:
            renamed_only = False
            lines.append(
                f"`{name}` is created at {sites[0].where()} but never reaches a `Trainer`: "
                f"pass it in `Trainer(callbacks=[...])`"
            )
        else:
            renamed_only = False
            lines.append(f"`{name}` is not used in your code")
    # Callbacks that watch another name than the one the grader's do, while `validation_step`
    # logs no `val_loss`: one renaming, stated with the missing `val_loss`.
    report = evidence.report
    renamed = renamed_only and report is not None and report.stage in ("probed", "fitted", "done")
    cause = _monitor_cause(evidence) if renamed and report.validation_step.defined else None
    return Verdict(earned, "; ".join(lines) + ".", cause=cause)


@check("accuracy-vs-reference", needs="done")
def _accuracy(criterion: Criterion, evidence: Evidence) -> Verdict:
    if evidence.accuracy is None:
        problem = evidence.report.predict_problem
        why = (
            f"`forward` raised `{problem.message}`{where(problem.location)}"
            if problem
            else "no valid predictions"
        )
        return Verdict(
            0.0, f"Held-out accuracy could not be measured: {why}.", cause=_predict_cause(evidence)
        )
    untrained = evidence.measured.accurate_untrained if evidence.measured else None
    if untrained:
        what, accuracy = untrained
        return Verdict(
            0.0,
            f"Held-out accuracy {evidence.accuracy:.1%}, but {what} already reached {accuracy:.1%}: "
            "the accuracy was not learned in the grader's fit, so it earns nothing (your instructor will review it).",
            fix="Predict from your model's own trained weights: `forward` must compute its answer from the "
            "parameters the fit trains.",
        )
    if not evidence.reference_accuracy:
        return Verdict(0.0, f"Held-out accuracy {evidence.accuracy:.1%}; the reference is unavailable.")
    ratio = evidence.accuracy / evidence.reference_accuracy
    span = criterion.full_credit_ratio - criterion.zero_credit_ratio
    return Verdict(
        (ratio - criterion.zero_credit_ratio) / span,
        f"Held-out accuracy {evidence.accuracy:.1%}, the reference reaches {evidence.reference_accuracy:.1%} "
        f"under the same budget (ratio {ratio:.2f}; full points from {criterion.full_credit_ratio:.2f}).",
    )


def _hook_from_source(evidence: Evidence, hook: str, wanted_log: str | None) -> Verdict:
    source = evidence.report.hook_sources.get(hook)
    if not source or not source.defined:
        return Verdict(0.0, f"`{hook}` is not defined.")
    if wanted_log and wanted_log not in source.logged:
        return Verdict(0.5, f"`{hook}` is defined but does not log `{wanted_log}`.")
    logs = f" and logs `{wanted_log}`" if wanted_log else ""
    return Verdict(1.0, f"`{hook}` is defined{logs}.")


@from_source("training-step")
def _training_step_source(criterion: Criterion, evidence: Evidence) -> Verdict:
    return _hook_from_source(evidence, "training_step", None)


@from_source("validation-step")
def _validation_step_source(criterion: Criterion, evidence: Evidence) -> Verdict:
    return _hook_from_source(evidence, "validation_step", evidence.monitor)


@from_source("configure-optimizers")
def _configure_optimizers_source(criterion: Criterion, evidence: Evidence) -> Verdict:
    return _hook_from_source(evidence, "configure_optimizers", None)


@from_source("logs-train-loss")
def _logs_train_loss_source(criterion: Criterion, evidence: Evidence) -> Verdict:
    source = evidence.report.hook_sources.get("training_step")
    if source and "train_loss" in source.logged:
        return Verdict(1.0, "`training_step` logs `train_loss`.")
    return Verdict(0.0, "`training_step` does not log `train_loss`.")
