"""How a child of the host's warm zygote enters one submission's sandbox.

The sandbox itself is made by bubblewrap as for any run (mounts, tmpfs, namespaces, cgroup);
its supervisor is PID 1 there. The zygote's child then joins exactly those namespaces and that
root, moves into the run's memory and CPU cgroups, and its own child (the worker, born inside the
sandbox's PID namespace) takes the run's limits, environment and throwaway uid. Changing from
root to that uid clears every capability, and no_new_privs keeps it so. Only as root: that uid
drop is what makes the worker as unprivileged as bubblewrap's own.
"""

from __future__ import annotations

import ctypes
import os
import resource
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from grader.runner import launch, syscall_filter

NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt")  # mnt last: it changes what /proc is
CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 controllers a `process` run has as root: its memory limit and its CPU quota.
RUN_CONTROLLERS = ("memory", "cpu")
PR_SET_NO_NEW_PRIVS = 38


CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class Peer:
    """The process that sent a request, as the kernel vouches for it (SCM_CREDENTIALS): a
    sender can only give its own pid and ids, which arrive in the receiver's namespaces."""

    pid: int  # in the host's PID namespace
    uid: int
    gid: int


def receive_with_credentials(
    control: socket.socket, size: int, fds: int
) -> tuple[bytes, list[int], Peer | None]:
    """One message, the descriptors sent with it, and its sender (`SO_PASSCRED` must be on)."""
    message, ancillary, _, _ = control.recvmsg(
        size, socket.CMSG_SPACE(fds * 4) + socket.CMSG_SPACE(CREDENTIALS.size)
    )
    received: list[int] = []
    peer = None
    for level, kind, data in ancillary:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            received += list(struct.unpack(f"{len(data) // 4}i", data[: len(data) // 4 * 4]))
        elif kind == socket.SCM_CREDENTIALS and len(data) >= CREDENTIALS.size:
            peer = Peer(*CREDENTIALS.unpack(data[: CREDENTIALS.size]))
    return message, received, peer


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def cgroups_of(pid: int | str) -> dict[str, Path]:
    """A process's cgroup folder for each of RUN_CONTROLLERS (cgroup v1) that it is in."""
    folders = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in RUN_CONTROLLERS:
            if controller in controllers.split(","):
                folders[controller] = CGROUP_ROOT / controller / path.strip().lstrip("/")
    return folders


def join(peer: Peer) -> None:
    """Join the supervisor's cgroups, namespaces and root (the caller stays outside its PID
    namespace; its next child is born inside)."""
    libc = launch.libc()
    for folder in cgroups_of(peer.pid).values():
        (folder / "cgroup.procs").write_text(str(os.getpid()))
    handles = [os.open(f"/proc/{peer.pid}/ns/{name}", os.O_RDONLY) for name in NAMESPACES]
    root = os.open(f"/proc/{peer.pid}/root", os.O_RDONLY | os.O_DIRECTORY)
    for name, handle in zip(NAMESPACES, handles, strict=True):
        _check(libc.setns(handle, 0), f"joining the sandbox's {name} namespace")
        os.close(handle)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)


def become(peer: Peer, limits: dict[int, tuple[int, int]]) -> None:
    """Take the supervisor's limits, uid and syscall filter (the ones its bootstrap took); after
    this, nothing of root is left."""
    for limit, values in limits.items():
        resource.setrlimit(limit, values)
    os.setgroups([])
    os.setgid(peer.gid)
    os.setuid(peer.uid)
    _check(launch.libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0:
        raise PermissionError("the worker would still be root")
    if syscall_filter.supported():
        syscall_filter.install(syscall_filter.program())


def pid_inside(pid: int, host_proc: int) -> int:
    """A process's pid as its own (innermost) PID namespace numbers it; `host_proc` is the
    host's /proc, opened before the caller joined the sandbox's."""
    with open(os.open(f"{pid}/status", os.O_RDONLY, dir_fd=host_proc), encoding="ascii") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return pid
