"""Supervision of a runner started as a host process (the `none` and `process` backends):
stdin in, capped output out, and a kill of the whole process group at the time or memory limit
or when the output folder outgrows its budget."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import psutil

from grader.sandbox.base import CappedText, RunWatch, SandboxOutcome, SandboxRequest

POLL_SECONDS = 0.1


def _drain(stream, sink: CappedText) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        sink.feed(chunk)


def supervise(
    process: subprocess.Popen,
    request: SandboxRequest,
    backend: str,
    members: Callable[[], list[int]] | None = None,
    scratch_owner: int | None = None,
) -> SandboxOutcome:
    """Feed stdin, capture output, and kill the process group on time-out or memory excess.

    `members` lists the run's processes when they are not all the runner's descendants; they
    are killed too. `scratch_owner` is a uid of the run's own: see `RunWatch`.
    """
    limits = request.limits
    stdout, stderr = CappedText(limits.output_bytes), CappedText(limits.output_bytes)
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, stdout), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        process.stdin.write(request.stdin)
        process.stdin.close()
    except BrokenPipeError:
        pass
    started = time.monotonic()
    outcome = SandboxOutcome(backend=backend, exit_code=None, wall_seconds=0.0)
    members = members or functools.partial(_tree, process.pid)
    memory = MemoryWatch(members)

    def kill() -> None:
        kill_tree(process)
        kill_all(members())

    watch = RunWatch(request, kill, scratch_owner)
    watch.start()
    while process.poll() is None:
        elapsed = time.monotonic() - started
        if memory.over(limits.memory_mb):
            outcome.out_of_memory = True
        elif elapsed > limits.wall_seconds:
            outcome.timed_out = True
        if outcome.out_of_memory or outcome.timed_out:
            kill()
            break
        time.sleep(POLL_SECONDS)
    process.wait()
    kill()  # anything the runner left behind
    watch.finish(outcome)
    for reader in readers:
        reader.join(timeout=5)
    outcome.exit_code = process.returncode
    outcome.wall_seconds = time.monotonic() - started
    outcome.peak_memory_mb = round(memory.peak_mb, 1)
    outcome.stdout, outcome.stderr = stdout.text(), stderr.text()
    return outcome


class MemoryWatch:
    """The memory of a process tree, each page its processes share counted once.

    The runner's workers are forks of one warm parent and share its pages (torch, Lightning),
    so summed resident sizes overstate it. Their proportional shares are exact but cost the
    kernel a walk of every mapping (about 20 ms for a process that imported torch), so they
    are read only when the cheap sum crosses the limit, and every `PEAK_SECONDS` for the peak.
    """

    PEAK_SECONDS = 2.0

    def __init__(self, members: Callable[[], list[int]]) -> None:
        self.members = members
        self.peak_mb = 0.0
        self._next_peak = 0.0

    def over(self, limit_mb: float) -> bool:
        processes = [process for pid in self.members() if (process := _process(pid))]
        resident = sum(_resident_bytes(process) for process in processes) / 2**20
        if resident <= limit_mb and time.monotonic() < self._next_peak:
            return False
        self._next_peak = time.monotonic() + self.PEAK_SECONDS
        proportional = sum(_proportional_bytes(process) for process in processes) / 2**20
        self.peak_mb = max(self.peak_mb, proportional)
        return proportional > limit_mb


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.Error:
        return []


def _resident_bytes(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _proportional_bytes(process: psutil.Process) -> int:
    """Its proportional set size, or its resident size where that is not readable."""
    try:
        with open(f"/proc/{process.pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _resident_bytes(process)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def kill_tree(process: subprocess.Popen) -> None:
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            continue
