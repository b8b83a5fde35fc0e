"""How the supervisor starts its workers, and ends what they leave behind.

Workers are forked by the zygote (`grader.runner.zygote`), which imported torch and Lightning
once; when it is gone (student code can kill a process of its own user), a worker starts as a
fresh interpreter instead, as it would without one. Standard library and pydantic only: the
supervisor imports this, and it never imports torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
MAX_MESSAGE_BYTES = 64 * 1024
REQUEST_FDS = 3
INHERITED_LIMITS = (
    resource.RLIMIT_CORE,
    resource.RLIMIT_FSIZE,
    resource.RLIMIT_CPU,
    resource.RLIMIT_NOFILE,
    resource.RLIMIT_NPROC,
)
# Rounds of "list every process, kill all but the zygote" before giving up on sparing it.
STRAGGLER_ROUNDS = 50
REPARENT_SECONDS = 2.0
# No working folder on sys.path (3.11+); before that it is the output folder, which holds
# nothing of the student's when a worker starts.
SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else []

WorkerModule = Literal["grader.runner.probe", "grader.runner.train", "grader.runner.predict"]


class WorkerRequest(BaseModel):
    """Sent with three descriptors: the worker's channel, and the supervisor's stdout and stderr."""

    module: WorkerModule
    arguments: list[str]
    environment: dict[str, str]
    cwd: str
    limits: dict[int, tuple[int, int]]  # the supervisor's own, for a worker forked outside it


class WorkerEvent(BaseModel):
    ready: bool = False
    pid: int | None = None
    exit_code: int | None = None


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, for the calls Python 3.11's `os` lacks (prctl, setns)."""
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc().prctl(option, value, 0, 0, 0)


def set_dumpable(dumpable: bool) -> None:
    """Not dumpable: no ptrace and no /proc/<pid>/mem for the workers, which run as the same user."""
    _prctl(PR_SET_DUMPABLE, int(dumpable))


def become_subreaper() -> None:
    """Orphans of the workers become this process's children, so that it can reap them."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def start_zygote(mode: Literal["control", "serve"], **options: Any) -> tuple[socket.socket, subprocess.Popen]:
    """`python -m grader.runner.zygote --MODE FD`, and this side's end of its socket."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    command = [sys.executable, *SAFE_PATH, "-m", "grader.runner.zygote", f"--{mode}", str(theirs.fileno())]
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True, **options
        )
    finally:
        theirs.close()
    return mine, process


@dataclass(frozen=True)
class Started:
    pid: int
    wait: Callable[[], int]  # the exit code, -N for signal N


class Zygote:
    """The supervisor's end of a zygote: its own (`spawn`), or the host's warm one (`attach`)."""

    def __init__(self, control: socket.socket, process: subprocess.Popen | None) -> None:
        self._control = control
        self.process = process
        self._ready: bool | None = None if process else True  # the host waited for its own

    @classmethod
    def spawn(cls) -> Zygote:
        return cls(*start_zygote("control"))

    @classmethod
    def attach(cls, fd: int) -> Zygote:
        return cls(socket.socket(fileno=fd), None)

    @property
    def pid(self) -> int | None:
        """Inside the sandbox, the process to spare; the host's is out of its reach anyway."""
        return self.process.pid if self.process else None

    def _event(self) -> WorkerEvent | None:
        try:
            message = self._control.recv(MAX_MESSAGE_BYTES)
            return WorkerEvent.model_validate_json(message) if message else None
        except (OSError, ValidationError):
            return None

    def alive(self) -> bool:
        if self._ready is None:  # it imports while the supervisor unpacks the digits
            event = self._event()
            self._ready = bool(event and event.ready)
        if self._ready and (self.process is None or self.process.poll() is None):
            if self.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGCONT)  # in case a straggler stopped it
            return True
        self._ready = False
        return False

    def start(self, module: WorkerModule, arguments: list[str], channel: int) -> Started | None:
        if not self.alive():
            return None
        request = WorkerRequest(
            module=module,
            arguments=arguments,
            environment=dict(os.environ),
            cwd=os.getcwd(),
            limits={limit: resource.getrlimit(limit) for limit in INHERITED_LIMITS},
        )
        try:
            socket.send_fds(self._control, [request.model_dump_json().encode()], [channel, 1, 2])
        except OSError:
            self._ready = False
            return None
        event = self._event()
        if event is None or event.pid is None:
            return None
        return Started(event.pid, lambda: self._exit_code(event.pid))

    def _exit_code(self, pid: int) -> int:
        event = self._event()
        if event is not None and event.exit_code is not None:
            return event.exit_code
        # The zygote died under its worker, which is then this subreaper's to wait for.
        deadline = time.monotonic() + REPARENT_SECONDS
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                if time.monotonic() > deadline:
                    return -signal.SIGKILL
                time.sleep(0.01)

    def stop(self) -> None:
        self._control.close()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()


def start_worker(zygote: Zygote, module: WorkerModule, arguments: list[str], channel: int) -> Started:
    """A worker forked by the zygote, or a fresh interpreter when the zygote is gone."""
    forked = zygote.start(module, arguments, channel)
    if forked is not None:
        return forked
    command = [sys.executable, *SAFE_PATH, "-m", module, *arguments, "--channel", str(channel)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, pass_fds=(channel,), start_new_session=True)
    return Started(process.pid, process.wait)


def stop_stragglers(worker_pid: int, zygote: Zygote, own_uid: bool) -> None:
    """End every process a worker left behind, before the next step trusts the sandbox again.

    As PID 1 of the sandbox's own namespace (bubblewrap, Docker), or with a uid that the host
    gave this run alone (`own_uid`, the `user` backend), the supervisor can reach all of them,
    and spares only the zygote; elsewhere (the `none` backend) it ends those still in the
    worker's session.
    """
    if os.getpid() != 1 and not own_uid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker_pid, signal.SIGKILL)
        return
    spared = {1, os.getpid()}
    if zygote.pid and zygote.alive():
        spared.add(zygote.pid)
    uid = os.getuid() if own_uid else None
    for _ in range(STRAGGLER_ROUNDS):
        _reap()
        left = [pid for pid in _living(uid) if pid not in spared]
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    # Something keeps forking faster than it dies: end everything, the zygote too.
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    _reap(block=True)


def _living(uid: int | None = None) -> list[int]:
    """Processes of this PID namespace that are not zombies (only those of real uid `uid`)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                fields = dict(line.split(b":", 1) for line in status.read().splitlines() if b":" in line)
            state, real_uid = fields[b"State"].split()[0], int(fields[b"Uid"].split()[0])
        except (OSError, KeyError, IndexError, ValueError):
            continue
        if state != b"Z" and (uid is None or real_uid == uid):
            pids.append(int(entry.name))
    return pids


def _reap(block: bool = False) -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
            if pid == 0:
                return
