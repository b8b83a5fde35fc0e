"""A run's own cgroups for the `process` backend, on cgroup v1 and on cgroup v2 alike.

The host makes them (`RunCgroups`) and puts the run's first process in them; the warm zygote
moves each worker it forks for the run into the same ones (`cgroup_folders_of` the run's
supervisor). On cgroup v1 a run has a folder in the memory and in the cpu hierarchy; on cgroup
v2 one folder of the unified hierarchy holds its memory, cpu and pids controllers. A machine
with both (v1 controllers, and an empty unified hierarchy at `unified/`) is treated as v1,
where its controllers are. Standard library only: the zygote imports this module too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.sandbox.memory import CgroupMemory

# Where the cgroup filesystems and /proc are mounted; tests point them at fake trees.
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_ROOT = Path("/proc")
V1_CONTROLLERS = ("memory", "cpu")  # the memory one first: it counts the run's members
V2_CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
PREFIX = "grader"  # run cgroups are `grader-<grader's pid>-<monotonic ns>`
# On cgroup v2, the leaf the grader moves itself into: see `_leave`.
HOST_LEAF = "grader-host"
# A cgroup v2 folder (a path in the unified hierarchy, as /proc/<pid>/cgroup gives it) delegated
# to the grader to make its runs in, instead of the grader's own cgroup.
PARENT_ENV = "GRADER_CGROUP_PARENT"
REMOVE_ROUNDS = 50
USER_SCOPE = "systemd-run --user --scope -p Delegate=yes grade ..."
ROOT_SCOPE = "systemd-run --scope -p Delegate=yes grade ..."


@dataclass(frozen=True)
class Hierarchy:
    """Where a process's cgroups are, for the controllers a run needs."""

    version: int  # 1 or 2
    folders: tuple[Path, ...]  # v1: its memory folder, then its cpu one; v2: its one folder


class _Refusal(Exception):
    """Why this process cannot make run cgroups, and what would let it."""


