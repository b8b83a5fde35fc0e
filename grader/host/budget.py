"""The host's own budget for reading what a submission controls: CPU time and memory.

The host parses the student's sources, configs and notebooks, and opens the checkpoint a run
wrote. Each known way to make that expensive is bounded where it is read (size caps, node
and opcode counts, visited sets, linear walks); this module bounds the ways nobody has found
yet. A reading runs in a child of the fork server (`grader.host.fork_server`), a clean
interpreter that imported the readers and torch once per batch, so a reading costs a fork,
not an import. The host watches the child's CPU time and how far its resident memory grew
past the fork server's pages it started with (`RLIMIT_AS` would refuse torch's address
space), and kills it past either; the child's own `RLIMIT_CPU` backs that up. Only plain
data comes back (the readers' dataclasses, pickled by the child's trusted code), size-capped.
Past its budget, or when it crashes, a reading raises `OverBudget`, which the caller turns
into a criterion not judged and a message: the batch, and the rest of that submission, go on.

The CPU budget is per submission: `for_submission()` (entered by `grading.grade`) opens an
account that every reading of that submission draws on, in its thread; one reading may take
half of it, so one past its budget leaves the next ones theirs. Where there is no fork
(Windows), readings run in the host process, bounded by their own caps only.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import pickle
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psutil

from grader.host import fork_server

T = TypeVar("T")

# How often the host looks at a running reading. An honest one takes about 0.05 s, and its
# result is taken the moment it is sent, whatever this is.
POLL_SECONDS = 0.02
MAX_RESULT_BYTES = 16 * 2**20  # an honest submission's facts are a few KB
# A reading that ends without an answer this close to its CPU limit met it (`RLIMIT_CPU`);
# further from it, it crashed.
CPU_SLACK = 0.25
# The readings are single-threaded; a thread pool would only spin beside the sandboxes.
SERVER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Budget:
    cpu_seconds: float = 6.0  # all readings of one submission together
    reading_cpu_seconds: float = 3.0  # any one of them (an honest one takes about 0.1 s), so that
    # one reading past its budget leaves the others theirs: it costs one criterion
    memory_mb: int = 1024  # each reading; the checkpoint alone may inflate to 512 MB
    wall_seconds: float = 60.0  # only against a reading that waits: the CPU limit is what binds

    def cpu_message(self) -> str:
        return (
            f"it took more than the {self.reading_cpu_seconds:g} s of CPU time the grader gives one reading"
        )

    def spent_message(self) -> str:
        return f"the grader had already spent the {self.cpu_seconds:g} s of CPU time it gives one submission"


DEFAULT = Budget()


class OverBudget(Exception):
    """A reading went past its budget and was stopped; the message says which limit, for the student."""


@dataclass
class _Account:
    budget: Budget
    spent: float = 0.0  # CPU seconds

    @property
    def left(self) -> float:
        """What the next reading may spend."""
        return min(self.budget.cpu_seconds - self.spent, self.budget.reading_cpu_seconds)


_account: contextvars.ContextVar[_Account | None] = contextvars.ContextVar("reading_budget", default=None)


@contextlib.contextmanager
def for_submission(budget: Budget = DEFAULT) -> Iterator[None]:
    """Every reading inside (in this thread) draws on one CPU budget."""
    token = _account.set(_Account(budget))
    try:
        yield
    finally:
        _account.reset(token)


class _Server:
    """The fork server, started once per host process, again if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            control, remote = socket.socketpair()
            # The host's own path, so that what it imports the server imports alike.
            path = {"PYTHONPATH": os.pathsep.join(entry for entry in sys.path if entry)}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "grader.host.fork_server", str(remote.fileno())],
                pass_fds=[remote.fileno()],
                stdin=subprocess.DEVNULL,
                env={**os.environ, **SERVER_ENVIRONMENT, **path},
            )
            remote.close()
            self._control = control

    def fork(self) -> socket.socket:
        """A new child's socket: the child says its pid on it, then takes one request."""
        for attempt in (1, 2):
            self.start()
            mine, theirs = socket.socketpair()
            try:
                with self._lock:
                    socket.send_fds(self._control, [b"r"], [theirs.fileno()])
                return mine
            except OSError:
                mine.close()
                if attempt == 2:
                    raise
                with self._lock:
                    self._process.kill()  # gone or stuck: the next attempt starts a new one
                    self._process.wait()
            finally:
                theirs.close()
        raise AssertionError("unreachable")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


