"""Turn the evidence about one submission into points, one check per criterion kind.

A check is registered with `@check(kind)`; a new kind needs a model in the rubric and a
check here, nothing else. Checks that need a runner stage which was never reached are
not judged: they get 0 points and the reason, in the student's terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import fmean

from grader.contract import Problem, RunReport
from grader.host.execute.checkpoint import CheckpointFacts
from grader.host.judge.static_checks import MAX_SOURCE_BYTES, SourceFacts
from grader.host.judge.verdict import Need, blocker, where
from grader.host.results import CriterionResult, Measured
from grader.rubric.models import Criterion, Rubric


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

    @property
    def monitor(self) -> str:
        return self.rubric.fit.monitor

    def blocker(self, needs: Need | None) -> str | None:
        return blocker(self.report, self.stop_reason, needs)


@dataclass(frozen=True)
class Verdict:
    fraction: float
    message: str
    fix: str | None = None  # replaces the rubric's hint when the check knows better


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


def blocked_fix(blocker: str) -> str:
    """What to do about a criterion the run never reached: the criterion's own hint would send
    the student after code that may well be right."""
    return (
        f"First fix what kept this from being checked: {blocker} (the reason under your score says "
        "more). It is then checked on your running code."
    )


def score(rubric: Rubric, evidence: Evidence) -> list[CriterionResult]:
    results = []
    for criterion in rubric.criteria:
        needs, function = CHECKS[criterion.kind]
        blocker = evidence.blocker(needs)
        if not blocker:
            verdict = function(criterion, evidence)
        elif criterion.kind in FROM_SOURCE and evidence.report and evidence.report.hook_sources:
            verdict = FROM_SOURCE[criterion.kind](criterion, evidence)
            verdict = Verdict(
                verdict.fraction * SOURCE_ONLY_CREDIT,
                f"Judged from your source only, because {blocker}: {verdict.message}",
                blocked_fix(blocker),
            )
        else:
            verdict = Verdict(0.0, f"Not judged: {blocker}.", blocked_fix(blocker))
        fraction = min(max(verdict.fraction, 0.0), 1.0)
        results.append(
            CriterionResult(
                id=criterion.id,
                points=round(criterion.points * fraction, 2),
                max_points=criterion.points,
                message=verdict.message,
                description=criterion.description,
                hint=(verdict.fix or criterion.hint) if fraction < 1 else "",
                hidden=criterion.hidden,
            )
        )
    return results


def _raised(what: str, problem: Problem) -> Verdict:
    place = problem.location or "your code"
    return Verdict(
        0.0,
        f"`{what}` raised `{problem.message}`{where(problem.location)}.",
        fix=f"Fix the `{problem.kind}` at {place} first; run one training step locally to see the full traceback.",
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
    if found.plain_modules:
        names = ", ".join(f"`{name}`" for name in found.plain_modules)
        return Verdict(
            0.0,
            f"{names} is a plain `torch.nn.Module`: subclass `LightningModule` instead "
            "and move the training loop into `training_step`.",
        )
    return Verdict(0.0, "No class in your submission subclasses `LightningModule`.")


@check("training-step", needs="probed")
def _training_step(criterion: Criterion, evidence: Evidence) -> Verdict:
    probe = evidence.report.training_step
    if not probe.defined:
        return Verdict(0.0, "`training_step` is not defined.")
    if probe.problem:
        return _raised("training_step", probe.problem)
    if not probe.loss_is_scalar:
        return Verdict(0.0, f"`training_step` returned a {probe.returned}, not a single loss value.")
    if not probe.loss_requires_grad:
        return Verdict(
            0.5,
            "`training_step` returned a loss without a gradient: do not call `.item()`, "
            "`.detach()` or `torch.no_grad()` on it.",
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
        return _raised("configure_optimizers", probe.problem)
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
        return Verdict(0.0, f"`validation_step` is not defined: add it and log `{evidence.monitor}` there.")
    if probe.problem:
        return _raised("validation_step", probe.problem)
    if evidence.monitor not in probe.logged:
        logged = ", ".join(f"`{name}`" for name in probe.logged) or "nothing"
        return Verdict(
            0.5,
            f"`validation_step` runs but logs {logged}, not `{evidence.monitor}`: add "
            f'`self.log("{evidence.monitor}", loss)` there.',
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
            0.0, "Not judged: `training_step` raised before it logged anything, see `training-step`."
        )
    names = ", ".join(f"`{name}`" for name in probe.logged) or "nothing"
    return Verdict(0.0, f'`training_step` logs {names}: add `self.log("train_loss", loss)`.')


@check("fit-completes", needs="fitted")
def _fit_completes(criterion: Criterion, evidence: Evidence) -> Verdict:
    fit = evidence.report.fit
    measurement = evidence.report.measurement
    unable = _cannot_fit(evidence.report)
    if fit.completed and unable:
        return Verdict(0.0, f"Not confirmed: {unable}, so the fit cannot have run its steps.")
    if fit.completed and not (measurement and measurement.loaded):
        # The training run's word alone: a fresh process must have built the class and loaded
        # the weights the fit left.
        why = evidence.stop_reason or _unmeasured(evidence)
        return Verdict(
            0.0, f"Not confirmed: the trained weights were never loaded into your model again ({why})."
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
            fix="Nothing to fix on your side; your instructor regrades it.",
        )
    if fit.problem:
        return _raised("Trainer.fit", fit.problem)
    return Verdict(0.0, "`Trainer.fit` was interrupted before it finished.")


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
        return Verdict(0.0, f"The grader could not measure your model's loss: {_unmeasured(evidence)}.")
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
        doubt = _unwatched(evidence) or _monitored_disagrees(evidence, score)
        if doubt:
            return Verdict(0.0, f"A best checkpoint was saved{best}, but {doubt}.")
        return Verdict(1.0, f"The best checkpoint was saved{best}; {facts.message}.")
    if evidence.monitor not in evidence.report.fit.logged_metrics:
        return Verdict(0.0, f"No best checkpoint: {_never_logged(evidence)}.")
    if facts and facts.found:
        return Verdict(0.5, f"A checkpoint was saved, but {facts.message}.")
    return Verdict(0.0, f"No best checkpoint: {facts.message if facts else 'none was saved'}.")


@check("early-stopping", needs="done")
def _early_stopping(criterion: Criterion, evidence: Evidence) -> Verdict:
    state = evidence.report.fit.early_stopping
    if not state.checks or state.best_score is None:
        return Verdict(0.0, f"`EarlyStopping` had nothing to watch: {_never_logged(evidence)}.")
    doubt = _unwatched(evidence) or _monitored_disagrees(evidence, state.best_score)
    if doubt:
        return Verdict(0.0, f"`EarlyStopping` watched `{state.monitor}`, but {doubt}.")
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
        return Verdict(
            0.0,
            f"Not judged: {files} could not be read (a syntax error, or over {MAX_SOURCE_BYTES // 2**10} KB).",
        )
    share = 1.0 / len(criterion.callbacks)
    earned, lines = 0.0, []
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
            what = f"monitors `{monitor}`" if monitor else "has no `monitor`"
            lines.append(f'`{name}` at {used[0].where()} {what}; use `monitor="{evidence.monitor}"`')
        elif sites:
            lines.append(
                f"`{name}` is created at {sites[0].where()} but never reaches a `Trainer`: "
                f"pass it in `Trainer(callbacks=[...])`"
            )
        else:
            lines.append(f"`{name}` is not used in your code")
    return Verdict(earned, "; ".join(lines) + ".")


@check("accuracy-vs-reference", needs="done")
def _accuracy(criterion: Criterion, evidence: Evidence) -> Verdict:
    if evidence.accuracy is None:
        problem = evidence.report.predict_problem
        why = (
            f"`forward` raised `{problem.message}`{where(problem.location)}"
            if problem
            else "no valid predictions"
        )
        return Verdict(0.0, f"Held-out accuracy could not be measured: {why}.")
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
