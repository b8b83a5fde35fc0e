"""Grade one submission in four steps: prepare, execute, judge, (then the batch) publish.

| step | package | what it does |
|---|---|---|
| prepare | `host/prepare/` | finds submissions, stages a private copy, writes the digits (no test labels), trains the reference |
| execute | `host/execute/` | runs the runner in the sandbox, reads back its signed report and checkpoint |
| judge | `host/judge/` | decides status and reason, scores every criterion, reads the source |
| publish | `host/publish/` | writes the CSV, results, feedback and reports, from results only |
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.host import budget, execute, judge, prepare
from grader.host.prepare.data import Splits
from grader.host.prepare.discovery import Submission
from grader.host.prepare.staging import StagingError
from grader.host.results import GradeResult
from grader.rubric.models import Rubric
from grader.sandbox import Sandbox, SandboxLimits


@dataclass(frozen=True)
class Reference:
    """The reference solution graded under the rubric's budget on this machine."""

    accuracy: float
    seconds: float | None  # its whole run in the sandbox, which sets the time limit's scale


@dataclass(frozen=True)
class GradingContext:
    """What every submission of a batch shares: rubric, data, sandbox, folders, reference."""

    rubric: Rubric
    splits: Splits
    sandbox: Sandbox
    workdir: Path
    inputs: Path  # the runner's read-only inputs: digits without test labels, and the RunSpec
    reference: Reference | None = None
    private: tuple[Path, ...] = ()  # the host's folders no run may read: see `SandboxRequest.private`
    # Set to stop every run in progress at once (Ctrl-C); their outcomes are never published.
    stopping: threading.Event = field(default_factory=threading.Event, compare=False)

    def work_folder(self, name: str) -> Path:
        """The submission's staged copy and the run's output; the batch removes it after."""
        return self.workdir / "submissions" / name

    @property
    def wall_seconds(self) -> float:
        """The rubric's limit, or a multiple of the reference's own run on a slower machine."""
        limits = self.rubric.limits
        scaled = limits.reference_multiple * (self.reference.seconds or 0.0) if self.reference else 0.0
        return max(limits.wall_seconds, round(scaled))

    def time_note(self) -> list[str]:
        if self.wall_seconds <= self.rubric.limits.wall_seconds:
            return []
        limits = self.rubric.limits
        return [
            f"the time limit was raised from {limits.wall_seconds:g} s to {self.wall_seconds:g} s: "
            f"{limits.reference_multiple:g} times the reference solution's {self.reference.seconds:.1f} s "
            "on this machine"
        ]

    @property
    def limits(self) -> SandboxLimits:
        limits = self.rubric.limits
        return SandboxLimits(
            wall_seconds=self.wall_seconds,
            memory_mb=limits.memory_mb,
            threads=limits.threads,
            output_bytes=limits.output_kb * 1024,
            disk_mb=limits.disk_mb,
        )


def grade(submission: Submission, context: GradingContext) -> GradeResult:
    started = time.perf_counter()
    budget.warm()  # the fork server's imports overlap the first submission's staging and run
    # Converting its notebooks, opening its checkpoint and reading its source share one budget.
    with budget.for_submission():
        try:
            staged = prepare.stage_submission(submission, context.work_folder(submission.name))
        except StagingError as error:
            return judge.rejected(submission, context, str(error), started)
        run = execute.execute(staged, context)
        return judge.judge(submission, staged, run, context, started)
