"""The worker's half of the pipe to the supervisor: the only way its evidence leaves.

A worker shares its process with student code, so it holds no key; the supervisor signs.
Student code can still find this object in memory. Two things keep that from being useful:
`send` refuses callers outside the runner's own modules (and reports them), and every
message first runs the tripwire's check that the runner's modules are still its own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from grader.contract import Prediction, RunReport, Stage, WorkerMessage

RUNNER_FOLDER = str(Path(__file__).resolve().parent)


class Channel:
    __slots__ = ("_before_send", "_fd", "_started")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._started = time.perf_counter()
        self._before_send: Callable[[], list[str]] = list

    def guard_with(self, check: Callable[[], list[str]]) -> None:
        """Run `check` before each message; what it finds goes to the supervisor first."""
        self._before_send = check

    def reached(self, report: RunReport, stage: Stage) -> None:
        report.stage = stage
        report.timings[stage] = round(time.perf_counter() - self._started, 3)
        self._send(WorkerMessage(kind="report", report=report), sys._getframe(1))

    def save(self, report: RunReport) -> None:
        self._send(WorkerMessage(kind="report", report=report), sys._getframe(1))

    def predicted(self, prediction: Prediction) -> None:
        self._send(WorkerMessage(kind="prediction", prediction=prediction), sys._getframe(1))

    def end(self) -> None:
        self._send(WorkerMessage(kind="end"), sys._getframe(1))

    def suspect(self, text: str) -> None:
        """Written at once and never refused: the tripwire's findings must leave before student code resumes."""
        self._write(WorkerMessage(kind="suspicion", suspicion=text))

    def _send(self, message: WorkerMessage, caller: object) -> None:
        file = caller.f_code.co_filename  # type: ignore[attr-defined]
        if not file.startswith(RUNNER_FOLDER):
            self.suspect(f"code outside the grader ({Path(file).name}) called the grader's report channel")
            return
        for finding in self._before_send():
            self.suspect(finding)
        self._write(message)

    def _write(self, message: WorkerMessage) -> None:
        data = memoryview((message.model_dump_json() + "\n").encode())
        while data:
            data = data[os.write(self._fd, data) :]
