"""The first program of a runner started as root by a host-process backend (`process`, `user`):
it sets the run's resource limits, drops to the run's throwaway uid and execs the runner.

It is a standard-library snippet run with `python -I -S`, so nothing of the installation it
starts from (site hooks, `.pth` files, the environment) runs with root's privileges.
"""

from __future__ import annotations

import sys

from grader.runner import syscall_filter
from grader.sandbox.base import SandboxLimits

# RLIMIT_CPU is a backstop behind the wall clock. Each thread may use the whole wall time, and
# half as much again plus 10 s covers start-up: the wall clock is always what stops a run.
CPU_HEADROOM = 1.5
CPU_EXTRA_SECONDS = 10

# RLIMIT_NPROC is set here, last before the uid changes: in a user namespace it counts the
# namespace's processes only when set after the namespace exists, and root ignores it, hence
# the drop to a uid of the run's own. `no_new_privs` keeps set-uid programs from undoing it, and
# lets the (unprivileged) uid install the syscall filter, last, so that the bootstrap's own calls
# are not filtered.
BOOTSTRAP = """
import ctypes, os, resource as r, sys
nproc, fsize, cpu, nofile, uid = map(int, sys.argv[1:6])
FILTER_HEX = sys.argv[6]
for limit, soft, hard in ((r.RLIMIT_CORE, 0, 0), (r.RLIMIT_FSIZE, fsize, fsize),
                          (r.RLIMIT_CPU, cpu, cpu + 5), (r.RLIMIT_NOFILE, nofile, nofile),
                          (r.RLIMIT_NPROC, nproc, nproc)):
    r.setrlimit(limit, (soft, hard))
if uid:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        sys.exit("bootstrap: the uid did not change")
PR_SET_NO_NEW_PRIVS = 38
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
    sys.exit("bootstrap: no_new_privs refused")
"""
BOOTSTRAP += (
    syscall_filter.INSTALL
    + """
os.execv(sys.argv[7], sys.argv[7:])
"""
)


def cpu_seconds(limits: SandboxLimits) -> int:
    return int(limits.wall_seconds * max(limits.threads, 1) * CPU_HEADROOM) + CPU_EXTRA_SECONDS


def bootstrap_command(limits: SandboxLimits, uid: int, python: str = sys.executable) -> list[str]:
    """Limits, then uid `uid` (0: keep the current one), then the syscall filter where this
    machine has one, then exec what follows these arguments."""
    return [
        *[python, "-I", "-S", "-c", BOOTSTRAP],
        str(limits.max_processes),
        str(limits.max_file_mb * 2**20),
        str(cpu_seconds(limits)),
        str(limits.max_open_files),
        str(uid),
        syscall_filter.program().hex() if syscall_filter.supported() else "",
    ]
