"""Supervision of a runner started as a host process (the `none`, `process` and `user` backends):
stdin in, capped output out, and a kill of the whole process group at the time or memory limit
(memory as `grader.sandbox.memory` counts it) or when the output folder outgrows its budget."""

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
from grader.sandbox.memory import CgroupMemory, MemoryWatch

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
    cgroup: CgroupMemory | None = None,
    memory_owner: int | None = None,
) -> SandboxOutcome:
    """Feed stdin, capture output, and kill the process group on time-out or memory excess.

    `members` lists the run's processes when they are not all the runner's descendants; they
    are killed too. `scratch_owner` is a uid of the run's own: see `RunWatch`. `cgroup` is the
    run's memory cgroup where it has one; else its shared memory is counted, with that of
    `memory_owner` (see `grader.sandbox.memory`).
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
    counts = [MemoryWatch(members, memory_owner, count_shared=cgroup is None), *([cgroup] if cgroup else [])]

    def kill() -> None:
        kill_tree(process)
        kill_all(members())

    watch = RunWatch(request, kill, scratch_owner)
    watch.start()
    while process.poll() is None:
        elapsed = time.monotonic() - started
        if any([count.over(limits.memory_mb) for count in counts]):  # each reads every poll
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
    outcome.peak_memory_mb = round(max(count.peak_mb for count in counts), 1)
    outcome.stdout, outcome.stderr = stdout.text(), stderr.text()
    return outcome


def _tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.Error:
        return []


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
