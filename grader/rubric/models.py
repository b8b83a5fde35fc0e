"""What a rubric may say, validated when it is loaded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.contract import FitSettings, InputLayout


class RubricPart(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSettings(RubricPart):
    class_hint: str | None = Field(
        default=None,
        description="Preferred LightningModule class name when a submission has several.",
    )
    init_kwargs: dict[str, object] = Field(
        default_factory=dict, description="Keyword arguments tried when the constructor needs some."
    )
    input_layouts: list[InputLayout] = Field(
        default_factory=lambda: ["N,1,28,28", "N,28,28", "N,784"],
        min_length=1,
        description="Image shapes offered to the model, in order; the first is the contract.",
    )
    adapted_layout_credit: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of the training-step points kept when the model needed another shape.",
    )


class DataBudget(RubricPart):
    dataset: Literal["mnist", "corrupted-mnist"] = Field(
        default="mnist",
        description="`corrupted-mnist`: the course's variant, digits rotated at random (seeded).",
    )
    max_rotation_degrees: float = Field(default=50.0, ge=0, le=180)
    train_size: int = Field(gt=0)
    val_size: int = Field(gt=0)
    test_size: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    seed: int = 0


class FitBudget(RubricPart):
    max_epochs: int = Field(gt=0)
    limit_train_batches: int | None = Field(default=None, gt=0)
    limit_val_batches: int | None = Field(default=None, gt=0)
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = Field(default=2, ge=0, description="EarlyStopping patience, in validation checks.")
    save_top_k: int = Field(default=1, ge=1)


class Limits(RubricPart):
    wall_seconds: float = Field(gt=0, description="Whole run of one submission, import to predictions.")
    reference_multiple: float = Field(
        default=10,
        ge=0,
        description="On a slow or busy machine the time limit grows to this multiple of the "
        "reference solution's own run there (0: never).",
    )
    memory_mb: int = Field(gt=0, description="Resident memory of the submission's process tree.")
    threads: int = Field(default=2, gt=0)
    output_kb: int = Field(default=64, gt=0, description="Captured stdout/stderr kept per stream.")
    disk_mb: int = Field(default=1024, gt=0, description="What a run may write in all, checkpoints included.")


class CriterionBase(RubricPart):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    points: float = Field(gt=0)
    description: str = Field(description="What is checked, as the student reads it.")
    hint: str = Field(default="", description="How to earn the points, shown when they are missed.")
    hidden: bool = False


class StructuralCriterion(CriterionBase):
    kind: Literal[
        "lightning-module",
        "training-step",
        "configure-optimizers",
        "validation-step",
        "logs-train-loss",
        "fit-completes",
        "checkpoint-saved",
        "early-stopping",
    ]


class LossDecreases(CriterionBase):
    kind: Literal["loss-decreases"]
    window: int = Field(default=5, gt=0, description="Steps averaged at the start and at the end.")


class UsesCallbacks(CriterionBase):
    kind: Literal["uses-callbacks"]
    callbacks: list[str] = Field(default_factory=lambda: ["ModelCheckpoint", "EarlyStopping"])


class AccuracyVsReference(CriterionBase):
    kind: Literal["accuracy-vs-reference"]
    zero_credit_ratio: float = Field(ge=0, description="Accuracy / reference accuracy giving 0 points.")
    full_credit_ratio: float = Field(gt=0, description="Ratio from which all points are given.")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> AccuracyVsReference:
        if self.zero_credit_ratio >= self.full_credit_ratio:
            raise ValueError("zero_credit_ratio must be below full_credit_ratio")
        return self


LeaderboardValue = Literal["accuracy", "score", "fit_seconds", "sandbox_seconds"]


class LeaderboardColumn(RubricPart):
    name: str = Field(min_length=1, description="The column's heading on Gradescope and in summary.html.")
    value: LeaderboardValue = Field(
        description="`accuracy`: held-out accuracy the grader measured; `score`: the rubric's points; "
        "`fit_seconds`: the fit's duration as the run reported it; `sandbox_seconds`: the whole run's "
        "wall-clock time as the host measured it (the one a student's code cannot forge)."
    )
    order: Literal["asc", "desc"] = Field(
        default="desc", description="`desc`: higher ranks first (Gradescope's default); `asc`: lower first."
    )


class Leaderboard(RubricPart):
    columns: list[LeaderboardColumn] = Field(
        min_length=1, description="Ranked by the first column, ties broken by the next, in order."
    )
    top: int = Field(default=10, gt=0, description="Rows summary.html shows.")

    @model_validator(mode="after")
    def _names_unique(self) -> Leaderboard:
        names = [c.name for c in self.columns]
        if len(set(names)) < len(names):
            raise ValueError("leaderboard column names must be unique")
        return self


Criterion = Annotated[
    StructuralCriterion | LossDecreases | UsesCallbacks | AccuracyVsReference,
    Field(discriminator="kind"),
]


class Rubric(RubricPart):
    id: str
    title: str
    reference: str | None = Field(default=None, description="Folder in `reference/`; the rubric id if unset.")
    model: ModelSettings = Field(default_factory=ModelSettings)
    data: DataBudget
    fit: FitBudget
    limits: Limits
    criteria: list[Criterion] = Field(min_length=1)
    leaderboard: Leaderboard | None = Field(
        default=None,
        description="Off unless set: Gradescope's leaderboard in results.json, and the top rows "
        "in summary.html under pseudonyms.",
    )

    @model_validator(mode="after")
    def _ids_unique(self) -> Rubric:
        ids = [c.id for c in self.criteria]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"criterion ids must be unique, repeated: {', '.join(duplicated)}")
        return self

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.criteria)

    def fit_settings(self) -> FitSettings:
        return FitSettings(
            seed=self.data.seed,
            batch_size=self.data.batch_size,
            max_epochs=self.fit.max_epochs,
            limit_train_batches=self.fit.limit_train_batches,
            limit_val_batches=self.fit.limit_val_batches,
            monitor=self.fit.monitor,
            mode=self.fit.mode,
            patience=self.fit.patience,
            save_top_k=self.fit.save_top_k,
            threads=self.limits.threads,
        )
