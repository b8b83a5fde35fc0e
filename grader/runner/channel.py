"""The worker's half of the pipe to the supervisor: the only way its evidence leaves.

A worker shares its process with student code, so it holds no key; the supervisor signs.
Student code can still find this object in memory. Two things keep that from being useful:
`send` refuses a message unless the grader's own code called it, from a call chain with no
student code in it, and every message first runs the tripwire's check that the runner's
modules are still its own.

"The grader's own code" is decided by identity, not by name: a file name is whatever its author
passes to `compile`. The code objects of the grader's modules, and of the call chain that
created the channel, are taken when the channel is made, before any student code exists; a frame
is the grader's when it runs one of them with the globals of the module that defined it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FrameType, FunctionType, ModuleType
from typing import Any

from grader.contract import Prediction, RunReport, Stage, WorkerMessage
from grader.runner.tripwire import GRADER_FOLDER, STDLIB_FOLDER, trusted_folders

RUNNER_FOLDER = str(Path(__file__).resolve().parent)


def _functions_of(value: Any) -> Iterator[FunctionType]:
    """The functions a module attribute holds: itself, or a class's methods and properties."""
    if isinstance(value, FunctionType):
        yield value
    elif isinstance(value, type):
        for member in vars(value).values():
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property):
                yield from (f for f in (member.fget, member.fset, member.fdel) if isinstance(f, FunctionType))
            elif isinstance(member, FunctionType):
                yield member


def _nested(code: CodeType) -> Iterator[CodeType]:
    """A code object and those it defines (nested functions, lambdas, comprehensions)."""
    pending = [code]
    while pending:
        current = pending.pop()
        yield current
        pending += [const for const in current.co_consts if isinstance(const, CodeType)]


def grader_code(stack: FrameType | None) -> dict[int, tuple[CodeType, dict]]:
    """The grader's code objects by id, each with the globals it runs with: every function of the
    grader's loaded modules, and the frames of `stack` (the call chain that makes the channel, whose
    module bodies no function holds)."""
    known: dict[int, tuple[CodeType, dict]] = {}
    for module in list(sys.modules.values()):
        if not isinstance(module, ModuleType) or not str(getattr(module, "__file__", "")).startswith(
            GRADER_FOLDER
        ):
            continue
        globals_ = vars(module)
        for value in list(globals_.values()):
            for function in _functions_of(value):
                if function.__globals__ is globals_:
                    known.update((id(code), (code, globals_)) for code in _nested(function.__code__))
    while stack is not None:
        if stack.f_code.co_filename.startswith(GRADER_FOLDER):
            known[id(stack.f_code)] = (stack.f_code, stack.f_globals)
        stack = stack.f_back
    return known


class Channel:
    __slots__ = ("_before_send", "_fd", "_grader", "_libraries")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._before_send: Callable[[], list[str]] = list
        self._grader = grader_code(sys._getframe(1))
        self._libraries = (*trusted_folders(), STDLIB_FOLDER, "<frozen ")

    def guard_with(self, check: Callable[[], list[str]]) -> None:
        """Run `check` before each message; what it finds goes to the supervisor first."""
        self._before_send = check

    def reached(self, report: RunReport, stage: Stage) -> None:
        report.stage = stage
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

    def _send(self, message: WorkerMessage, caller: FrameType) -> None:
        stranger = self._stranger(caller)
        if stranger is not None:
            where = f"{Path(stranger.f_code.co_filename).name}:{stranger.f_lineno}"
            self.suspect(f"code that is not the grader's ({where}) called the grader's report channel")
            return
        for finding in self._before_send():
            self.suspect(finding)
        self._write(message)

    def _stranger(self, frame: FrameType | None) -> FrameType | None:
        """The first frame of the call chain that is not the grader's, None when there is none.

        The caller itself must be the grader's runner; below it, a library (Lightning's loop calling
        the grader's callback) or the standard library may stand, but no student code."""
        caller = True
        while frame is not None:
            known = self._grader.get(id(frame.f_code))
            if known is not None:
                if known[0] is not frame.f_code or known[1] is not frame.f_globals:
                    return frame  # the grader's code run with other globals
                if caller and not frame.f_code.co_filename.startswith(RUNNER_FOLDER):
                    return frame
            elif caller or not self._is_library(frame.f_code.co_filename):
                return frame
            caller = False
            frame = frame.f_back
        return None

    def _is_library(self, file: str) -> bool:
        # Code under the grader's own folder that is not among its code objects was made elsewhere.
        return file.startswith(self._libraries) and not file.startswith(GRADER_FOLDER)

    def _write(self, message: WorkerMessage) -> None:
        data = memoryview((message.model_dump_json() + "\n").encode())
        while data:
            data = data[os.write(self._fd, data) :]