_server = _Server()


def available() -> bool:
    return hasattr(os, "fork")


def warm() -> None:
    """Start the fork server early: its imports then overlap the first sandbox run."""
    if available():
        _server.start()


def server_pid() -> int | None:
    """The fork server's pid (its children are the readings), or None before it started."""
    return _server.pid


def run(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a child, within the budget; `OverBudget` past it.

    `function` must be a module's top-level function and return plain, picklable data. An
    exception it raises is raised here again (as `RuntimeError` when it does not pickle).
    """
    account = _account.get() or _Account(DEFAULT)
    if not available():
        return function(*args)
    if account.left <= 0:
        raise OverBudget(account.budget.spent_message())
    with _server.fork() as channel:
        status, value, cpu = _supervise(channel, function, args, account)
    account.spent += cpu
    if status == "ok":
        return value
    if status == "raise":
        raise value
    if status == "error":
        raise RuntimeError(value)
    raise OverBudget(value)


def _supervise(
    channel: socket.socket, function: Callable, args: tuple, account: _Account
) -> tuple[str, Any, float]:
    """(status, value, CPU seconds): "ok" and the result, "raise" and the exception, or "error"
    or "over" and why."""
    # Resident size is one read of /proc/PID/statm, cheap to poll; the unique set size walks
    # every page of the child, which cost the host as much CPU as the child.
    budget, limit = account.budget, account.left
    cpu_message = (
        budget.cpu_message()
        if limit >= budget.reading_cpu_seconds
        else f"it took more than the {limit:.1f} s of CPU time left of the {budget.cpu_seconds:g} s "
        "the grader gives one submission"
    )
    memory_message = f"it needed more than the {budget.memory_mb} MB of memory the grader allows"
    deadline = time.monotonic() + budget.wall_seconds
    channel.settimeout(budget.wall_seconds)  # the first reading waits for the server's imports
    pid = fork_server.receive_exactly(channel, fork_server.PID.size)
    try:
        child = psutil.Process(fork_server.PID.unpack(pid)[0])
        # Waiting for its request, the child holds the fork server's pages and nothing of its own.
        shared = child.memory_info().rss
    except (struct.error, psutil.Error):
        return "error", "the grader's fork server ended", 0.0
    fork_server.send_message(channel, pickle.dumps((function, args, max(1, math.ceil(limit)))))
    cpu = 0.0
    while True:
        if select.select([channel], [], [], POLL_SECONDS)[0]:
            try:
                answer = fork_server.receive_message(channel, MAX_RESULT_BYTES)
            except ValueError:
                _kill(child)
                return "over", f"its findings were over {MAX_RESULT_BYTES // 2**20} MB", cpu
            if answer is None:  # ended without a whole answer: its CPU limit, or a crash
                _kill(child)
                if cpu + CPU_SLACK < limit:
                    return "over", "it crashed the grader's reading of it", cpu
                return "over", cpu_message, max(cpu, limit)
            status, value, cpu = pickle.loads(answer)  # pickled by the grader's own code in the child
            return ("over", memory_message, cpu) if status == "memory" else (status, value, cpu)
        try:
            times, grown = child.cpu_times(), child.memory_info().rss - shared
        except psutil.Error:
            continue  # it just ended: its answer, or the end of the socket, is there
        cpu = times.user + times.system
        over = (
            cpu_message if cpu > limit
            else memory_message if grown > budget.memory_mb * 2**20
            else f"it took longer than {budget.wall_seconds:g} s" if time.monotonic() > deadline
            else None
        )  # fmt: skip
        if over:
            _kill(child)
            return "over", over, cpu


def _kill(child: psutil.Process) -> None:
    """psutil checks that the pid is still that child's before it signals."""
    with contextlib.suppress(psutil.Error):
        child.kill()
