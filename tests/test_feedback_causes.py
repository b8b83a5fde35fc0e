"""Feedback by root cause (issue 25): each cause stated once, in one section with its place,
what the grader saw and one fix; the sections by the points their fix recovers.

The results here are the grader's own scoring of runner reports like the samples' (their
errors raised by the samples' real code where that is quick), so the text is what a student
reads; tests/test_samples.py checks the same on every graded sample.
"""

from __future__ import annotations

import io
import re
import runpy
from pathlib import Path

import pytest
import torch
from rich.console import Console
from rich.markdown import Markdown

from grader.contract import (
    Discovery,
    EarlyStoppingRecord,
    FitRecord,
    HookSource,
    Measurement,
    OptimizerProbe,
    Problem,
    RunReport,
    StepProbe,
)
from grader.host.judge import import_notes
from grader.host.judge.scoring import Evidence, assess
from grader.host.judge.static_checks import CallSite, SourceFacts
from grader.host.judge.verdict import status_of, status_reason, stop_reason
from grader.host.publish.feedback import feedback_markdown, first_to_fix, sections, self_check_markdown
from grader.host.results import GradeResult, Measured, Timings
from grader.rubric import load_rubric
from grader.runner.problems import MissingArguments, problem_from
from grader.sandbox import SandboxOutcome
from tests.conftest import SAMPLES, read_json
from tests.expected import EXPECTED
from tests.test_inert_text import shown_text

RUBRIC = load_rubric("m14")
FINISHED = SandboxOutcome(backend="process", exit_code=0, wall_seconds=10.0)
HOOKS = {
    hook: HookSource(defined=True) for hook in ("training_step", "validation_step", "configure_optimizers")
}
CALLBACKS = ("ModelCheckpoint", "EarlyStopping")


def graded(
    name: str,
    report: RunReport,
    source: SourceFacts | None = None,
    measured: Measured | None = None,
    accuracy: float | None = None,
    outcome: SandboxOutcome = FINISHED,
    folder: Path = SAMPLES,
) -> GradeResult:
    """What `judge` makes of the report: points, causes, status and reason."""
    stop = stop_reason(outcome, report, RUBRIC.limits.wall_seconds, RUBRIC.limits)
    source = source or SourceFacts()
    evidence = Evidence(report, stop, source, None, accuracy, 0.9, RUBRIC, measured, outcome)
    criteria, causes = assess(RUBRIC, evidence)
    return GradeResult(
        submission=name,
        rubric=RUBRIC.id,
        score=round(sum(c.points for c in criteria), 2),
        max_score=RUBRIC.max_score,
        status=status_of(outcome, report),
        status_reason=status_reason(stop, report),
        graded_class=report.discovery.class_name,
        framework=report.discovery.framework,
        criteria=criteria,
        causes=causes,
        notes=import_notes(report, folder),
        timings=Timings(total_seconds=1.0),
    )


def found(file: str, line: int) -> Discovery:
    return Discovery(
        framework="lightning.pytorch", class_name="MyAwesomeModel", file=file, line=line, reason="x"
    )


def callbacks(file: str, line: int, monitor: str) -> SourceFacts:
    return SourceFacts(calls={name: [CallSite(file, line, monitor)] for name in CALLBACKS})


def raised_by_sample(name: str, call) -> Problem:
    """The problem the runner makes of the error the sample's own code raises."""
    model = runpy.run_path(str(SAMPLES / f"{name}.py"))["MyAwesomeModel"]()
    with pytest.raises(Exception) as raised:
        call(model)
    return problem_from(raised.value, SAMPLES)


