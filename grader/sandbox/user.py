"""The `user` backend: the runner as a throwaway unprivileged uid, for where the grader is root
but the kernel refuses namespaces (Gradescope's containers, CI steps that are containers).

No namespace separates the run from the host here; Unix permissions do, so this backend sets
them and checks them as the run's uid before every run:

- each run gets a fresh uid and gid of its own (no account needed), no supplementary groups,
  `no_new_privs` and the rlimits of the other backends; RLIMIT_NPROC counts that uid alone;
- the staged submission is readable by that gid only, and not writable; the output folder is
  the run's, and is also its HOME and TMPDIR;
- the grader's rubrics, reference, caches and labelled digits, and the host folders the
  request names private (results, the submissions' originals), lose every permission for
  others; a run that could still reach one of them does not start;
- after the run every process of the uid is killed and what it made in the shared temporary
  folders (`/tmp`, `/dev/shm`, …) is removed; that counted toward its disk budget while it ran,
  and toward its memory where those folders are memory; so are its System V segments;
- the network is cut with `iptables -m owner` where the host may change its firewall, and is
  open otherwise (see `network_cut`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psutil

import grader
from grader import tree
from grader.paths import cache_dir, default_data_dir, project_dir, shipped_dir
from grader.sandbox import disk
from grader.sandbox.base import (
    SandboxLimits,
    SandboxOutcome,
    SandboxRequest,
    SandboxUnavailable,
    give_back,
    owned_scratch,
    process_env,
    runner_command,
)
from grader.sandbox.bootstrap import bootstrap_command
from grader.sandbox.installation import hidden_folders, python_paths
from grader.sandbox.memory import segments_of
from grader.sandbox.supervise import kill_all, supervise

IPC_RMID = 0  # shmctl's command that removes a System V segment (sys/ipc.h)
_LIBC = ctypes.CDLL(None, use_errno=True)

# Not the `process` backend's range, so that the firewall rule below names this backend's runs only.
UIDS = range(4_000_000, 5_000_000)
KILL_ROUNDS = 50
PROBE_LIMITS = SandboxLimits(wall_seconds=10, memory_mb=256, threads=1, output_bytes=0)

# Run as the run's uid before it starts: which of the paths it must not reach it can reach,
# and which of those it needs it cannot.
ACCESS_CHECK = """
import json, os, sys
private, needed = json.loads(sys.argv[1])
modes = {"read": os.R_OK | os.X_OK, "write": os.W_OK | os.X_OK, "run": os.X_OK}
problems = [f"it can reach {path}, which it must not" for path in private
            if any(os.access(path, mode) for mode in (os.R_OK, os.W_OK, os.X_OK))]
problems += [f"it cannot {how} {path}" for path, how in needed if not os.access(path, modes[how])]
print(json.dumps(problems))
"""


def grader_private_paths() -> list[Path]:
    """What of the grader a run must not read: its checkout (unless the Python installation
    the run needs lies in it), rubrics, references, caches and labelled digits."""
    project = project_dir()
    paths = [shipped_dir("rubrics"), shipped_dir("reference"), cache_dir(), default_data_dir()]
    if not any(Path(path).is_relative_to(project) for path in python_paths()):
        paths.append(project)
    return [*paths, *map(Path, hidden_folders())]


@functools.cache
def network_cut() -> bool:
    """Reject every packet the runs' uids send, where iptables may change the firewall (root
    with CAP_NET_ADMIN; not in Gradescope's containers). One rule per family, for all runs."""
    cut = True
    for command in ("iptables", "ip6tables"):
        if shutil.which(command) is None:
            cut = False
            continue
        rule = ["OUTPUT", "-m", "owner", "--uid-owner", f"{UIDS.start}-{UIDS.stop - 1}", "-j", "REJECT"]
        present = subprocess.run([command, "-w", "-C", *rule], capture_output=True).returncode == 0
        if not present and subprocess.run([command, "-w", "-A", *rule], capture_output=True).returncode != 0:
            cut = False
    return cut


