"""The `none` backend: a plain child process. For trusted local use only.

It still enforces the wall clock and a memory budget (resident memory of the whole process
tree), cuts output, and hides the grader's environment; it does not isolate the file
system or the network.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time

import psutil

from grader.sandbox.base import (
    ALLOWED_ENV,
    SANDBOX_ENV,
    CappedText,
    OutputWatch,
    SandboxOutcome,
    SandboxRequest,
    runner_command,
    thread_env,
)

POLL_SECONDS = 0.1


def sandbox_env(request: SandboxRequest) -> dict[str, str]:
    env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
    env.update(SANDBOX_ENV)
    env.update(thread_env(request.limits.threads))
    env["HOME"] = str(request.output)
    env["TMPDIR"] = str(request.output)
    env["MPLCONFIGDIR"] = str(request.output)
    return env


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
    watch = OutputWatch(request.output, limits.max_output_mb, lambda: kill_tree(process))
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


def _limit_resources(max_file_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    size = max_file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


class LocalSandbox:
    name = "none"

    def check(self) -> None:
        """A plain child process runs everywhere."""

    def run(self, request: SandboxRequest) -> SandboxOutcome:
        command = runner_command(str(request.submission), str(request.inputs), str(request.output))
        max_file_mb = request.limits.max_file_mb
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=request.output,
            env=sandbox_env(request),
            start_new_session=True,
            preexec_fn=lambda: _limit_resources(max_file_mb),
        )
        return supervise(process, request, self.name)
