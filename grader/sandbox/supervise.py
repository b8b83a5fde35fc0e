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


class NamespaceMembers:
    """The processes of a sandbox whose workers are not all its runner's descendants, where no
    cgroup lists them: the runner's own tree, and every process in its sandbox's PID or mount
    namespace (a worker the host's zygote forked there, and the zygote's child that joined).
    Nothing in the sandbox can leave them: making namespaces of its own needs capabilities the
    sandbox does not have."""

    def __init__(self, runner_pid: int) -> None:
        self.runner_pid = runner_pid
        self.namespaces: set[str] = set()

    def __call__(self) -> list[int]:
        tree = _tree(self.runner_pid)
        if not self.namespaces:
            own = {_namespace("self", "pid"), _namespace("self", "mnt")}
            for pid in tree:
                found = {_namespace(pid, "pid"), _namespace(pid, "mnt")} - own - {None}
                if len(found) == 2:
                    self.namespaces = found
                    break
        inside = [
            pid for pid in psutil.pids() if {_namespace(pid, "pid"), _namespace(pid, "mnt")} & self.namespaces
        ]
        return sorted({*tree, *inside})


def _namespace(pid: int | str, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


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
