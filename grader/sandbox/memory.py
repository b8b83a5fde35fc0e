"""What a run holds in memory, counted as the kernel counts it: the figure the host-process
backends stop a run at (`memory_mb`) and the peak they record.

A run's pages need not be mapped by any of its processes. A memfd or a tmpfs file it wrote and
never mapped, or a shared-memory segment, is memory the kernel keeps (shmem) as long as the
run holds a descriptor, a mapping or the file's name, and neither resident nor proportional
set sizes show it. Two counts:

- `CgroupMemory`, where the run has a memory cgroup of its own (`process` as root), on cgroup
  v1 or v2: the kernel charges to it every page the run's processes fault, shmem and kernel
  memory included. The run holds that usage less its page cache (which the kernel reclaims)
  and less its output folder's tmpfs (budgeted apart by `disk_mb`); the peak is the kernel's
  own (on cgroup v2 before Linux 5.19, the highest usage read).
- `MemoryWatch`: each process's proportional set size (the pages the zygote's forks share
  count once), plus, without a cgroup, `SharedMemory`: the shmem the run holds beyond those.

With a cgroup both count, and the larger stops the run: the warm workers of `process` as root
share pages (torch, Lightning) that the host's zygote faulted, which the kernel charges to the
grader and their proportional sizes give them a share of, as a run that imports them itself
(Docker's) is charged for them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from grader import tree
from grader.contract import SHARED_SCRATCH

MB = 2**20
# A line of /proc/<pid>/maps for a file on a memory-backed mount (their devices have major 0);
# anonymous memory has inode 0 and files on disks another major.
MEMORY_MAPPING = re.compile(
    rb"^(?P<range>[0-9a-f]+-[0-9a-f]+) \S+ \S+ 00:(?P<minor>[0-9a-f]+) (?P<inode>[1-9]\d*)", re.M
)


class CgroupMemory:
    """What a run with a memory cgroup of its own holds, read from the kernel: cgroup v1's
    files, or v2's where the folder has `memory.current`.

    `budgeted`: the run's output folder where it is a tmpfs of `disk_mb` (the host's mount):
    its pages are charged to the cgroup too, but they are the disk budget's.
    """

    def __init__(self, folder: Path, budgeted: Path | None = None) -> None:
        self.folder, self.budgeted = folder, budgeted
        self.unified = (folder / "memory.current").exists()
        self._peak = 0

    def over(self, limit_mb: float) -> bool:
        try:
            usage = self._usage()
            budgeted = _used_bytes(self.budgeted) if self.budgeted else 0
            if usage - budgeted <= limit_mb * MB:  # its page cache only lowers it: no need to read it
                return False
            counts = _memory_stat(self.folder)
        except (OSError, ValueError):  # the cgroup's own limit still holds
            return False
        # The page cache: the file LRU lists, which shmem and tmpfs pages are not on (they sit on
        # the anonymous ones). v1 sums the lists over the cgroup and its children under `total_`;
        # every v2 count is hierarchical, and v2's `file` count includes shmem.
        names = (
            ("active_file", "inactive_file") if self.unified else ("total_active_file", "total_inactive_file")
        )
        cache = sum(counts.get(name, 0) for name in names)
        return usage - cache - budgeted > limit_mb * MB

    @property
    def peak_mb(self) -> float:
        """The kernel's high-water mark of the cgroup's usage (readable until it is removed)."""
        with contextlib.suppress(OSError, ValueError):
            self._peak = max(self._peak, self._kernel_peak())
        return self._peak / MB

    def _usage(self) -> int:
        if not self.unified:
            return _read_int(self.folder / "memory.usage_in_bytes")
        usage = _read_int(self.folder / "memory.current")
        self._peak = max(self._peak, usage)  # the peak where the kernel keeps none (see `_kernel_peak`)
        return usage

    def _kernel_peak(self) -> int:
        if not self.unified:
            return _read_int(self.folder / "memory.max_usage_in_bytes")
        peak = self.folder / "memory.peak"  # Linux 5.19 and later; before, the highest usage read
        return _read_int(peak) if peak.exists() else self._usage()


def _read_int(path: Path) -> int:
    return int(path.read_text())


def _memory_stat(folder: Path) -> dict[str, int]:
    counts = {}
    for line in (folder / "memory.stat").read_text().splitlines():
        name, _, value = line.partition(" ")
        counts[name] = int(value)
    return counts


def _used_bytes(folder: Path) -> int:
    """What a tmpfs holds (its statistics count allocated pages)."""
    info = os.statvfs(folder)
    return (info.f_blocks - info.f_bfree) * info.f_frsize


class MemoryWatch:
    """The memory of a run's processes: their proportional set sizes, plus the shared memory
    they hold beyond those (`SharedMemory`) unless a cgroup counts that.

    Proportional sizes and shared memory cost the kernel a walk of every mapping (about 20 ms
    for a process that imported torch) and the host a walk of the run's descriptors, so they
    are counted only when a cheap bound crosses the limit, and every `PEAK_SECONDS` for the
    peak. The bound: the resident sizes, the shared memory found at the last count, and what the
    machine's shmem grew by since (one read of /proc/meminfo), since a run's new shared pages
    are the machine's new shared pages.
    """

    PEAK_SECONDS = 2.0

    def __init__(
        self, members: Callable[[], list[int]], owner: int | None = None, count_shared: bool = True
    ) -> None:
        """`owner`: a uid whose shared memory outside its processes is the run's (see
        `SharedMemory`); without `count_shared`, the processes' proportional sizes alone."""
        self.members = members
        self.shared = SharedMemory(owner) if count_shared else None
        self.peak_mb = 0.0
        self._next_count = 0.0
        self._shared_bytes = 0  # at the last count
        self._machine_base = self._machine_shmem()  # the lowest since the last count

    def over(self, limit_mb: float) -> bool:
        processes = [process for pid in self.members() if (process := _process(pid))]
        resident = sum(_resident_bytes(process) for process in processes)
        machine = self._machine_shmem()
        self._machine_base = min(self._machine_base, machine)
        bound = resident + self._shared_bytes + machine - self._machine_base
        if bound <= limit_mb * MB and time.monotonic() < self._next_count:
            return False
        self._next_count = time.monotonic() + self.PEAK_SECONDS
        self._machine_base = machine
        if self.shared:
            self._shared_bytes = self.shared.held_bytes([process.pid for process in processes])
        held = (sum(_proportional_bytes(process) for process in processes) + self._shared_bytes) / MB
        self.peak_mb = max(self.peak_mb, held)
        return held > limit_mb

    def _machine_shmem(self) -> int:
        return machine_shmem_bytes() if self.shared else 0


