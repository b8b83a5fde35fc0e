"""The system calls no submission needs: a seccomp filter for the host-process backends.

Docker confines its containers with a seccomp profile; bubblewrap and a bare uid do not. This
filter gives `process` and `user` runs (and the warm workers that join a `process` sandbox) the
same kind of floor: the calls that only widen the kernel's reach stay refused with `EPERM`,
whatever the run's privileges. They are the kernel's least-audited corners for an unprivileged
process (user namespaces, BPF, userfaultfd, io_uring, perf events, keyrings), mounting and
namespaces, reading another process's memory (ptrace, process_vm_*, pidfd_getfd), and the
machine-wide settings (clock, host name, swap, modules, reboot). `clone3` answers `ENOSYS`, as
under Docker: its flags sit in memory a filter cannot read, and the C library then falls back
to `clone`, whose namespace flags are refused.

The program is plain classic BPF, built here and installed with `prctl(PR_SET_SECCOMP)` after
`no_new_privs`, by the standard-library bootstrap (it gets the program as hex) or by
`entering.become`. Filters only ever add up, so nothing a run does later can lift it.
"""

from __future__ import annotations

import errno
import platform
import struct

# Syscall numbers per machine: x86_64 (asm/unistd_64.h) and the generic table arm64 uses
# (asm-generic/unistd.h). tests/test_syscall_filter.py checks them against the headers.
REFUSED: dict[str, tuple[int, int]] = {
    "acct": (163, 89),
    "add_key": (248, 217),
    "adjtimex": (159, 171),
    "bpf": (321, 280),
    "chroot": (161, 51),
    "clock_adjtime": (305, 266),
    "clock_settime": (227, 112),
    "delete_module": (176, 106),
    "fanotify_init": (300, 262),
    "finit_module": (313, 273),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fsopen": (430, 430),
    "fspick": (433, 433),
    "init_module": (175, 105),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "io_uring_setup": (425, 425),
    "kcmp": (312, 272),
    "kexec_file_load": (320, 294),
    "kexec_load": (246, 104),
    "keyctl": (250, 219),
    "lookup_dcookie": (212, 18),
    "mount": (165, 40),
    "mount_setattr": (442, 442),
    "move_mount": (429, 429),
    "name_to_handle_at": (303, 264),
    "open_by_handle_at": (304, 265),
    "open_tree": (428, 428),
    "perf_event_open": (298, 241),
    "personality": (135, 92),
    "pidfd_getfd": (438, 438),
    "pivot_root": (155, 41),
    "process_madvise": (440, 440),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "ptrace": (101, 117),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "reboot": (169, 142),
    "request_key": (249, 218),
    "setdomainname": (171, 162),
    "sethostname": (170, 161),
    "setns": (308, 268),
    "settimeofday": (164, 170),
    "swapoff": (168, 225),
    "swapon": (167, 224),
    "syslog": (103, 116),
    "unshare": (272, 97),
    "userfaultfd": (323, 282),
    "vhangup": (153, 58),
}
X86_64_ONLY = {"iopl": 172, "ioperm": 173}
CLONE = (56, 220)
CLONE3 = (435, 435)

# CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE_NAMESPACES = (
    0x80 | 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

# Classic BPF over struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (low half first).
LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_AT_LEAST = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JUMP_ANY_BIT = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K
ALLOW = 0x7FFF0000
REFUSE = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO
NOT_IMPLEMENTED = 0x00050000 | errno.ENOSYS
INSTRUCTION = struct.Struct("=HBBI")
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def supported() -> bool:
    return platform.machine() in AUDIT_ARCH


def program(machine: str | None = None) -> bytes:
    """The filter for this machine (or `machine`), as the bytes of its `struct sock_filter` array."""
    machine = machine or platform.machine()
    column = 0 if machine == "x86_64" else 1
    refused = sorted({numbers[column] for numbers in REFUSED.values()})
    if machine == "x86_64":
        refused = sorted({*refused, *X86_64_ONLY.values()})
    code: list[tuple[int, int, int, int]] = [
        (LOAD_WORD, 0, 0, 4),
        (JUMP_EQUAL, 1, 0, AUDIT_ARCH[machine]),
        (RETURN, 0, 0, REFUSE),  # another ABI (i386 on x86_64, say): nothing of it is allowed
        (LOAD_WORD, 0, 0, 0),
    ]
    if machine == "x86_64":  # the x32 ABI numbers the same calls anew
        code += [(JUMP_AT_LEAST, 0, 1, X32_SYSCALL_BIT), (RETURN, 0, 0, REFUSE)]
    code += [(JUMP_EQUAL, 0, 1, CLONE3[column]), (RETURN, 0, 0, NOT_IMPLEMENTED)]
    code += [(JUMP_EQUAL, 0, 3, CLONE[column]), (LOAD_WORD, 0, 0, 16)]
    code += [(JUMP_ANY_BIT, 0, 1, CLONE_NAMESPACES), (RETURN, 0, 0, REFUSE), (LOAD_WORD, 0, 0, 0)]
    for number in refused:
        code += [(JUMP_EQUAL, 0, 1, number), (RETURN, 0, 0, REFUSE)]
    code.append((RETURN, 0, 0, ALLOW))
    return b"".join(INSTRUCTION.pack(*instruction) for instruction in code)


# The installation as standard-library source, so that the bootstrap (`python -I -S`, nothing
# of the grader imported) and `install` share it: it installs the program whose bytes are in
# `FILTER_HEX`, if any, with prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog).
INSTALL = f"""
import ctypes
class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
if FILTER_HEX:
    _code = bytes.fromhex(FILTER_HEX)
    _program = _Program(len(_code) // {INSTRUCTION.size}, _code)
    if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_SECCOMP}, {SECCOMP_MODE_FILTER}, ctypes.byref(_program), 0, 0):
        raise OSError(ctypes.get_errno(), "the syscall filter was refused")
"""


def install(code: bytes) -> None:
    """Confine this process and all it starts (needs no_new_privs, or root)."""
    exec(INSTALL, {"FILTER_HEX": code.hex()})
