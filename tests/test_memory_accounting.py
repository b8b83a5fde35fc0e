"""Memory counted as the kernel counts it: pages a run holds without mapping them (memfds,
tmpfs and /dev/shm files, System V segments) count toward its limit on every backend.

The counting code first, on real processes holding real shared memory (fast: no sandbox, no
model); then hostile samples graded through the real pipeline (`tests/test_hostile.py`'s
fixtures): `memfd_hoard.py` holds 3.3 GB in memfds it never maps, `memfd_handoff.py` hands them
to a detached `sleep` and lets their writer exit. Both are `out_of_memory`, with a recorded
peak of at least what they held, where the samples' batch records what a small fit holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from multiprocessing import shared_memory
from pathlib import Path

import psutil
import pytest

from grader.confine.cgroups import hierarchy_of
from grader.sandbox import process, user
from grader.sandbox.container_cgroup import CGROUP_ROOT, PREFIX, readable_here
from grader.sandbox.memory import CgroupMemory, MemoryWatch, SharedMemory, segments_of
from tests import test_hostile
from tests.conftest import read_json
from tests.test_hostile import (
    MEMORY_MB,
    PROBED,
    STATIC,
    Graders,
    assert_clean,
    assert_only_earned,
    unique_marker,
)

# test_hostile's module-scoped fixtures, reused: process, docker and user backends.
canaries, graders, rubric, sandbox, short_rubric, splits = (
    test_hostile.canaries,
    test_hostile.graders,
    test_hostile.rubric,
    test_hostile.sandbox,
    test_hostile.short_rubric,
    test_hostile.splits,
)

MB = 2**20
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
# Run first in every child below: it fills a file descriptor with `mb` megabytes, page by page.
FILL = "import os, sys, time\ndef fill(fd, mb):\n    for _ in range(mb):\n        os.write(fd, b'\\x01' * 2**20)\n"
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.shmat.restype = ctypes.c_void_p
_LIBC.shmat.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_LIBC.shmdt.argtypes = (ctypes.c_void_p,)
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0


@contextlib.contextmanager
def holding(script: str, **popen: object) -> Iterator[list[int]]:
    """A Python child that runs `script`, prints the pids it wants counted on one line, then
    sleeps; they are killed afterwards."""
    child = subprocess.Popen(
        [sys.executable, "-c", FILL + textwrap.dedent(script) + "\ntime.sleep(120)\n"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )
    try:
        line = child.stdout.readline()
        assert line, "the child died before it was ready"
        yield [child.pid, *map(int, line.split())]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, 9)
        child.wait()


def held_mb(pids: list[int], owner: int | None = None) -> float:
    return SharedMemory(owner).held_bytes(pids) / MB


# --------------------------------------------------------------------------- the counting code


def test_a_memfd_no_process_maps_counts_toward_the_run() -> None:
    with holding("fd = os.memfd_create('held'); fill(fd, 200); print(flush=True)") as pids:
        assert not MemoryWatch(lambda: pids, count_shared=False).over(150)  # its processes alone: small
        watch = MemoryWatch(lambda: pids)
        assert watch.over(150)
        assert 200 <= watch.peak_mb < 260, watch.peak_mb


def test_each_inode_counts_once_and_a_sparse_memfd_counts_its_pages() -> None:
    script = """
    shared = os.memfd_create('shared'); fill(shared, 100)
    sparse = os.memfd_create('sparse'); os.ftruncate(sparse, 8 << 30); os.pwrite(sparse, b'x' * 2**20, 4 << 30)
    child = os.fork()
    if child == 0:
        time.sleep(120)
    print(child, flush=True)
    """
    with holding(script) as pids:
        assert len(pids) == 2  # both hold both memfds
        assert 101 <= held_mb(pids) < 102


def test_a_memfd_whose_writer_exited_counts_where_it_was_handed() -> None:
    script = """
    import socket
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    writer = os.fork()
    if writer == 0:
        fd = os.memfd_create('handed'); fill(fd, 150)
        socket.send_fds(theirs, [b'x'], [fd]); os._exit(0)
    os.waitpid(writer, 0)
    _, fds, _, _ = socket.recv_fds(mine, 1, 1)
    print(flush=True)
    """
    with holding(script) as pids:
        assert 150 <= held_mb(pids) < 151


def test_the_owners_new_shared_memory_files_count_and_those_it_had_do_not() -> None:
    earlier = Path("/dev/shm") / f"grader-test-{os.getpid()}"
    earlier.write_bytes(b"\x01" * 20 * MB)
    shared = SharedMemory(owner=os.getuid())
    segment = shared_memory.SharedMemory(create=True, size=100 * MB)
    try:
        segment.buf[:] = b"\x01" * segment.size
        segment.close()  # unmapped and closed: only its name in /dev/shm holds it
        held = shared.held_bytes([]) / MB
        assert 100 <= held < 110, held  # (other processes of this uid may make small files meanwhile)
        assert SharedMemory().held_bytes([]) == 0  # no owner: nothing outside the processes is the run's
    finally:
        segment.unlink()
        earlier.unlink()


def test_the_owners_system_v_segments_count_after_every_process_detached() -> None:
    shared = SharedMemory(owner=os.getuid())
    segment = _LIBC.shmget(IPC_PRIVATE, 64 * MB, IPC_CREAT | 0o600)
    assert segment >= 0, os.strerror(ctypes.get_errno())
    try:
        address = _LIBC.shmat(segment, None, 0)
        ctypes.memset(address, 1, 64 * MB)
        _LIBC.shmdt(address)
        assert 64 <= shared.held_bytes([]) / MB < 70
    finally:
        _LIBC.shmctl(segment, IPC_RMID, None)


@AS_ROOT
def test_the_user_backend_removes_the_system_v_segments_a_run_left() -> None:
    uid = user._fresh_uid()
    script = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n"
        f"assert libc.shmget({IPC_PRIVATE}, {8 * MB}, {IPC_CREAT | 0o600}) >= 0\n"
    )
    subprocess.run([sys.executable, "-c", script], user=uid, group=uid, extra_groups=[], check=True)
    try:
        assert len(segments_of(uid)) == 1  # it outlived its process
        user._end_everything_of(uid)
        assert segments_of(uid) == {}
    finally:
        for left in segments_of(uid):
            _LIBC.shmctl(left, IPC_RMID, None)


@AS_ROOT
def test_as_root_a_mapped_memfd_counts_whole_after_its_descriptor_is_closed() -> None:
    script = """
    import mmap
    fd = os.memfd_create('mapped'); fill(fd, 120)
    view = mmap.mmap(fd, mmap.PAGESIZE); view[0]; os.close(fd)
    print(flush=True)
    """
    with holding(script) as pids:
        assert 120 <= held_mb(pids) < 121  # its proportional size has one page of it


@pytest.mark.skipif(process._problem() is not None, reason="needs bubblewrap that can make namespaces")
def test_a_sandboxs_own_tmpfs_mounts_count() -> None:
    inner = FILL + textwrap.dedent(
        """
        for path, mb in (('/tmp/hoard', 100), ('/dev/shm/hoard', 50)):
            with open(path, 'wb') as file:
                fill(file.fileno(), mb)
        print(flush=True)
        time.sleep(120)
        """
    )
    command = ["bwrap", "--unshare-user", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    # The Python running the tests may live under /tmp (CI's venv), which the new tmpfs hides.
    command += ["--ro-bind", sys.prefix, sys.prefix, "--chdir", "/"]
    command += [sys.executable, "-c", inner]
    sandboxed = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert sandboxed.stdout.readline(), "the sandbox did not start"
        pids = [
            sandboxed.pid,
            *(child.pid for child in psutil.Process(sandboxed.pid).children(recursive=True)),
        ]
        assert 150 <= held_mb(pids) < 152
    finally:
        os.killpg(sandboxed.pid, 9)
        sandboxed.wait()


def test_shared_memory_made_between_two_counts_is_seen_at_the_next_poll() -> None:
    script = """
    print(flush=True)
    sys.stdin.readline()
    fd = os.memfd_create('late'); fill(fd, 300)
    print('filled', flush=True)
    """
    child = subprocess.Popen(
        [sys.executable, "-c", FILL + textwrap.dedent(script) + "time.sleep(120)\n"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child.stdout.readline()
        watch = MemoryWatch(lambda: [child.pid])
        watch.PEAK_SECONDS = 3600  # no periodic count: only the cheap bound can call for one
        assert not watch.over(200)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "filled"
        assert watch.over(200)  # the machine's shmem grew past the limit's room: counted at once
        assert watch.peak_mb >= 300
    finally:
        child.kill()
        child.wait()


@AS_ROOT
def test_a_cgroup_counts_shmem_and_neither_page_cache_nor_the_output(tmp_path: Path) -> None:
    try:
        hierarchy = hierarchy_of("self")
        if hierarchy is None or hierarchy.version != 1:
            raise OSError("no cgroup v1 memory controller")
        parent = hierarchy.folders[0]
        folder = parent / f"grader-{os.getpid()}-{time.monotonic_ns()}"
        folder.mkdir()
    except (OSError, KeyError):
        pytest.skip("needs a writable cgroup v1 memory controller")
    output = tmp_path / "output"
    output.mkdir()
    mounted = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "output", str(output)]).returncode == 0
    )
    script = f"""
    fd = os.memfd_create('held'); fill(fd, 200)
    for path in ({str(output / "out.bin")!r}, {str(tmp_path / "cache.bin")!r}):
        with open(path, 'wb') as file:
            fill(file.fileno(), 100)
    print(flush=True)
    """

    def join() -> None:  # in the child, before it runs
        (folder / "cgroup.procs").write_text(str(os.getpid()))

    try:
        with holding(script, preexec_fn=join):
            memory = CgroupMemory(folder, budgeted=output if mounted else None)
            assert memory.over(150)
            # 200 MB of memfd and an interpreter; the 100 MB of page cache and, where the
            # output is a tmpfs (root), its 100 MB are charged but not held against the limit.
            assert not memory.over(300)
            assert memory.peak_mb >= 400  # the kernel's high-water mark: all it charged
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(output)])
        for _ in range(50):
            with contextlib.suppress(OSError):
                folder.rmdir()
                break
            time.sleep(0.1)


# --------------------------------------------------------------------------- through the pipeline


@pytest.mark.parametrize("sample", ["memfd_hoard.py", "memfd_handoff.py"])
def test_memory_no_process_maps_stops_the_run_at_its_limit(graders: Graders, sample: str) -> None:
    if graders.sandbox.name == "user" and sample != "memfd_hoard.py":
        pytest.skip("one sample is enough for the user backend (each run imports torch again)")
    marker = unique_marker()
    handed_off = sample == "memfd_handoff.py"
    path = graders.prepare(sample, SLEEP_MARKER=marker) if handed_off else None
    graded = graders.grade(sample, markers=(marker,) if handed_off else (), path=path)
    result = graded.result
    assert result.status == "out_of_memory", result.status_reason
    assert f"memory limit of {MEMORY_MB} MB" in result.status_reason
    assert "Trainer.fit" in result.status_reason
    assert_only_earned(result, PROBED | STATIC, "memory limit")
    # Stopped once it held more than its limit (or, in Docker, at the limit): the recorded peak is at least that.
    assert result.peak_memory_mb is not None and result.peak_memory_mb >= MEMORY_MB
    assert_clean(graded)  # includes: the detached holder did not survive


def test_every_samples_recorded_peak_is_what_a_small_fit_holds(graded_samples: Path) -> None:
    """The README's own batch, on the default backend: the peak of every run, honest ones
    included, is a torch process and its fit counted once: not the page cache it read, nor its
    output, nor the machine's shared memory."""
    peaks = {
        path.stem: read_json(path)["peak_memory_mb"] for path in (graded_samples / "results").glob("*.json")
    }
    assert peaks, "no results"
    assert all(peak is not None and 50 < peak < 1000 for peak in peaks.values()), peaks


def test_a_containers_parent_cgroup_goes_with_it(graders: Graders) -> None:
    if graders.sandbox.name != "docker":
        pytest.skip("Docker's cgroups only")
    if not readable_here(graders.sandbox.client()):
        pytest.skip(
            "the engine's cgroups are not this machine's cgroup v1 (the engine's statistics give the peak)"
        )
    graders.grade("memfd_hoard.py")  # graded once per module: the run above
    assert list(CGROUP_ROOT.glob(f"*/{PREFIX}-{os.getpid()}-*")) == []