def machine_shmem_bytes() -> int:
    """All shmem pages of the machine: tmpfs files, memfds, shared-memory segments."""
    with open("/proc/meminfo", "rb") as meminfo:
        for line in meminfo:
            if line.startswith(b"Shmem:"):
                return int(line.split()[1]) * 1024
    return 0


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _resident_bytes(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _proportional_bytes(process: psutil.Process) -> int:
    """Its proportional set size, or its resident size where that is not readable."""
    try:
        with open(f"/proc/{process.pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _resident_bytes(process)


class SharedMemory:
    """The shmem a run holds that its proportional set sizes miss, each inode counted once:

    - files in memory its processes hold open: memfds, and files of the machine's tmpfs
      temporary folders (/dev/shm, POSIX shared memory), unlinked or not;
    - as root, the files in memory its processes map, whole (those, System V segments, shared
      anonymous memory; reading `/proc/<pid>/map_files` needs root): a process that wrote a
      memfd, mapped one page of it and closed it holds all of it;
    - what the tmpfs mounts of its own sandbox hold (bubblewrap's /tmp, /dev/shm, ...);
    - with an `owner` uid: the files that uid made in the machine's tmpfs temporary folders and
      its System V segments (the run shares the host's IPC namespace there), but those it had
      before the run (for `none`, the user's own).

    A page both mapped and counted here counts twice: only a hoarder maps what it also holds
    open, and the error is on the side of the limit. The output folder's tmpfs is the disk
    budget's and is not counted.
    """

    def __init__(self, owner: int | None = None) -> None:
        self.owner = owner
        host_tmpfs = tmpfs_devices("self")
        self.scratch = [place for place in SHARED_SCRATCH if _device(place) in host_tmpfs]
        self.devices = {kernel_shmem_device(), *(_device(place) for place in self.scratch)}
        self.host_mounts = _namespace("self", "mnt")
        self.before = set(self._owned_now())

    def held_bytes(self, pids: list[int]) -> int:
        files: dict[tuple[int, int], int] = {}
        sandboxes: dict[str, int] = {}  # mount namespace -> one of its processes
        for pid in pids:
            files.update(self._open_files(pid))
            if os.geteuid() == 0:
                files.update(self._mapped_files(pid, files))
            namespace = _namespace(pid, "mnt")
            if namespace and namespace != self.host_mounts:
                sandboxes.setdefault(namespace, pid)
        files.update(self._owned())
        mounts: dict[int, int] = {}
        host_tmpfs = tmpfs_devices("self") if sandboxes else set()  # the host may have mounted more since
        for pid in sandboxes.values():
            mounts.update(self._sandbox_tmpfs(pid, host_tmpfs))
        return sum(files.values()) + sum(mounts.values())

    def _open_files(self, pid: int) -> dict[tuple[int, int], int]:
        found = {}
        folder = f"/proc/{pid}/fd"
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                with contextlib.suppress(OSError):
                    if not os.readlink(f"{folder}/{name}").startswith("/"):
                        continue  # a pipe, a socket, an anonymous inode
                    info = os.stat(f"{folder}/{name}")
                    if info.st_dev in self.devices:
                        found[(info.st_dev, info.st_ino)] = _allocated(info)
        return found

    def _mapped_files(self, pid: int, known: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
        found: dict[tuple[int, int], int] = {}
        try:
            with open(f"/proc/{pid}/maps", "rb") as maps:
                listing = maps.read()
        except OSError:
            return found
        for mapping in MEMORY_MAPPING.finditer(listing):
            key = (os.makedev(0, int(mapping["minor"], 16)), int(mapping["inode"]))
            if key[0] in self.devices and key not in known and key not in found:
                with contextlib.suppress(OSError):
                    found[key] = _allocated(os.stat(f"/proc/{pid}/map_files/{mapping['range'].decode()}"))
        return found

    def _sandbox_tmpfs(self, pid: int, host_tmpfs: set[int]) -> dict[int, int]:
        """What each tmpfs mount of a sandbox's own holds, by device (its statistics count pages);
        the host's own (the output's, bound in) are not the sandbox's."""
        held = {}
        for device, mount_point in _tmpfs_mounts(pid):
            if device not in host_tmpfs:
                with contextlib.suppress(OSError):
                    held[device] = _used_bytes(Path(f"/proc/{pid}/root{mount_point}"))
        return held

    def _owned(self) -> dict[tuple[int, int], int]:
        return {key: size for key, size in self._owned_now().items() if key not in self.before}

    def _owned_now(self) -> dict[tuple[int, int], int]:
        if self.owner is None:
            return {}
        found = {}
        for place in self.scratch:
            with contextlib.suppress(OSError), os.scandir(place) as listing:
                for entry in listing:
                    with contextlib.suppress(OSError):
                        info = entry.stat(follow_symlinks=False)
                        if info.st_uid != self.owner:
                            continue
                        found[(info.st_dev, info.st_ino)] = _allocated(info)
                        if stat.S_ISDIR(info.st_mode):
                            for inner in tree.entries(Path(entry.path), too_deep="skip"):
                                found[(inner.info.st_dev, inner.info.st_ino)] = _allocated(inner.info)
        # A segment's mappings have its id for inode, on the kernel's shmem mount.
        segments = {(kernel_shmem_device(), shmid): rss for shmid, rss in segments_of(self.owner).items()}
        return found | segments


def segments_of(uid: int) -> dict[int, int]:
    """The System V shared-memory segments of `uid` in this IPC namespace: id -> resident bytes.
    They outlive every process that attached them, until removed."""
    found = {}
    with contextlib.suppress(OSError), open("/proc/sysvipc/shm") as listing:
        header = listing.readline().split()
        for line in listing:
            row = dict(zip(header, line.split(), strict=False))
            with contextlib.suppress(KeyError, ValueError):
                if uid in (int(row["uid"]), int(row["cuid"])):
                    found[int(row["shmid"])] = int(row["rss"])
    return found


def _allocated(info: os.stat_result) -> int:
    """The pages a file holds, not its length (a sparse memfd of 10 GB holds nothing)."""
    return info.st_blocks * 512


def _device(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _namespace(pid: int | str, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


@functools.cache
def kernel_shmem_device() -> int:
    """The device of the kernel's internal shmem mount, which holds every memfd, System V
    segment and shared anonymous mapping: that of a memfd of our own."""
    fd = os.memfd_create("grader-probe")
    try:
        return os.fstat(fd).st_dev
    finally:
        os.close(fd)


def tmpfs_devices(pid: int | str) -> set[int]:
    return {device for device, _ in _tmpfs_mounts(pid)}


def _tmpfs_mounts(pid: int | str) -> list[tuple[int, str]]:
    """(device, mount point) of each tmpfs mount a process sees (`proc(5)`, mountinfo)."""
    mounts = []
    with contextlib.suppress(OSError), open(f"/proc/{pid}/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            with contextlib.suppress(ValueError, IndexError):
                if fields[fields.index("-") + 1] == "tmpfs":
                    major, minor = map(int, fields[2].split(":"))
                    mounts.append((os.makedev(major, minor), _unescape(fields[4])))
    return mounts


def _unescape(path: str) -> str:
    """Mount points are written with spaces, tabs, newlines and backslashes as octal escapes."""
    for code in ("040", "011", "012", "134"):
        path = path.replace(f"\\{code}", chr(int(code, 8)))
    return path
