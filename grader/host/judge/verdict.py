"""What a run means, decided in one place: its status, the reason it stopped, and why a
criterion's evidence is missing. The runner says where and why it stopped (`RunReport.stage`
with `import_problem`, `construct_problem`, `runner_problem`, the fit's `problem`); the
sandbox says whether it was stopped (time, memory, disk)."""

from __future__ import annotations

from typing import Literal

from grader import tree
from grader.contract import RUNNER_STAGES, Problem, RunReport, Stage
from grader.host.results import Status
from grader.sandbox import SandboxOutcome
from grader.sandbox.base import RunWatch

# A runner stage, or "trained": the fit ran to its end without raising.
Need = Stage | Literal["trained"]
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
NEXT_STEP = {
    "started": "importing your code",
    "imported": "looking for your LightningModule",
    "found": "building your model",
    "constructed": "calling `training_step`, `validation_step` and `configure_optimizers`",
    "probed": "the `Trainer.fit`",
    "fitted": "predicting the held-out digits",
}


def grader_fault(report: RunReport | None) -> Problem | None:
    """A failure of the grader's own code during the run: never the student's fault."""
    if report is None:
        return None
    for problem in (report.runner_problem, report.fit.problem):
        if problem and problem.by_grader:
            return problem
    return None


def where(location: str | None) -> str:
    return f" at {location}" if location else ""


def brief(problem: Problem) -> str:
    return f"`{problem.kind}`{where(problem.location)}"


def _no_class(report: RunReport) -> bool:
    return report.stage == "found" and report.discovery.class_name is None and not report.import_problem


def never_built(report: RunReport | None) -> bool:
    """The grader did not call the constructor: nothing gives its required arguments a value, so
    none of the student's code ran (their code could not be built as handed in)."""
    return bool(report and report.construct_problem and report.construct_problem.missing_arguments)


def names(items: list[str]) -> str:
    """`a`, `a` and `b`, `a`, `b` and `c`."""
    quoted = [f"`{item}`" for item in items]
    return " and ".join(quoted) if len(quoted) < 3 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def stop_reason(outcome: SandboxOutcome, report: RunReport | None, wall_seconds: float, limits) -> str | None:
    """Why the runner did not reach its end, or was stopped as it did, in the student's terms
    (None when it ended well): a watch may stop a run over a limit it crossed as it finished."""
    stopped = outcome.interrupted or outcome.timed_out or outcome.out_of_memory or outcome.output_exceeded
    if report and report.stage == "done" and not stopped:
        return None
    during = f" during {NEXT_STEP[report.stage]}" if report and report.stage in NEXT_STEP else ""
    if report and report.stage == "probed" and report.fit.max_steps:
        during += f" (step {report.fit.global_step} of {report.fit.max_steps})"
    if outcome.interrupted:
        return "grading was stopped by the grader's operator before this run finished; grade it again"
    if outcome.timed_out:
        return f"grading stopped at the time limit of {wall_seconds:g} s{during}"
    if outcome.out_of_memory:
        return f"grading stopped at the memory limit of {limits.memory_mb} MB{during}"
    if outcome.output_exceeded:
        return (
            f"grading stopped{during}: your code wrote more than {limits.disk_mb} MB or "
            f"{RunWatch.MAX_ENTRIES} files into its working folder, or nested folders there "
            f"deeper than {tree.MAX_DEPTH} levels"
        )
    if report is None:
        return "the run ended without a valid result (it crashed, exited early, or its result file was tampered with)"
    if report.import_problem and report.import_problem.kind in SYNTAX_ERRORS:
        return f"your code has a syntax error{where(report.import_problem.location)}, so it could not be imported"
    if report.import_problem:
        return f"your code could not be imported ({brief(report.import_problem)})"
    if _no_class(report):
        return "no `LightningModule` subclass was found in your code"
    if never_built(report):
        return (
            f"your model could not be built: nothing in your code gives {names(report.construct_problem.missing_arguments)} "
            "a value the grader can use without running your scripts, so give them default values"
        )
    if report.construct_problem:
        return f"your model could not be built ({brief(report.construct_problem)})"
    if report.runner_problem and not report.runner_problem.by_grader:
        return f"your code raised {brief(report.runner_problem)}{during}"
    if report.runner_problem:
        return f"the grader itself failed{during}, not your code"
    return f"the run ended unexpectedly (exit code {outcome.exit_code}){during}"


def status_of(outcome: SandboxOutcome, report: RunReport | None) -> Status:
    if outcome.interrupted:  # a batch that stops never publishes these; not the student's doing
        return "grader_error"
    if outcome.timed_out:
        return "timeout"
    if outcome.out_of_memory:
        return "out_of_memory"
    if grader_fault(report):
        return "grader_error"
    if outcome.output_exceeded:
        return "crashed"
    if report and (_no_class(report) or never_built(report)):
        return "rejected"
    if report is None or report.stage != "done":
        return "crashed"
    if report.fit.problem or report.training_step.problem:
        return "crashed"
    return "ok"


def status_reason(stop: str | None, report: RunReport | None) -> str:
    """The headline of the feedback: why the run stopped, or which of the student's code raised."""
    fault = grader_fault(report)
    if fault:
        return f"the grader itself failed, not your code ({fault.message}); your instructor will regrade it"
    if stop:
        problem = report and not never_built(report) and (report.import_problem or report.construct_problem)
        # The stop already names the error's kind: "could not be built (`TypeError`)".
        return stop + (f": {problem.message.removeprefix(f'{problem.kind}: ')}" if problem else "")
    if report is None:
        return ""
    for what, problem in (
        ("`training_step`", report.training_step.problem),
        ("`Trainer.fit`", report.fit.problem),
    ):
        if problem:
            return f"{what} raised{where(problem.location)}: {problem.message}"
    return ""


def blocker(report: RunReport | None, stop: str | None, needs: Need | None) -> str | None:
    """Why the evidence a check needs is missing, or None when it can judge."""
    if needs is None:
        return None
    if stopped_before(report, needs):
        return stop or "grading stopped early"
    fit_problem = fit_blocker(report, needs)
    if fit_problem and fit_problem.by_grader:
        return "the grader's own fit failed, not your code"
    if fit_problem:
        return f"`Trainer.fit` raised `{fit_problem.kind}`{where(fit_problem.location)}, see `fit-completes`"
    return None


def stopped_before(report: RunReport | None, needs: Need) -> bool:
    """Whether the run stopped before the stage `needs`, or could not import the code at all
    (the class may be in the file that failed: nothing of it can be judged)."""
    stage = "fitted" if needs == "trained" else needs
    return (
        report is None
        or RUNNER_STAGES.index(report.stage) < RUNNER_STAGES.index(stage)
        or bool(report.import_problem)
    )


def fit_blocker(report: RunReport, needs: Need | None) -> Problem | None:
    """The fit's error, when it is what keeps a check that needs the trained model from judging."""
    problem = report.fit.problem
    return problem if needs in ("trained", "done") and problem and not report.fit.completed else None