@functools.cache
def _problem() -> str | None:
    """Why this backend cannot run here (None when it can), from one quick probe."""
    if not sys.platform.startswith("linux"):
        return "the user backend needs Linux"
    if os.geteuid() != 0:
        return (
            "the user backend runs code as a throwaway user, which needs root; without root, "
            "use --sandbox process (bubblewrap) or docker"
        )
    _let_pass_to(python_paths())
    probe = subprocess.run(
        [*bootstrap_command(PROBE_LIMITS, UIDS.stop - 1), sys.executable, "-I", "-S", "-c", ""],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"cannot run Python as an unprivileged user here: {probe.stderr.strip() or probe.returncode}"
    return None


class UserSandbox:
    name = "user"

    def check(self) -> None:
        """Raise `SandboxUnavailable` unless this process is root and can become another uid."""
        problem = _problem()
        if problem:
            raise SandboxUnavailable(problem)

    def caveat(self) -> str | None:
        if network_cut():
            return None
        return (
            "the user sandbox cannot cut the network here (iptables needs CAP_NET_ADMIN): "
            "student code can reach it. Everything else stays contained."
        )

    def run(self, request: SandboxRequest) -> SandboxOutcome:
        self.check()
        network_cut()
        uid = _fresh_uid()
        with disk.bounded(request.output, request.limits.disk_mb):
            try:
                private = [*grader_private_paths(), *request.private]
                _make_private(private)
                _grant(request, uid)
                _refuse_unless_contained(request, uid, private)
                process = subprocess.Popen(
                    [
                        *bootstrap_command(request.limits, uid),
                        *runner_command(str(request.submission), str(request.inputs), str(request.output)),
                        "--own-uid",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=request.output,
                    env=process_env(request) | {"USER": "sandbox", "LOGNAME": "sandbox"},
                    start_new_session=True,
                )
                return supervise(
                    process,
                    request,
                    self.name,
                    members=functools.partial(_processes_of, uid),
                    scratch_owner=uid,
                    memory_owner=uid,
                )
            finally:
                _end_everything_of(uid)
                give_back(request.output)


def _fresh_uid() -> int:
    """A uid in `UIDS` that no process and no file in the shared scratch has."""
    while True:
        uid = random.choice(UIDS)
        if not _processes_of(uid) and not owned_scratch(uid):
            return uid


def _processes_of(uid: int) -> list[int]:
    """Live processes with `uid` as any of their uids (zombies hold nothing)."""
    pids = []
    for process in psutil.process_iter(["uids", "status"]):
        uids, status = process.info["uids"], process.info["status"]
        if uids and uid in uids and status != psutil.STATUS_ZOMBIE:
            pids.append(process.pid)
    return pids


def _make_private(paths: list[Path]) -> None:
    """Take every permission of others from each path (the run is always an other). Where that
    fails (a read-only mount), the check as the run's uid decides whether the run may start."""
    for path in paths:
        with contextlib.suppress(OSError):
            mode = os.stat(path).st_mode
            if mode & 0o007:
                os.chmod(path, stat.S_IMODE(mode) & ~0o007)


def _grant(request: SandboxRequest, uid: int) -> None:
    """The submission readable by the run's gid only and writable by none; the inputs readable;
    the output the run's; and every folder above them passable (not listable)."""
    for folder in (request.submission, request.inputs):
        for entry in tree.entries(folder, too_deep="skip"):
            if not stat.S_ISLNK(entry.info.st_mode):
                readable = 0o555 if stat.S_ISDIR(entry.info.st_mode) else 0o444
                os.chmod(
                    entry.name, (stat.S_IMODE(entry.info.st_mode) | readable) & ~0o022, dir_fd=entry.dir_fd
                )
    os.chown(request.inputs, 0, 0)
    os.chmod(request.inputs, 0o755)
    os.chown(request.submission, 0, uid)
    os.chmod(request.submission, 0o750)
    os.chown(request.output, uid, uid)
    os.chmod(request.output, 0o700)
    _let_pass_to([str(request.submission), str(request.inputs), str(request.output)])


def _let_pass_to(paths: list[str] | tuple[str, ...]) -> None:
    """Let others pass through (not list) every folder above `paths`, so that the run reaches them."""
    for path in paths:
        for folder in Path(path).resolve().parents:
            mode = os.stat(folder).st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)


def _refuse_unless_contained(request: SandboxRequest, uid: int, private: list[Path]) -> None:
    """Check, as the run's uid, what it can reach; raise `SandboxUnavailable` if it can reach
    one of the `private` paths or cannot reach what it needs."""
    closed = [str(path) for path in private if path.exists()]
    needed = [
        (str(request.submission), "read"),
        (str(request.inputs), "read"),
        (str(request.output), "write"),
    ]
    needed += [(sys.executable, "run"), (str(Path(grader.__file__).parent), "read")]
    needed += [(path, "read") for path in python_paths()]
    checked = subprocess.run(
        [sys.executable, "-I", "-S", "-c", ACCESS_CHECK, json.dumps([closed, needed])],
        capture_output=True,
        text=True,
        user=uid,
        group=uid,
        extra_groups=[],
        timeout=30,
    )
    try:
        problems = json.loads(checked.stdout)
    except json.JSONDecodeError:
        problems = [f"the check did not run ({checked.stderr.strip()[-300:]})"]
    if problems:
        raise SandboxUnavailable(
            "the user sandbox would not contain this run, so it did not start: the run's user "
            + "; ".join(problems)
        )


def _end_everything_of(uid: int) -> None:
    """Kill every process of the run's uid and remove its files from the shared scratch and its
    System V shared-memory segments (they would hold their memory until the machine restarts)."""
    for _ in range(KILL_ROUNDS):
        left = _processes_of(uid)
        if not left:
            break
        kill_all(left)
    for path in owned_scratch(uid):
        tree.remove(path)
    for segment in segments_of(uid):
        _LIBC.shmctl(segment, IPC_RMID, None)
