"""The `process` backend: the runner in Linux namespaces through bubblewrap, for machines
without Docker.

The runner sees a read-only system and Python installation, the submission and inputs
read-only at fixed paths, the output folder read-write, and private tmpfs for /tmp and
HOME. It has no network, its own PID/IPC/UTS/mount namespaces, a cleared environment and
per-process limits. Run as root, bubblewrap mounts as root and the runner then drops to a
throwaway uid (so RLIMIT_NPROC applies); run unprivileged, a user namespace does the job.
Either way the workers come from the host's warm zygote where they can (`warm_problem`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from grader.confine.cgroups import RunCgroups, remove_stale_run_cgroups, writable_problem
from grader.runner.launch import SAFE_PATH
from grader.sandbox import disk
from grader.sandbox.base import (
    SandboxOutcome,
    SandboxRequest,
    SandboxUnavailable,
    give_back,
    process_env,
    runner_command,
)
from grader.sandbox.bootstrap import bootstrap_command
from grader.sandbox.installation import hidden_folders, python_paths
from grader.sandbox.supervise import NamespaceMembers, supervise
from grader.sandbox.warm import warm_zygote

SUBMISSION, INPUTS, OUTPUT = "/sandbox/submission", "/sandbox/input", "/sandbox/output"
HOME = "/tmp/home"
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts")
# The cgroup's limit is a backstop behind the watchdog, which reads the cgroup's own count of
# what the run holds (`CgroupMemory`) every poll and stops it first, saying `out_of_memory`.
# The limit leaves room for what a fast allocator adds between two polls and for the page
# cache, which the kernel would otherwise reclaim from under the run: a quarter more, and 256 MB.
CGROUP_HEADROOM = 1.25
CGROUP_EXTRA_MB = 256


def cgroup_limit_mb(memory_mb: int) -> int:
    return int(memory_mb * CGROUP_HEADROOM) + CGROUP_EXTRA_MB


def _namespace_args(as_root: bool) -> list[str]:
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    # The runner's supervisor is the namespace's init: no signal from inside reaches it, and
    # it can end every process the training run left before the predicting run starts.
    args += ["--as-pid-1"]
    if as_root:  # no user namespace: the bootstrap's uid drop needs a real non-root uid
        return [*args, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*args, "--unshare-user", "--disable-userns"]


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for path in SYSTEM_LINKS:  # merged-/usr systems have symlinks here, older ones folders
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    return [*args, "--proc", "/proc", "--dev", "/dev"]


def _entries(option: str, folder: Path, destination: str) -> list[tuple[str, str, str]]:
    """One mount per entry, so the folder's own mode (0700 from mkdtemp) does not matter."""
    mounts = []
    for entry in sorted(folder.iterdir()):
        target = f"{destination}/{entry.name}"
        if entry.is_symlink():  # resolved inside the sandbox, never by bwrap on the host
            mounts.append(("--symlink", os.readlink(entry), target))
        else:
            mounts.append((option, str(entry), target))
    return mounts


def _mount_args(folders: list[str], mounts: list[tuple[str, str, str]]) -> list[str]:
    """`(option, source, destination)` mounts, with readable folders above each.

    bubblewrap creates missing parents as 0700, which a non-root runner cannot traverse.
    """
    args: list[str] = []
    made: set[Path] = set()
    for destination in [*folders, *(mount[2] for mount in mounts)]:
        path = Path(destination)
        for folder in [*reversed(path.parents[:-1]), *([path] if destination in folders else [])]:
            if folder not in made:
                made.add(folder)
                args += ["--perms", "0755", "--dir", str(folder)]
    for option, source, destination in mounts:
        args += [option, source, destination]
    return args


