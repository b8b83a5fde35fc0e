"""What the grader writes about one submission: the source of every report format."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from grader.contract import FitRecord

Status = Literal["ok", "timeout", "out_of_memory", "crashed", "rejected", "grader_error"]
STATUS_MEANING: dict[str, str] = {
    "ok": "graded to the end; the score says how well",
    "timeout": "stopped at the rubric's wall-clock limit",
    "out_of_memory": "stopped at the rubric's memory limit",
    "crashed": "the student's code raised an error, or the run ended without a valid result",
    "rejected": "not gradable as handed in: no Python source, an unsafe archive, no LightningModule, "
    "or a model the grader cannot build",
    "grader_error": "the grader itself failed, not the student's code; regrade after fixing the grader",
}


class Cause(BaseModel):
    """One reason points were missed, which one fix removes: the feedback states it once, with
    the criteria it holds back (`CriterionResult.cause`)."""

    id: str
    title: str = Field(description="What went wrong, in a few words: the section's heading.")
    detail: str = Field(default="", description="What the grader found, in its words (Markdown code spans).")
    location: str | None = Field(default=None, description="`file:line` in the submission.")
    fix: str = ""
    frames: list[str] = Field(
        default_factory=list, description="The student's last traceback frames, innermost last."
    )
    error: str = Field(default="", description="The error's message, as raised: shown after the frames.")


class CriterionResult(BaseModel):
    id: str
    points: float
    max_points: float
    message: str
    description: str = ""
    hint: str = ""
    hidden: bool = False
    # Where in the submission the finding is, relative to its root: every report that points at
    # code (annotations, JUnit, Gradescope, CTRF) reads it from here. In a notebook, `file` is the
    # .ipynb, `cell` its code cell (from 1) and `line` the line in that cell.
    file: str | None = None
    line: int | None = None
    cell: int | None = None
    # The `Cause.id` of the reason its points were missed, when a cause shared with other
    # criteria (or stated apart from the message) explains it.
    cause: str | None = None

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points


class Timings(BaseModel):
    total_seconds: float
    sandbox_seconds: float | None = None
    fit_seconds: float | None = None
    stages: dict[str, float] = Field(default_factory=dict)


# How far a loss must fall to count: 1% of where it started (a frozen model's does not move).
MIN_RELATIVE_FALL = 0.01
# A model that never trained guesses; above this held-out accuracy it was accurate without the fit.
UNTRAINED_ACCURACY_LIMIT = 0.3
# How far a logged monitored value may stand from the measured loss and still agree with it: the
# student's own loss may reduce per batch, smooth labels or log the last batch only.
AGREEMENT_ABSOLUTE, AGREEMENT_RELATIVE = 0.1, 0.25


class Measured(BaseModel):
    """What the grader measured of the trained model itself (`host/judge/measured.py`), never what
    the training run said; a None is what could not be measured (`problems` says why)."""

    convention: str | None = None  # how the model's outputs read: logits, log-probabilities, probabilities
    initial_loss: float | None = None  # held-out digits, the weights the fit started from
    final_loss: float | None = None  # held-out digits, the trained weights
    untrained_accuracy: dict[str, float] = Field(default_factory=dict)
    # The best checkpoint's loss on the digits the fit validated on, by reading of the outputs.
    validated_losses: dict[str, float] = Field(default_factory=dict)
    validated_from: str | None = None
    weights_changed: bool | None = None  # whether the fit changed any weight at all
    problems: list[str] = Field(default_factory=list)

    @property
    def loss_fell(self) -> bool | None:
        if self.initial_loss is None or self.final_loss is None:
            return None
        if self.weights_changed is False:
            return False  # nothing the fit did can have lowered it
        return self.final_loss < self.initial_loss * (1 - MIN_RELATIVE_FALL)

    @property
    def accurate_untrained(self) -> tuple[str, float] | None:
        """The most accurate model that never trained, if it was accurate: the accuracy was not learned."""
        if not self.untrained_accuracy:
            return None
        what, accuracy = max(self.untrained_accuracy.items(), key=lambda item: item[1])
        return (what, accuracy) if accuracy > UNTRAINED_ACCURACY_LIMIT else None

    def agrees_with(self, logged: float | None) -> bool | None:
        """Whether a monitored value the callbacks saw is the measured loss, under any reading of the
        outputs; None when unmeasured."""
        if logged is None or not self.validated_losses:
            return None
        return any(
            abs(logged - value) <= AGREEMENT_ABSOLUTE + AGREEMENT_RELATIVE * abs(value)
            for value in self.validated_losses.values()
        )


class Student(BaseModel):
    """Who handed a submission in, as the LMS download names them: data the gradebook exports match
    against the course's roster (`host/lms/`), never trusted for anything else."""

    key: str = Field(description="The student's key in the download: the submission's name in the gradebook.")
    platform: str = Field(
        description="The download's layout: canvas, moodle, blackboard, brightspace, github, plain."
    )
    name: str | None = Field(default=None, description="The name as the download spells it.")
    ids: dict[str, str] = Field(
        default_factory=dict, description="The platform's ids, e.g. Canvas's user_id and submission_id."
    )
    late: bool = Field(default=False, description="Marked late by the platform.")
    attempt: int | None = Field(
        default=None, description="The resubmission's number, where the platform gives one."
    )
    files: list[str] = Field(default_factory=list, description="The original file names handed in.")


class GradeResult(BaseModel):
    submission: str
    rubric: str
    student: Student | None = None
    score: float
    max_score: float
    status: Status
    status_reason: str = ""
    backend: str | None = None
    graded_class: str | None = None
    framework: str | None = None
    input_layout: str | None = None
    accuracy: float | None = None
    reference_accuracy: float | None = None
    criteria: list[CriterionResult]
    causes: list[Cause] = Field(
        default_factory=list, description="Why points were missed, each cause once (see `Cause`)."
    )
    notes: list[str] = Field(default_factory=list)
    tampering: list[str] = Field(
        default_factory=list, description="Why the run's report looks forged; review the submission."
    )
    timings: Timings
    peak_memory_mb: float | None = None
    fit: FitRecord | None = None
    measured: Measured | None = None
    stdout: str = ""
    stderr: str = ""
    fingerprint: str = Field(
        default="", description="Submission, rubric, data and grader; unchanged means skip."
    )