def hierarchy_of(pid: int | str) -> Hierarchy | None:
    """A process's cgroups: v1 where its memory and cpu controllers are on v1 hierarchies, else
    v2 where the unified hierarchy is mounted; None with neither. OSError if it is gone."""
    v1: dict[str, Path] = {}
    unified = None
    for line in (PROC_ROOT / str(pid) / "cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        relative = path.strip().lstrip("/")
        if number == "0" and not controllers:  # the unified hierarchy's line: `0::/path`
            unified = relative
        for controller in V1_CONTROLLERS:
            if controller in controllers.split(","):
                v1[controller] = CGROUP_ROOT / controller / relative
    if len(v1) == len(V1_CONTROLLERS):
        return Hierarchy(1, tuple(v1[controller] for controller in V1_CONTROLLERS))
    root = _unified_root()
    if unified is not None and root is not None:
        return Hierarchy(2, (root / unified,))
    return None


def cgroup_folders_of(pid: int | str) -> list[Path]:
    """The folders a process joins (its pid into each `cgroup.procs`) to share `pid`'s cgroups."""
    hierarchy = hierarchy_of(pid)
    return list(hierarchy.folders) if hierarchy else []


def _unified_root() -> Path | None:
    """The unified hierarchy's mount: the cgroup root on a v2 machine, `unified/` on a hybrid one."""
    for root in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        if (root / "cgroup.controllers").exists():
            return root
    return None


def writable_problem() -> str | None:
    """Why this process cannot make run cgroups here, with the fix; None when it can.

    On cgroup v2 this also readies the parent of the runs' cgroups, once: the grader moves into
    a leaf of its own and enables the controllers for the parent's children (`_prepare`)."""
    try:
        hierarchy = hierarchy_of("self")
        if hierarchy is None:
            return (
                "this process has neither the cgroup v1 memory and cpu controllers nor a cgroup v2 "
                f"hierarchy mounted at {CGROUP_ROOT} (see /proc/self/cgroup)"
            )
        if hierarchy.version == 1:
            for folder in hierarchy.folders:
                _check_writable(folder, "run the grader as root")
        else:
            _prepare(hierarchy.folders[0])
    except _Refusal as refusal:
        return str(refusal)
    except OSError as error:
        return f"this process's cgroups cannot be read: {error}"
    return None


def _check_writable(folder: Path, fix: str) -> None:
    if not folder.is_dir():
        raise _Refusal(f"the cgroup folder {folder} does not exist")
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise _Refusal(
            f"the cgroup filesystem holding {folder} is mounted read-only (a container needs a "
            "writable one of its own, e.g. docker run --privileged --cgroupns=private)"
        )
    if not os.access(folder, os.W_OK):
        raise _Refusal(f"the cgroup folder {folder} is not writable by uid {os.geteuid()}: {fix}")


def _run_parent(own: Path) -> Path:
    """Where run cgroups go on cgroup v2: the configured parent, else the grader's own cgroup
    (its parent once the grader is in its leaf there)."""
    configured = os.environ.get(PARENT_ENV)
    if configured:
        return (_unified_root() or CGROUP_ROOT) / configured.strip("/")
    return own.parent if own.name == HOST_LEAF else own


def _prepare(own: Path) -> Path:
    """The parent of run cgroups on cgroup v2, with the run controllers enabled for its children."""
    parent = _run_parent(own)
    fix = f"run the grader in a cgroup delegated to it: {USER_SCOPE}"
    _check_writable(parent, fix)
    for name in ("cgroup.procs", "cgroup.subtree_control"):
        if not os.access(parent / name, os.W_OK):
            raise _Refusal(f"{parent / name} is not writable by uid {os.geteuid()}: {fix}")
    # Moving a process between two cgroups takes write access to their common ancestor's
    # cgroup.procs (the kernel's containment rule for delegated cgroups).
    common = Path(os.path.commonpath([own, parent]))
    if not os.access(common / "cgroup.procs", os.W_OK):
        raise _Refusal(
            f"the grader cannot move processes from {own} into {parent}: that takes write access to "
            f"{common / 'cgroup.procs'} (their common ancestor's); choose a parent in a cgroup delegated "
            f"to uid {os.geteuid()} ({PARENT_ENV})"
        )
    available = _words(parent / "cgroup.controllers")
    missing = [controller for controller in V2_CONTROLLERS if controller not in available]
    if missing:
        raise _Refusal(_not_available(parent, missing, available))
    enabling = [
        controller
        for controller in V2_CONTROLLERS
        if controller not in _words(parent / "cgroup.subtree_control")
    ]
    if enabling:
        _leave(parent)
        change = " ".join(f"+{controller}" for controller in enabling)
        try:
            (parent / "cgroup.subtree_control").write_text(change)
        except OSError as error:
            raise _Refusal(
                f"writing '{change}' to {parent / 'cgroup.subtree_control'} failed: {error}"
            ) from None
    return parent


def _leave(parent: Path) -> None:
    """Move the grader out of `parent` into its leaf `parent/grader-host`.

    cgroup v2 has no internal processes: a cgroup that holds processes of its own cannot enable
    controllers for its children (the root cgroup excepted). So the grader leaves its cgroup for
    a leaf child, and its runs' cgroups become that leaf's siblings. Processes that are not the
    grader's stay where they are, and the grader says so rather than moving them.
    """
    if not (parent / "cgroup.events").exists():  # only the root cgroup lacks it
        return
    inside = [int(pid) for pid in (parent / "cgroup.procs").read_text().split()]
    others = [pid for pid in inside if pid != os.getpid()]
    if others:
        fix = USER_SCOPE if os.geteuid() != 0 else ROOT_SCOPE
        raise _Refusal(
            f"{parent} holds processes besides the grader ({_describe(others)}), and cgroup v2 lets no "
            f"cgroup with processes of its own give controllers to its children; run the grader in a "
            f"cgroup of its own: {fix}"
        )
    if inside:
        leaf = parent / HOST_LEAF
        try:
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as error:
            raise _Refusal(f"the grader cannot move itself into {leaf}: {error}") from None


def _not_available(parent: Path, missing: list[str], available: list[str]) -> str:
    named = _named(missing)
    listed = f"{parent / 'cgroup.controllers'} lists {' '.join(available) or 'none'}"
    root = _unified_root() or CGROUP_ROOT
    offered = _words(root / "cgroup.controllers")
    if any(controller not in offered for controller in missing):
        return (
            f"the kernel does not give cgroup v2 {named} here ({root / 'cgroup.controllers'} lists "
            f"{' '.join(offered) or 'none'}): they are bound to cgroup v1 hierarchies or disabled at boot"
        )
    if os.geteuid() != 0:
        message = (
            f"{parent} lacks {named} ({listed}): they are not delegated to uid {os.geteuid()}; "
            f"run the grader in a cgroup delegated to it: {USER_SCOPE}"
        )
        if "cpu" in missing:
            message += (
                "; where systemd still leaves cpu out, delegate it to user sessions with "
                "`Delegate=cpu cpuset io memory pids` under [Service] in "
                "/etc/systemd/system/user@.service.d/delegate.conf"
            )
        return message
    # A controller reaches a cgroup when every ancestor enables it in its cgroup.subtree_control.
    files = [
        ancestor / "cgroup.subtree_control"
        for ancestor in reversed(parent.parents)
        if ancestor.is_relative_to(root)
        and any(controller not in _words(ancestor / "cgroup.subtree_control") for controller in missing)
    ]
    change = " ".join(f"+{controller}" for controller in missing)
    return (
        f"{parent} lacks {named} ({listed}); run the grader in a cgroup of its own ({ROOT_SCOPE}), "
        f"or write '{change}' to " + ", then ".join(str(file) for file in files)
    )


def _named(controllers: list[str]) -> str:
    """`the cpu controller`, `the memory, cpu and pids controllers`."""
    if len(controllers) == 1:
        return f"the {controllers[0]} controller"
    return f"the {', '.join(controllers[:-1])} and {controllers[-1]} controllers"


def _words(path: Path) -> list[str]:
    return path.read_text().split()


def _describe(pids: list[int]) -> str:
    described = []
    for pid in pids[:5]:
        try:
            described.append(f"pid {pid} ({(PROC_ROOT / str(pid) / 'comm').read_text().strip()})")
        except OSError:
            described.append(f"pid {pid}")
    return ", ".join(described) + (", ..." if len(pids) > 5 else "")


def remove_stale_run_cgroups() -> None:
    """Remove the run cgroups a grader killed mid-batch left behind (each is named after the
    grader's pid). Only an empty cgroup can be removed, so no running run loses its own."""
    try:
        hierarchy = hierarchy_of("self")
    except OSError:
        return
    if hierarchy is None:
        return
    parents = hierarchy.folders if hierarchy.version == 1 else (_run_parent(hierarchy.folders[0]),)
    for parent in parents:
        for stale in parent.glob(f"{PREFIX}-*-*"):
            owner = stale.name.split("-")[1]
            if owner.isdigit() and int(owner) != os.getpid() and not _running(int(owner)):
                with contextlib.suppress(OSError):
                    stale.rmdir()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


class RunCgroups:
    """A run's own cgroups, where this process can make them (`writable_problem`): the kernel's
    count of every page the run holds, with a limit behind the watchdog that reads it, and a CPU
    quota of the rubric's threads, so that the threads a submission starts slow it down and never
    the run beside it; on cgroup v2, a cap of `max_processes` too (v1 runs have RLIMIT_NPROC on
    their throwaway uid). Elsewhere, or not `enabled`, `path` is None.
    """

    def __init__(self, limit_mb: int, threads: int, max_processes: int, enabled: bool = True) -> None:
        self.version = 0
        self.folders: list[Path] = []
        if not enabled:
            return
        name = f"{PREFIX}-{os.getpid()}-{time.monotonic_ns()}"
        quota = max(threads, 1) * CPU_PERIOD_US
        try:
            hierarchy = hierarchy_of("self")
            if hierarchy is None:
                return
            self.version = hierarchy.version
            if hierarchy.version == 1:
                memory, cpu = hierarchy.folders
                self._make(memory / name, {"memory.limit_in_bytes": limit_mb * 2**20})
                self._make(cpu / name, {"cpu.cfs_period_us": CPU_PERIOD_US, "cpu.cfs_quota_us": quota})
            else:
                self._make(
                    _prepare(hierarchy.folders[0]) / name,
                    {
                        "memory.max": limit_mb * 2**20,
                        "memory.swap.max": 0,
                        "cpu.max": f"{quota} {CPU_PERIOD_US}",
                        "pids.max": max_processes,
                    },
                )
        except (OSError, _Refusal):
            self.remove()

    def _make(self, folder: Path, settings: dict[str, int | str]) -> None:
        folder.mkdir()
        self.folders.append(folder)
        for setting, value in settings.items():
            try:
                (folder / setting).write_text(str(value))
            except OSError:
                # A kernel that does not account swap per cgroup has no memory.swap.max; its
                # runs are held by memory.max and the watchdog alone.
                if setting != "memory.swap.max":
                    raise

    @property
    def path(self) -> Path | None:
        """The folder of the run's memory controller (on cgroup v2, its only one)."""
        return self.folders[0] if self.folders else None

    def enter(self) -> None:
        """Put this process in the run's cgroups: in the child, before it execs."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def members(self) -> list[int]:
        """Every process in the run's cgroups, wherever it was forked from."""
        if not self.path:
            return []
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def memory(self, budgeted: Path | None) -> CgroupMemory | None:
        """The kernel's count of what the run holds; `budgeted`: its output's tmpfs, if any."""
        # Here and not at the top: the zygote imports this module, and none of the host's backends.
        from grader.sandbox.memory import CgroupMemory

        return CgroupMemory(self.path, budgeted) if self.path else None

    def oom_killed(self) -> bool:
        """Whether the kernel found the run at its cgroup's memory limit with nothing to reclaim."""
        if not self.path:
            return False
        if self.version == 2:
            events = {}
            for line in (self.path / "memory.events").read_text().splitlines():
                name, _, value = line.partition(" ")
                events[name] = int(value)
            return events.get("oom_kill", 0) > 0 or events.get("oom", 0) > 0
        for line in (self.path / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1]) > 0
        return int((self.path / "memory.failcnt").read_text()) > 0

    def remove(self) -> None:
        for folder in self.folders:
            _remove_cgroup(folder)
        self.folders = []


def _remove_cgroup(folder: Path) -> None:
    """Kill what is left in it, then remove it once the kernel has let its tasks go."""
    for _ in range(REMOVE_ROUNDS):
        _kill_members(folder)
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY:  # the kernel's answer while tasks remain; no other mends
                return
            time.sleep(0.1)  # killed tasks leave the cgroup asynchronously


def _kill_members(folder: Path) -> None:
    kill = folder / "cgroup.kill"
    if kill.exists():  # cgroup v2 since Linux 5.14: the kernel kills all, the forks racing it too
        with contextlib.suppress(OSError):
            kill.write_text("1")
        return
    try:
        pids = [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
