"""Why points were missed, as causes: one reason each, which one fix removes.

A cause is what the feedback states once, with where it is, what the grader saw (the
student's last traceback frames) and the fix; every criterion it holds back names it
(`CriterionResult.cause`) and then says only its points. One error seen by several hooks
(a missing flatten raises in `training_step`, `validation_step`, the fit and `forward`) is
one cause: it is known by its kind and its place in the student's code.
"""

from __future__ import annotations

from grader.contract import Problem, RunReport
from grader.host.judge.hints import hint_for
from grader.host.judge.static_checks import SourceFacts
from grader.host.judge.verdict import SYNTAX_ERRORS, grader_fault, names, never_built, where
from grader.host.results import Cause
from grader.rubric.models import Rubric
from grader.sandbox import SandboxOutcome

GRADER_FIX = "Nothing to fix on your side; your instructor regrades it."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def problem_cause(what: str, problem: Problem, batch_size: int) -> Cause:
    """An error the student's code raised in `what` (a hook, `Trainer.fit`, `forward`)."""
    if problem.by_grader:
        return grader_cause(problem)
    place = problem.location
    traced = " (your traceback shows the calls that led there)" if problem.frames else ""
    generic = (
        f"Fix the `{problem.kind}` at {place}{traced}." if place else f"Fix the `{problem.kind}`{traced}."
    )
    return Cause(
        id=f"raised:{problem.kind}@{place or problem.message}",
        title=f"`{what}` raised `{problem.kind}`{where(place)}",
        error=problem.message,
        location=place,
        fix=hint_for(problem, batch_size) or generic,
        frames=problem.frames,
    )


def grader_cause(problem: Problem | None = None) -> Cause:
    said = problem.message if problem else ""
    return Cause(id="grader", title="The grader itself failed, not your code", error=said, fix=GRADER_FIX)


def _import_cause(problem: Problem, batch_size: int) -> Cause:
    place = problem.location
    if problem.kind in SYNTAX_ERRORS:
        file = place.rsplit(":", 1)[0] if place else "your file"
        return Cause(
            id="import",
            title=f"Syntax error{where(place)}",
            error=problem.message,
            location=place,
            fix=f"Correct the line where the caret points; `python -m py_compile {file}` checks a file's "
            "syntax without running it.",
            frames=problem.frames,
        )
    return problem_cause("import", problem, batch_size).model_copy(
        update={"id": "import", "title": f"Your code could not be imported: `{problem.kind}`{where(place)}"}
    )


def _construct_cause(report: RunReport, source: SourceFacts, batch_size: int) -> Cause:
    problem = report.construct_problem
    found = report.discovery
    if not never_built(report):
        return problem_cause(f"{found.class_name}.__init__", problem, batch_size).model_copy(
            update={
                "id": "construct",
                "title": f"Your model could not be built: `__init__` raised `{problem.kind}`",
            }
        )
    line = source.method_line(found.file, found.class_name, "__init__") or found.line
    missing = problem.missing_arguments
    example = ", ".join(f"{name}=..." for name in missing)
    return Cause(
        id="construct",
        title="Your model could not be built",
        error=problem.message,
        location=f"{found.file}:{line}" if found.file and line else None,
        fix=f"Give {names(missing)} default values, as in `def __init__(self, {example})`, so that "
        f"`{found.class_name}()` builds your model (your scripts can still pass their own values). "
        "Until then your hooks are judged from your source only, for half their points.",
    )


def _no_class_cause(report: RunReport, rubric: Rubric) -> Cause:
    plain = report.discovery.plain_modules
    detail = (
        f"{', '.join(f'`{name}`' for name in plain)} is a plain `torch.nn.Module`: subclass `LightningModule` "
        "instead and move the training loop into `training_step`"
        if plain
        else ""
    )
    hint = next((c.hint for c in rubric.criteria if c.kind == "lightning-module"), "")
    return Cause(
        id="no-class", title="No class in your code subclasses `LightningModule`", detail=detail, fix=hint
    )


def _stop_fix(outcome: SandboxOutcome | None) -> str:
    if outcome is None:
        return "Run your code once locally, from a fresh Python, to see why it stops."
    if outcome.interrupted:
        return "Nothing to fix on your side: grade it again."
    if outcome.timed_out:
        return (
            "Make your training cheaper on a CPU (a smaller network, no work per step beyond the model's), "
            "so that the grader's short fit ends within the time limit."
        )
    if outcome.out_of_memory:
        return "Use less memory: a smaller network, and no data or outputs kept on your module between steps."
    if outcome.output_exceeded:
        return "Write less into the working folder: no files or logs per step."
    return "Run your code once locally: something ended the Python process itself (e.g. `os._exit`)."


def stop_cause(
    outcome: SandboxOutcome | None, report: RunReport | None, stop: str, rubric: Rubric, source: SourceFacts
) -> Cause:
    """Why the run stopped before it could judge what the criteria need."""
    batch_size = rubric.data.batch_size
    stopped = outcome and (
        outcome.interrupted or outcome.timed_out or outcome.out_of_memory or outcome.output_exceeded
    )
    if report and not stopped:
        fault = grader_fault(report)
        if fault:
            return grader_cause(fault)
        if report.import_problem:
            return _import_cause(report.import_problem, batch_size)
        if report.stage == "found" and report.discovery.class_name is None:
            return _no_class_cause(report, rubric)
        if report.construct_problem:
            return _construct_cause(report, source, batch_size)
        if report.runner_problem:
            problem = report.runner_problem
            return problem_cause("your code", problem, batch_size).model_copy(
                update={"title": f"Your code raised `{problem.kind}`{where(problem.location)}"}
            )
    return Cause(id="stop", title=_sentence(stop), fix=_stop_fix(outcome))


def tampering_cause() -> Cause:
    """The run's report is not believed (the feedback lists why, above its sections)."""
    return Cause(
        id="stop",
        title="Tampering suspected: your instructor will review it",
        fix="Nothing to fix here: your instructor reviews the run with you.",
    )


def monitor_cause(report: RunReport, source: SourceFacts, monitor: str) -> Cause:
    """Nothing logs the value the grader's callbacks watch (`val_loss`)."""
    found = report.discovery
    probe = report.validation_step
    line = source.method_line(found.file, found.class_name, "validation_step")
    if not probe.defined:
        return Cause(
            id="monitor",
            title=f"`validation_step` is not defined, so nothing logs `{monitor}`",
            location=f"{found.file}:{found.line}" if found.file and found.line else None,
            fix=f"Add `validation_step(self, batch, batch_idx)` to your class: compute the loss on the batch "
            f'as in `training_step` and log it with `self.log("{monitor}", loss)`; the checkpoint and '
            f"early-stopping callbacks watch `{monitor}`.",
        )
    logged = probe.logged or [n for n in report.fit.logged_metrics if not n.startswith(("epoch", "step"))]
    said = ", ".join(f"`{name}`" for name in logged) or "nothing"
    renamed = [
        site
        for name in ("ModelCheckpoint", "EarlyStopping")
        for site in source.calls.get(name, [])
        if site.monitor not in (None, "?", monitor)
    ]
    also = (
        f', and watch that name: `monitor="{monitor}"` in your callbacks ({renamed[0].where()})'
        if renamed
        else ""
    )
    return Cause(
        id="monitor",
        title=f"`{monitor}` is never logged",
        detail=f"Your `validation_step` logs {said}, not `{monitor}`",
        location=f"{found.file}:{line}" if found.file and line else None,
        fix=f'Log the validation loss under that name: `self.log("{monitor}", loss)` in `validation_step`{also}.',
    )
