"""The syscall filter of the host-process backends, on this machine's kernel."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.runner import syscall_filter
from grader.sandbox.base import SandboxLimits
from grader.sandbox.bootstrap import bootstrap_command

pytestmark = pytest.mark.skipif(not syscall_filter.supported(), reason="no filter for this machine")

HEADERS = {
    "x86_64": (Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"), 0),
    "aarch64": (Path("/usr/include/asm-generic/unistd.h"), 1),
}

# Each call with arguments that make it fail harmlessly where it is allowed (clone: CLONE_THREAD
# without CLONE_SIGHAND), so that only the
# filter answers EPERM (see submissions/hostile/kernel_surface.py), then what must still work.
PROBE = """
import ctypes, errno, json, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
if sys.argv[1] == "install":
    from grader.runner import syscall_filter
    assert libc.prctl(38, 1, 0, 0, 0) == 0
    syscall_filter.install(syscall_filter.program())
column = 0 if os.uname().machine == "x86_64" else 1
calls = {
    "unshare": ((272, 97), (0x10000000 | 0x1,)),
    "clone with CLONE_NEWUSER": ((56, 220), (0x10000000 | 0x10000, 0, 0, 0, 0)),
    "clone3": ((435, 435), (0, 0)),
    "userfaultfd": ((323, 282), (0xFFFF,)),
    "bpf": ((321, 280), (0, 0, 0)),
    "keyctl": ((250, 219), (0xFFFF, 0, 0)),
    "io_uring_setup": ((425, 425), (1, 0)),
    "perf_event_open": ((298, 241), (0, 0, -1, -1, 0)),
    "ptrace": ((101, 117), (16, 0, 0, 0)),
    "mount": ((165, 40), (0, 0, 0, 0, 0)),
    "setns": ((308, 268), (-1, 0)),
}
seen = {}
for name, (numbers, arguments) in calls.items():
    answer = libc.syscall(ctypes.c_long(numbers[column]), *(ctypes.c_long(a) for a in arguments))
    seen[name] = "allowed" if answer >= 0 else errno.errorcode[ctypes.get_errno()]
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
seen["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
seen["subprocess"] = subprocess.run(["true"]).returncode
print(json.dumps(seen))
"""


ROOT = Path(__file__).resolve().parents[1]


def probe(python: list[str], mode: str) -> dict:
    """What PROBE saw, run by `python` (after installing the filter itself if `mode` says so)."""
    done = subprocess.run([*python, "-c", PROBE, mode], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_syscall_numbers_are_this_machines() -> None:
    header, column = HEADERS[platform.machine()]
    if not header.exists():
        pytest.skip(f"{header} is not installed (linux-libc-dev)")
    numbers = {
        match[1]: int(match[2])
        for match in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", header.read_text())
    }
    expected = {name: values[column] for name, values in syscall_filter.REFUSED.items()}
    if platform.machine() == "x86_64":
        expected |= syscall_filter.X86_64_ONLY
    expected |= {"clone": syscall_filter.CLONE[column], "clone3": syscall_filter.CLONE3[column]}
    assert {name: numbers.get(name) for name in expected} == expected


def test_the_filter_refuses_the_kernels_attack_surface_and_keeps_what_training_needs() -> None:
    unfiltered = probe([sys.executable], "plain")
    filtered = probe([sys.executable], "install")
    kernel_calls = [name for name in filtered if name not in ("fork", "subprocess")]
    assert {name: filtered[name] for name in kernel_calls} == {
        name: "ENOSYS" if name == "clone3" else "EPERM" for name in kernel_calls
    }
    # Not vacuous: without the filter, the kernel itself answers differently.
    assert [name for name in kernel_calls if unfiltered[name] == filtered[name]] == []
    assert filtered["fork"] == 7 and filtered["subprocess"] == 0


def test_the_bootstrap_installs_it_before_the_runner_starts() -> None:
    limits = SandboxLimits(wall_seconds=30, memory_mb=1000, threads=1, output_bytes=2**16)
    command = bootstrap_command(limits, uid=0)
    assert command[-1] == syscall_filter.program().hex()
    seen = probe([*command, sys.executable], "plain")
    assert seen["mount"] == seen["unshare"] == "EPERM" and seen["clone3"] == "ENOSYS"
