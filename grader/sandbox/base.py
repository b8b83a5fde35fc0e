"""The one small interface every sandbox backend implements."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from grader import tree
from grader.contract import SHARED_SCRATCH
from grader.sandbox import disk

# Variables a runner may see; everything else in the grader's environment stays out.
ALLOWED_ENV = ("LANG", "LC_ALL", "TZ")
# A fixed PATH: the host's would tell the runner where the grader's tools live.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONUNBUFFERED": "1",
    "WANDB_MODE": "disabled",
    "WANDB_SILENT": "true",
    "HYDRA_FULL_ERROR": "1",
    "MPLBACKEND": "Agg",
    "NO_COLOR": "1",
}


class SandboxUnavailable(Exception):
    """The backend cannot run here; the message says how to make it work."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float
    memory_mb: int
    threads: int
    output_bytes: int
    max_processes: int = 256
    max_file_mb: int = 512
    max_open_files: int = 4096
    disk_mb: int = 1024  # what a run may write into its output folder in all


@dataclass(frozen=True)
class SandboxRequest:
    """Run the runner on one staged submission.

    `submission` and `inputs` are read-only for the runner; `output` is the only place
    whose content comes back to the host.
    """

    submission: Path
    inputs: Path
    output: Path
    stdin: bytes
    limits: SandboxLimits
    # Set when the batch is stopping (Ctrl-C): the run ends at once and its outcome is discarded.
    stop: threading.Event = field(default_factory=threading.Event)
    # The host's own folders the run must never read (results, the submissions' originals):
    # backends that show the runner only what they mount need not look; `user` makes them so.
    private: tuple[Path, ...] = ()


@dataclass
class SandboxOutcome:
    backend: str
    exit_code: int | None
    wall_seconds: float
    timed_out: bool = False
    out_of_memory: bool = False
    output_exceeded: bool = False
    interrupted: bool = False  # by `SandboxRequest.stop`, not by anything the submission did
    peak_memory_mb: float | None = None
    stdout: str = ""
    stderr: str = ""


class Sandbox(Protocol):
    name: str

    def check(self) -> None:
        """Raise `SandboxUnavailable`, saying how to fix it, when the backend cannot run here."""

    def caveat(self) -> str | None:
        """What this backend leaves open here, for one warning before grading; None: nothing."""

    def run(self, request: SandboxRequest) -> SandboxOutcome: ...


def process_env(request: SandboxRequest) -> dict[str, str]:
    """The environment of a runner started as a host process: the allow-list and the sandbox's own."""
    env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
    env.update(SANDBOX_ENV)
    env.update(thread_env(request.limits.threads))
    env["PATH"] = SANDBOX_PATH
    env["HOME"] = str(request.output)
    env["TMPDIR"] = str(request.output)
    env["MPLCONFIGDIR"] = str(request.output)
    return env


def runner_command(
    submission: str, inputs: str, output: str, python: str = sys.executable, *options: str
) -> list[str]:
    return [
        python,
        "-m",
        "grader.runner",
        "--submission",
        submission,
        "--input",
        inputs,
        "--output",
        output,
        *options,
    ]


def available_cores() -> int:
    """The cores this process may run on (a container's or a job's share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_env(threads: int) -> dict[str, str]:
    return {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


class RunWatch(threading.Thread):
    """Stops a run whose output folder outgrows its budget, or nests folders past what the
    host walks, and any run once its batch is stopping. The only guard on the budget where
    the host cannot mount a bounded filesystem over the output (`disk.bounded` needs root);
    each file is also capped by the backends' file-size limit.
    """

    POLL_SECONDS = 0.2
    MAX_ENTRIES = disk.MAX_ENTRIES

    def __init__(
        self, request: SandboxRequest, stop: Callable[[], None], scratch_owner: int | None = None
    ) -> None:
        """`scratch_owner`: a uid of the run's own, whose files in `SHARED_SCRATCH` count too."""
        super().__init__(daemon=True)
        self.folder, self.limit, self.stop = request.output, request.limits.disk_mb * 2**20, stop
        self.scratch_owner = scratch_owner
        self.batch_stopping = request.stop
        self.exceeded = self.interrupted = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.POLL_SECONDS):
            if self.batch_stopping.is_set():
                self.interrupted = True
            elif self._too_big():
                self.exceeded = True
            else:
                continue
            self.stop()
            return

    def _too_big(self) -> bool:
        """Over the budget in bytes or entries, or nested past what the host walks."""
        total = count = 0
        folders = [self.folder]
        for path in owned_scratch(self.scratch_owner):
            with contextlib.suppress(OSError):
                info = os.lstat(path)
                if stat.S_ISDIR(info.st_mode):
                    folders.append(path)
                else:
                    count, total = count + 1, total + info.st_size
        try:
            for folder in folders:
                for entry in tree.entries(folder):
                    count += 1
                    if stat.S_ISREG(entry.info.st_mode):
                        total += entry.size
                    if total > self.limit or count > self.MAX_ENTRIES:
                        return True
        except tree.TooDeep:
            return True
        return False

    def finish(self, outcome: SandboxOutcome) -> None:
        """Stop watching, and say on `outcome` why the watch stopped the run, if it did."""
        self.done.set()
        self.join(timeout=5)
        outcome.output_exceeded, outcome.interrupted = self.exceeded, self.interrupted


def owned_scratch(uid: int | None) -> list[Path]:
    """What `uid` left at the top of the shared temporary folders (none for `None` or root)."""
    if not uid:
        return []
    owned = []
    for place in SHARED_SCRATCH:
        try:
            listing = list(os.scandir(place))
        except OSError:
            continue
        for entry in listing:
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    owned.append(Path(entry.path))
    return owned


def give_back(folder: Path) -> None:
    """Return a run's output to the host's uid, without following the runner's symlinks.

    Folders nested past what the host walks stay the runner's: root removes them anyway.
    """
    uid, gid = os.getuid(), os.getgid()
    os.chown(folder, uid, gid, follow_symlinks=False)
    for entry in tree.entries(folder, too_deep="skip"):
        with contextlib.suppress(OSError):
            os.chown(entry.name, uid, gid, dir_fd=entry.dir_fd, follow_symlinks=False)


class CappedText:
    """Keeps the head and the tail of a stream within a byte budget; the middle is dropped."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > self.half:
            self.dropped += len(self.tail) - self.half
            del self.tail[: len(self.tail) - self.half]

    def text(self) -> str:
        marker = f"\n[… {self.dropped} bytes cut …]\n".encode() if self.dropped else b""
        return bytes(self.head + marker + self.tail).decode("utf-8", errors="replace")
