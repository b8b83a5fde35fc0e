"""How a child of the host's warm zygote enters one submission's sandbox.

The sandbox itself is made by bubblewrap as for any run (mounts, tmpfs, namespaces, cgroup);
its supervisor is PID 1 there. The zygote's child then joins exactly those namespaces and that
root, moves into the run's cgroups where it has its own, and its own child (the worker, born
inside the sandbox's PID namespace) takes the run's limits, environment and uid, with no
capability left and no_new_privs to keep it so.

- As root, the worker changes to the run's throwaway uid, which clears every capability.
- As a normal user, bubblewrap's sandbox has user namespaces of its own: the one its other
  namespaces belong to, and the nested one `--disable-userns` puts the supervisor in. The
  grader created them, so its zygote may join them (the kernel gives a namespace's creator
  every capability in it). It joins the outer one first, because the other namespaces belong
  to it, and the supervisor's own last. The worker then keeps the grader's uid, as bubblewrap's
  own processes do, and drops the capabilities joining gave it: all of them, the bounding set
  too.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.confine.cgroups import cgroup_folders_of
from grader.runner import launch, syscall_filter

NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt")  # mnt last: it changes what /proc is
# ioctl(2) on a namespace's file: the user namespace that owns it (ioctl_ns(2)).
NS_GET_USERNS = 0xB701
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522


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


def _same(a: int, b: int) -> bool:
    first, second = os.fstat(a), os.fstat(b)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def join(peer: Peer) -> None:
    """Join the supervisor's cgroups, namespaces and root (the caller stays outside its PID
    namespace; its next child is born inside)."""
    libc = launch.libc()
    own_cgroups = cgroup_folders_of("self")
    for folder in cgroup_folders_of(peer.pid):
        if folder not in own_cgroups:  # a run cgroup; where a run has none, it is the grader's own
            (folder / "cgroup.procs").write_text(str(os.getpid()))
    handles = [os.open(f"/proc/{peer.pid}/ns/{name}", os.O_RDONLY) for name in NAMESPACES]
    root = os.open(f"/proc/{peer.pid}/root", os.O_RDONLY | os.O_DIRECTORY)
    own_user = os.open("/proc/self/ns/user", os.O_RDONLY)
    peer_user = os.open(f"/proc/{peer.pid}/ns/user", os.O_RDONLY)
    owner = fcntl.ioctl(handles[NAMESPACES.index("mnt")], NS_GET_USERNS)
    before = [] if _same(owner, own_user) else [("user", owner)]
    after = [] if _same(peer_user, owner) or _same(peer_user, own_user) else [("user", peer_user)]
    for name, handle in [*before, *zip(NAMESPACES, handles, strict=True), *after]:
        _check(libc.setns(handle, 0), f"joining the sandbox's {name} namespace")
    for handle in [*handles, own_user, peer_user, owner]:
        os.close(handle)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)


def become(peer: Peer, limits: dict[int, tuple[int, int]], as_root: bool) -> None:
    """Take the supervisor's limits, uid and syscall filter (the ones its bootstrap took); after
    this, nothing of root, and no capability, is left."""
    for limit, values in limits.items():
        resource.setrlimit(limit, values)
    if as_root:
        os.setgroups([])
        os.setgid(peer.gid)
        os.setuid(peer.uid)
    else:
        _drop_capabilities()
    _check(launch.libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0 or _capabilities_held():
        raise PermissionError("the worker would still be root or hold capabilities")
    if syscall_filter.supported():
        syscall_filter.install(syscall_filter.program())


def _drop_capabilities() -> None:
    """What joining a user namespace gave: every capability, from the bounding set up."""
    libc = launch.libc()
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), "dropping the bounding set")
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    empty = ctypes.create_string_buffer(2 * 12)  # two struct __user_cap_data_struct, all zero
    _check(libc.capset(header, empty), "clearing capabilities")


def _capabilities_held() -> bool:
    status = Path("/proc/self/status").read_text().splitlines()
    return any(line.startswith(("CapEff:", "CapPrm:")) and int(line.split()[1], 16) for line in status)


def pid_inside(pid: int, host_proc: int) -> int:
    """A process's pid as its own (innermost) PID namespace numbers it; `host_proc` is the
    host's /proc, opened before the caller joined the sandbox's."""
    with open(os.open(f"{pid}/status", os.O_RDONLY, dir_fd=host_proc), encoding="ascii") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return pid


def main(argv: list[str]) -> int:
    """`python -m grader.runner.entering PID`: join PID's sandbox as the warm zygote's child does,
    and fork a child there that drops what joining gave. The `process` backend's one check
    before a user's runs are warm; it says why on stderr and exits 1 where either step fails."""
    peer = Peer(int(argv[0]), os.getuid(), os.getgid())
    try:
        join(peer)
    except OSError as error:
        print(error, file=sys.stderr)
        return 1
    child = os.fork()
    if child == 0:
        code = 1
        try:
            become(peer, {}, as_root=False)
            code = 0
        except OSError as error:
            print(error, file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