def batch(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(size, 1, 28, 28), torch.zeros(size, dtype=torch.long)


@pytest.fixture(scope="module")
def crash() -> GradeResult:
    """crash_in_training_step: the missing flatten raises in every hook that runs `forward`."""
    in_step = raised_by_sample("crash_in_training_step", lambda m: m.training_step(batch(64), 0))
    in_forward = raised_by_sample("crash_in_training_step", lambda m: m(batch(1000)[0]))
    report = RunReport(
        stage="done",
        discovery=found("crash_in_training_step.py", 8),
        hook_sources=HOOKS,
        training_step=StepProbe(defined=True, problem=in_step),
        validation_step=StepProbe(defined=True, problem=in_step),
        configure_optimizers=OptimizerProbe(ok=True, returned="SGD"),
        fit=FitRecord(problem=in_step),
        predict_problem=in_forward,
    )
    return graded("crash_in_training_step", report, callbacks("crash_in_training_step.py", 34, "val_loss"))


@pytest.fixture(scope="module")
def syntax() -> GradeResult:
    path = SAMPLES / "syntax_error.py"
    with pytest.raises(SyntaxError) as raised:
        compile(path.read_text(), str(path), "exec")
    problem = problem_from(raised.value, SAMPLES)
    report = RunReport(stage="found", import_problem=problem, failed_code=[problem])
    return graded("syntax_error", report, SourceFacts(unparsable=["syntax_error.py"]))


@pytest.fixture(scope="module")
def unbuilt() -> GradeResult:
    """needs_constructor_args: the grader cannot give `lr` and `hidden_dim`, so it never calls it."""
    refusal = MissingArguments(
        "MyAwesomeModel() needs lr, hidden_dim, and the grader cannot tell their values without running "
        "your scripts (as in needs_constructor_args.py:38: `MyAwesomeModel(args.lr, args.hidden_dim)` "
        "leaves `lr` (`args.lr`), `hidden_dim` (`args.hidden_dim`) unknown); give the arguments default values",
        ["lr", "hidden_dim"],
    )
    report = RunReport(
        stage="found",
        discovery=found("needs_constructor_args.py", 9),
        hook_sources={**HOOKS, "validation_step": HookSource(defined=True, logged=["val_loss"])}
        | {"training_step": HookSource(defined=True, logged=["train_loss"])},
        construct_problem=problem_from(refusal, SAMPLES),
    )
    source = callbacks("needs_constructor_args.py", 37, "val_loss")
    source.methods["needs_constructor_args.py::MyAwesomeModel"] = {"__init__": 10}
    return graded("needs_constructor_args", report, source)


TRAINED = Measured(initial_loss=2.3, final_loss=0.3, weights_changed=True)


def fitted(logged: list[str], validation: StepProbe, file: str) -> RunReport:
    step = StepProbe(defined=True, ok=True, returned="tensor", loss_is_scalar=True, loss_requires_grad=True)
    return RunReport(
        stage="done",
        discovery=found(file, 10),
        hook_sources=HOOKS,
        input_layout="N,1,28,28",
        training_step=step.model_copy(update={"logged": ["train_loss"]}),
        validation_step=validation,
        configure_optimizers=OptimizerProbe(ok=True, returned="Adam"),
        fit=FitRecord(
            completed=True, seconds=3.0, epochs_run=3, global_step=141, logged_metrics=logged,
            early_stopping=EarlyStoppingRecord(monitor="val_loss"),
        ),
        measurement=Measurement(loaded=True),
    )  # fmt: skip


@pytest.fixture(scope="module")
def renamed() -> GradeResult:
    """validation_loss_name: `validation_loss` logged and watched instead of `val_loss`."""
    names = ["validation_accuracy", "validation_loss"]
    report = fitted(
        ["train_loss", *names], StepProbe(defined=True, ok=True, logged=names), "validation_loss_name.py"
    )
    source = callbacks("validation_loss_name.py", 61, "validation_loss")
    source.methods["validation_loss_name.py::MyAwesomeModel"] = {"validation_step": 32}
    return graded("validation_loss_name", report, source, TRAINED, accuracy=0.9)


@pytest.fixture(scope="module")
def no_validation() -> GradeResult:
    report = fitted(["train_loss"], StepProbe(defined=False), "no_validation_step.py")
    return graded("no_validation_step", report, SourceFacts(), TRAINED, accuracy=0.9)


def cause_texts(result: GradeResult) -> list[str]:
    """What states each cause: what the grader saw, and its fix."""
    return [text for cause in result.causes for text in (cause.detail, cause.error, cause.fix) if text]


def assert_each_cause_once(result: GradeResult, feedback: str) -> None:
    """No cause's text more than twice (the reason under the score may be one), and the first
    section the one worth the most points."""
    shown = shown_text(feedback).replace("`", "")  # an error's own backticks show in its block
    for text in cause_texts(result):
        said = " ".join(text.replace("`", "").split())
        assert 1 <= shown.count(said) <= 2, (said, shown)
    worth = [
        float(points) for points in re.findall(r"^### \d+\. .*\(up to ([\d.]+) points?\)$", feedback, re.M)
    ]
    assert worth == sorted(worth, reverse=True) and worth, feedback
    first = re.search(r"^### 1\. First to fix: .*\(up to ([\d.]+) points?\)$", feedback, re.M)
    assert first and float(first[1]) == max(worth), feedback


SAMPLED = ("crash", "syntax", "unbuilt", "renamed", "no_validation")


@pytest.mark.parametrize("name", SAMPLED)
def test_each_cause_is_stated_once_and_the_first_fix_pays_most(name: str, request) -> None:
    result = request.getfixturevalue(name)
    assert_each_cause_once(result, feedback_markdown(result, RUBRIC))


def section_of(feedback: str, number: int) -> str:
    return re.split(r"^### ", feedback, flags=re.M)[number]


def test_crash_in_training_step_is_one_cause_with_the_flatten_hint_and_frames(crash: GradeResult) -> None:
    assert crash.score == 30
    assert crash.status == "crashed"
    [first, *rest] = sections(crash)
    assert first.recovers == 70 and [s.recovers for s in rest] == []
    assert first_to_fix(crash).id == "training-step"
    feedback = feedback_markdown(crash, RUBRIC)
    shown = shown_text(feedback)
    assert shown.count("mat1 and mat2 shapes cannot be multiplied") == 2  # under the score and in its section
    section = section_of(feedback, 1)
    assert section.startswith(
        "1. First to fix: `training_step` raised `RuntimeError` at `crash_in_training_step.py:15` (up to 70 points)"
    )
    # The hint from the table, with the numbers of this error.
    assert "shaped (64, 8, 26, 26)" in section and "8·26·26 = 5408 features per image" in section
    assert "`x.flatten(1)` or `nn.Flatten()`" in section
    assert "run one training step locally" not in feedback
    # The last frames of the student's traceback, their files only, in a fenced block.
    frames = re.search(r"```text\n(.*?)\n```", section, re.S)[1].splitlines()
    assert frames == [
        "crash_in_training_step.py:19 in training_step",
        "    loss = F.cross_entropy(self(x), y)",
        "crash_in_training_step.py:15 in forward",
        "    return self.fc(torch.relu(self.conv(x)))  # forgot to flatten",
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (13312x26 and 5408x10)",
    ]
    # Each criterion it holds back says only its points.
    listed = re.findall(r"^- `([a-z-]+)`: (.*)$", section, re.M)
    assert dict(listed) == {
        "training-step": "0 / 15", "validation-step": "0 / 10", "logs-train-loss": "0 / 5",
        "fit-completes": "0 / 10", "loss-decreases": "0 / 10", "checkpoint-saved": "0 / 5",
        "early-stopping": "0 / 5", "accuracy-vs-reference": "0 / 10",
    }  # fmt: skip
    # The table refers to the section instead of repeating the error.
    rows = [line for line in feedback.splitlines() if line.startswith("| ❌")]
    assert len(rows) == 8 and all(row.endswith("| See 1 below. |") for row in rows)


def test_a_syntax_error_reads_as_one_with_its_line_and_caret(syntax: GradeResult) -> None:
    feedback = feedback_markdown(syntax, RUBRIC)
    shown = shown_text(feedback)
    [only] = sections(syntax)
    assert only.recovers == 100
    assert section_of(feedback, 1).startswith(
        "1. First to fix: Syntax error at `syntax_error.py:11` (up to 100 points)"
    )
    assert (
        "```text\nsyntax_error.py:11\n    def forward(self, x)\n                        ^\nSyntaxError: expected ':'\n```"
        in feedback
    )
    assert "SyntaxError: expected ':'" in shown
    assert syntax.status_reason == (
        "your code has a syntax error at syntax_error.py:11, so it could not be imported: expected ':'"
    )
    # Nothing else is claimed about the class, nor about skipped code.
    for wrong in ("subclasses", "LightningModule", "passed over", "top-level code"):
        assert wrong not in shown, wrong
    assert syntax.notes == []


def test_a_model_that_could_not_be_built_says_so_and_names_the_arguments(unbuilt: GradeResult) -> None:
    assert unbuilt.score == 40
    # None of the student's code ran: not gradable as handed in, rather than crashed.
    assert unbuilt.status == "rejected"
    assert unbuilt.status_reason.startswith("your model could not be built: nothing in your code gives `lr`")
    feedback = feedback_markdown(unbuilt, RUBRIC)
    section = section_of(feedback, 1)
    assert section.startswith(
        "1. First to fix: Your model could not be built (`needs_constructor_args.py:10`) (up to 60 points)"
    )
    assert (
        "**Fix:** Give `lr` and `hidden_dim` default values, as in `def __init__(self, lr=..., hidden_dim=...)`"
        in section
    )
    assert "judged from your source only, for half their points" in section
    assert "crashed" not in feedback


def test_a_misnamed_validation_loss_is_one_twenty_point_cause(renamed: GradeResult) -> None:
    assert renamed.score == 80
    [first] = sections(renamed)
    assert first.recovers == 20
    assert {c.id for c in first.criteria} == {
        "validation-step",
        "checkpoint-saved",
        "early-stopping",
        "uses-callbacks",
    }
    feedback = feedback_markdown(renamed, RUBRIC)
    shown = shown_text(feedback)
    assert shown.count('self.log("val_loss", loss)') == 1
    assert "Add `validation_step`" not in feedback and "Add validation_step" not in shown
    section = section_of(feedback, 1)
    assert section.startswith(
        "1. First to fix: `val_loss` is never logged (`validation_loss_name.py:32`) (up to 20 points)"
    )
    assert "Your `validation_step` logs `validation_accuracy`, `validation_loss`, not `val_loss`." in section
    assert '`monitor="val_loss"` in your callbacks (`validation_loss_name.py:61`)' in section


def test_a_missing_validation_step_comes_before_the_unused_callbacks(no_validation: GradeResult) -> None:
    first, second = sections(no_validation)
    assert (first.recovers, second.recovers) == (20, 10)
    assert first.cause.id == "monitor" and second.cause is None
    feedback = feedback_markdown(no_validation, RUBRIC)
    assert section_of(feedback, 1).startswith(
        "1. First to fix: `validation_step` is not defined, so nothing logs `val_loss` (`no_validation_step.py:10`)"
    )
    assert section_of(feedback, 2).startswith("2. `uses-callbacks`, 0 / 10 (up to 10 points)")


# --- the self-check screen -----------------------------------------------------------------


def screen(text: str, width: int = 80) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(Markdown(text))
    return out.getvalue().rstrip("\n").splitlines()


@pytest.mark.parametrize("name", SAMPLED)
def test_self_check_fits_80_by_24_with_the_score_last(name: str, request, tmp_path: Path) -> None:
    result = request.getfixturevalue(name)
    lines = screen(self_check_markdown(result, tmp_path / "feedback" / f"{name}.md"))
    assert len(lines) <= 20, "\n".join(lines)
    assert lines[-1].startswith(f"Score: {result.score:g} / 100"), lines
    assert lines[0].startswith("First to fix (up to"), lines
    assert not any("instructor" in line or "secret" in line for line in lines)


def test_self_check_fits_even_when_every_text_is_long(crash: GradeResult, tmp_path: Path) -> None:
    long = "x " * 300
    result = crash.model_copy(
        update={
            "causes": [
                c.model_copy(update={"detail": long, "fix": long, "title": long[:200]}) for c in crash.causes
            ],
            "criteria": [c.model_copy(update={"message": long}) for c in crash.criteria],
        }
    )
    lines = screen(self_check_markdown(result, tmp_path / ("deep/" * 20) / "x.md"))
    assert len(lines) <= 20 and lines[-1].startswith("Score: 30 / 100"), "\n".join(lines)


def test_self_check_names_the_fix_worth_most_and_then_the_rest(no_validation: GradeResult, tmp_path) -> None:
    lines = screen(self_check_markdown(no_validation, tmp_path / "x.md"))
    text = " ".join(" ".join(lines).split())
    assert text.startswith("First to fix (up to 20 points): validation_step is not defined")
    assert "Then, up to 10 points: uses-callbacks, 0 / 10: ModelCheckpoint is not used" in text
    assert "Passed: lightning-module, training-step" in text


# --- every sample, as CI graded it ---------------------------------------------------------


def sample(graded_samples: Path, name: str) -> tuple[GradeResult, str]:
    result = GradeResult.model_validate(read_json(graded_samples / "results" / f"{name}.json"))
    return result, (graded_samples / "feedback" / f"{name}.md").read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_states_each_cause_once_and_the_costliest_first(graded_samples: Path, name: str) -> None:
    result, feedback = sample(graded_samples, name)
    if result.score < result.max_score:
        assert_each_cause_once(result, feedback)
    else:
        assert "## How to earn" not in feedback and not result.causes
    lines = screen(self_check_markdown(result, graded_samples / "feedback" / f"{name}.md"))
    assert len(lines) <= 20 and lines[-1].startswith(f"Score: {result.score:g} / "), "\n".join(lines)


def test_the_graded_samples_read_as_the_issue_asks(graded_samples: Path) -> None:
    _, feedback = sample(graded_samples, "syntax_error")
    shown = shown_text(feedback)
    assert "1. First to fix: Syntax error at syntax_error.py:11 (up to 100 points)" in shown
    assert "    def forward(self, x)\n                        ^\nSyntaxError: expected ':'\n```" in feedback
    assert not any(wrong in shown for wrong in ("subclasses", "passed over", "top-level code"))

    unbuilt, feedback = sample(graded_samples, "needs_constructor_args")
    assert unbuilt.status == "rejected" and unbuilt.status_reason.startswith("your model could not be built")
    assert "**Fix:** Give `lr` and `hidden_dim` default values" in section_of(feedback, 1)

    crash, feedback = sample(graded_samples, "crash_in_training_step")
    [cause] = crash.causes
    assert cause.location == "crash_in_training_step.py:15" and cause.frames[-3].startswith(cause.location)
    section = section_of(feedback, 1)
    assert "up to 70 points" in section.splitlines()[0]
    assert (
        "8·26·26 = 5408 features per image" in section and "```text\ncrash_in_training_step.py:19" in section
    )
    assert shown_text(feedback).count("mat1 and mat2 shapes cannot be multiplied") <= 2

    _, feedback = sample(graded_samples, "validation_loss_name")
    assert section_of(feedback, 1).startswith("1. First to fix: `val_loss` is never logged")
    assert "(up to 20 points)" in section_of(feedback, 1).splitlines()[0]
    assert shown_text(feedback).count('self.log("val_loss", loss)') == 1
    assert "Add `validation_step`" not in feedback


# --- what the grader saw: the student's frames, bounded --------------------------------------


def raised_in(folder: Path, source: str) -> Problem:
    """The problem the runner makes of what a student file raises when run."""
    path = folder / "student.py"
    path.write_text(source)
    with pytest.raises(BaseException) as raised:
        runpy.run_path(str(path), run_name="__main__")
    return problem_from(raised.value, folder)


def test_a_recursion_is_one_frame_with_its_count(tmp_path: Path) -> None:
    problem = raised_in(tmp_path, "def down(n):\n    return down(n + 1)\n\ndown(0)\n")
    assert problem.kind == "RecursionError"
    # As Python prints it: the repeated call once, with its count; none of the grader's frames.
    assert problem.frames[:-1] == [
        "student.py:4 in <module>",
        "    down(0)",
        "student.py:2 in down",
        "    return down(n + 1)",
        "           ^^^^^^^^^^^",
    ]
    assert re.fullmatch(r"\[the call above repeated \d{3} more times\]", problem.frames[-1])


def test_frames_keep_the_innermost_calls_within_fifteen_lines(tmp_path: Path) -> None:
    chain = "".join(f"def f{i}():\n    return f{i + 1}()\n\n" for i in range(20))
    problem = raised_in(tmp_path, f"{chain}def f20():\n    raise ValueError('deep')\n\nf0()\n")
    assert len(problem.frames) == 15  # how many calls were left out, then the last seven
    assert problem.frames[0] == "… 15 earlier calls in your code"
    # No caret where it would mark the whole line, as Python prints it.
    assert problem.frames[-4:] == [
        "student.py:59 in f19",
        "    return f20()",
        "student.py:62 in f20",
        "    raise ValueError('deep')",
    ]


def test_a_long_line_of_student_code_is_capped(tmp_path: Path) -> None:
    problem = raised_in(tmp_path, f"x = {'1 + ' * 200}None\n")
    assert problem.frames[0] == "student.py:1 in <module>"
    assert len(problem.frames[1]) == 160 and problem.frames[1].endswith("…")


def test_the_report_refuses_frames_past_their_bounds() -> None:
    with pytest.raises(ValueError):
        Problem(kind="E", message="E", frames=["x"] * 16)
    with pytest.raises(ValueError):
        Problem(kind="E", message="E", frames=["x" * 161])