def _memfd(text: str) -> int:
    fd = os.memfd_create("sandbox-data")
    os.write(fd, text.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@functools.cache
def _cgroups_problem() -> str | None:
    """Why runs here get no cgroups of their own (None when they do); asked once per process:
    on cgroup v2 the answer also readies the runs' parent cgroup."""
    return writable_problem()


@functools.cache
def _problem() -> str | None:
    """Why bubblewrap cannot run the sandbox here (None when it can), from one quick probe."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (apt install bubblewrap, dnf install bubblewrap)"
    probe = [bwrap, *_namespace_args(os.geteuid() == 0), *_system_args()]
    probe += ["--perms", "1777", "--size", str(2**20), "--tmpfs", "/tmp", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap does not start: {error}"
    if result.returncode != 0:
        return (
            f"bubblewrap cannot create the sandbox here ({result.stderr.strip()}); it needs "
            "version 0.8 or later and unprivileged user namespaces (or root)"
        )
    return None


@functools.cache
def _join_problem() -> str | None:
    """Why the host's zygote could not join a user's sandbox here (None when it can), from one
    real try: a sandbox made as every run's is, and `grader.runner.entering` joining it."""
    command = [shutil.which("bwrap") or "bwrap", *_namespace_args(False), *_system_args(), "cat"]
    sandbox = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        inside = _first_inside(sandbox)
        if inside is None:
            return "the probe's sandbox did not start"
        joining = [sys.executable, *SAFE_PATH, "-m", "grader.runner.entering", str(inside)]
        tried = subprocess.run(joining, capture_output=True, text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"joining a sandbox failed: {error}"
    finally:
        sandbox.stdin.close()
        sandbox.wait()
    return None if tried.returncode == 0 else f"joining a sandbox failed: {tried.stderr.strip()[-300:]}"


def _first_inside(sandbox: subprocess.Popen) -> int | None:
    """The host's pid of the sandbox's first process (PID 1 in its own namespace)."""
    deadline = time.monotonic() + 10
    while sandbox.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(sandbox.pid).children(recursive=True):
                if child.name() == "cat":
                    return child.pid
        time.sleep(0.01)
    return None


def warm_problem() -> str | None:
    """Why runs here do not get their workers from the host's warm zygote (None when they do):
    then every run imports torch and Lightning in a zygote of its own."""
    problem = _problem()
    if problem:
        return problem
    if os.geteuid() == 0:
        # As root the worker joins the run by its cgroups; a user's may join by namespaces alone.
        return _cgroups_problem()
    return _join_problem()


class ProcessSandbox:
    name = "process"

    def check(self) -> None:
        """Raise `SandboxUnavailable` unless bubblewrap can create this backend's namespaces."""
        problem = _problem()
        if problem:
            raise SandboxUnavailable(problem)
        if self.runs_warm():
            if _cgroups_problem() is None:
                remove_stale_run_cgroups()
            warm_zygote().start_soon()

    def runs_warm(self) -> bool:
        """Whether runs get their workers from the host's warm zygote: as root, where each run
        gets cgroups of its own (v1 or v2); as a user, where the zygote can join a run's
        namespaces."""
        return warm_problem() is None

    def runs_like_docker(self) -> bool:
        """Warm, and each run in cgroups of its own: the memory limit kept by the kernel."""
        return self.runs_warm() and _cgroups_problem() is None

    def caveat(self) -> None:
        """Nothing: the namespaces isolate all the threat model lists."""

    def run(self, request: SandboxRequest) -> SandboxOutcome:
        self.check()
        with disk.bounded(request.output, request.limits.disk_mb) as bounded:
            outcome = self._run(request, bounded)
        if outcome.exit_code is not None and outcome.exit_code > 128:
            outcome.exit_code = 128 - outcome.exit_code  # bwrap reports a signal as 128+N
        return outcome

    def _run(self, request: SandboxRequest, bounded: bool) -> SandboxOutcome:
        limits = request.limits
        as_root = os.geteuid() == 0
        uid = random.randrange(3_000_000, 4_000_000) if as_root else os.getuid()
        gid = uid if as_root else os.getgid()
        if as_root:  # the runner's uid must be able to write its output
            os.chown(request.output, uid, gid)
        # The output's tmpfs pages count toward the cgroup too; the watchdog leaves them to the
        # disk budget and still stops the run at its memory limit.
        extra_mb = limits.disk_mb if bounded else 0
        cgroup = RunCgroups(
            cgroup_limit_mb(limits.memory_mb) + extra_mb,
            limits.threads,
            limits.max_processes,
            enabled=_cgroups_problem() is None,
        )
        # The workers come from the warm zygote where they can join the run's cgroups, or, as a
        # user, its namespaces.
        zygote = warm_zygote().connect() if self.runs_warm() and (cgroup.path or not as_root) else None
        fds: list[int] = []
        try:
            fds = [
                _memfd(f"sandbox:x:{uid}:{gid}:sandbox:{HOME}:/usr/sbin/nologin\n"),
                _memfd(f"sandbox:x:{gid}:\n"),
            ]
            env = process_env(request) | {"HOME": HOME, "TMPDIR": "/tmp", "MPLCONFIGDIR": HOME}
            process = subprocess.Popen(
                _command(request, as_root, uid, *fds, zygote=zygote.fileno() if zygote else None),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                pass_fds=[*fds, *([zygote.fileno()] if zygote else [])],
                start_new_session=True,
                preexec_fn=cgroup.enter if cgroup.path else None,
            )
            # Workers forked by the warm zygote are not bubblewrap's descendants: the cgroups hold
            # all, and without them the sandbox's namespaces do.
            members = (cgroup.members if cgroup.path else NamespaceMembers(process.pid)) if zygote else None
            outcome = supervise(
                process,
                request,
                self.name,
                members=members,
                cgroup=cgroup.memory(budgeted=request.output if bounded else None),
            )
            outcome.out_of_memory = outcome.out_of_memory or cgroup.oom_killed()
        finally:
            if zygote:
                zygote.close()  # the zygote forgets the run once its supervisor's end is closed too
            cgroup.remove()
            for fd in fds:
                os.close(fd)
            if as_root:
                give_back(request.output)
        return outcome


def _command(
    request: SandboxRequest, as_root: bool, uid: int, passwd: int, group: int, zygote: int | None
) -> list[str]:
    limits = request.limits
    scratch_bytes = str(limits.max_file_mb * 2**20)
    return [
        "bwrap",
        *_namespace_args(as_root),
        *_system_args(),
        # Scratch first: a grader checkout under /tmp must stay visible through its bind below.
        *["--perms", "1777", "--size", scratch_bytes, "--tmpfs", "/tmp"],
        *["--perms", "1777", "--dir", HOME],
        *["--perms", "1777", "--size", scratch_bytes, "--tmpfs", "/dev/shm"],
        *_mount_args(
            [SUBMISSION, INPUTS],
            [("--ro-bind", path, path) for path in python_paths()]
            + _entries("--ro-bind", request.submission, SUBMISSION)
            + _entries("--ro-bind", request.inputs, INPUTS)
            + [("--bind", str(request.output), OUTPUT)],
        ),
        *[arg for folder in hidden_folders() for arg in ("--tmpfs", folder)],
        *["--ro-bind-data", str(passwd), "/etc/passwd", "--ro-bind-data", str(group), "/etc/group"],
        *["--chdir", OUTPUT, "--remount-ro", "/"],
        *bootstrap_command(limits, uid if as_root else 0),
        *runner_command(SUBMISSION, INPUTS, OUTPUT),
        *(["--zygote", str(zygote)] if zygote is not None else []),
    ]
