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
    "rejected": "not gradable: no Python source, an unsafe archive, or no LightningModule",
    "grader_error": "the grader itself failed, not the student's code; regrade after fixing the grader",
}


class CriterionResult(BaseModel):
    id: str
    points: float
    max_points: float
    message: str
    description: str = ""
    hint: str = ""
    hidden: bool = False

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points


class Timings(BaseModel):
    total_seconds: float
    sandbox_seconds: float | None = None
    fit_seconds: float | None = None
    stages: dict[str, float] = Field(default_factory=dict)


class GradeResult(BaseModel):
    submission: str
    rubric: str
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
    notes: list[str] = Field(default_factory=list)
    tampering: list[str] = Field(
        default_factory=list, description="Why the run's report looks forged; review the submission."
    )
    timings: Timings
    peak_memory_mb: float | None = None
    fit: FitRecord | None = None
    stdout: str = ""
    stderr: str = ""
    fingerprint: str = Field(
        default="", description="Submission, rubric, data and grader; unchanged means skip."
    )
