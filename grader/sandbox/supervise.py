"""Supervision of a runner started as a host process (the `none` and `process` backends):
stdin in, capped output out, and a kill of the whole process group at the time or memory limit
or when the output folder outgrows its budget."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

import psutil

from grader.sandbox.base import CappedText, RunWatch, SandboxOutcome, SandboxRequest

POLL_SECONDS = 0.1


def _drain(stream, sink: CappedText) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        sink.feed(chunk)


def supervise(process: subprocess.Popen, request: SandboxRequest, backend: str) -> SandboxOutcome:
    """Feed stdin, capture output, and kill the process group on time-out or memory excess."""
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
    peak = 0.0
    watch = RunWatch(request, lambda: kill_tree(process))
    watch.start()
    while process.poll() is None:
        elapsed = time.monotonic() - started
        resident = tree_resident_mb(process.pid)
        peak = max(peak, resident)
        if resident > limits.memory_mb:
            outcome.out_of_memory = True
        elif elapsed > limits.wall_seconds:
            outcome.timed_out = True
        if outcome.out_of_memory or outcome.timed_out:
            kill_tree(process)
            break
        time.sleep(POLL_SECONDS)
    process.wait()
    kill_tree(process)  # anything the runner left behind
    watch.finish(outcome)
    for reader in readers:
        reader.join(timeout=5)
    outcome.exit_code = process.returncode
    outcome.wall_seconds = time.monotonic() - started
    outcome.peak_memory_mb = round(peak, 1)
    outcome.stdout, outcome.stderr = stdout.text(), stderr.text()
    return outcome


def tree_resident_mb(pid: int) -> float:
    """The memory of a process tree, each page shared between its processes counted once.

    The runner's workers are forks of one warm parent and share its pages (torch, Lightning),
    so the processes' resident sizes are summed only where their proportional share is not
    readable.
    """
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    return sum(_proportional_bytes(process) for process in processes) / 2**20


def _proportional_bytes(process: psutil.Process) -> int:
    try:
        with open(f"/proc/{process.pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


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
