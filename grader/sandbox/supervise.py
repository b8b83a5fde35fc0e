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

from grader.sandbox.base import CappedText, OutputWatch, SandboxOutcome, SandboxRequest

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
    watch = OutputWatch(request.output, limits.disk_mb, lambda: kill_tree(process))
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
    outcome.output_exceeded = watch.finish()
    for reader in readers:
        reader.join(timeout=5)
    outcome.exit_code = process.returncode
    outcome.wall_seconds = time.monotonic() - started
    outcome.peak_memory_mb = round(peak, 1)
    outcome.stdout, outcome.stderr = stdout.text(), stderr.text()
    return outcome


def tree_resident_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


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
