"""A run's own cgroups (`grader.confine.cgroups`) and the kernel's count of its memory
(`CgroupMemory`), on cgroup v1 and v2.

First against fake trees in a temporary folder, laid out as the kernel documents its interface files
(Documentation/admin-guide/cgroup-v2.rst; cgroup-v1/memory.rst and the CFS quota files for v1)
with a fake /proc/<pid>/cgroup: what is written where, what is read, and why a grader is refused.
A fake tree's files are regular files: they do not vanish from a folder as the kernel's do, and
nothing moves a process when its pid is written. Then on real kernels: this machine's cgroup v1
hierarchy (as root), and a cgroup v2 one where the machine has it (`cgroup_v2`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.confine import cgroups
from grader.confine.cgroups import (
    HOST_LEAF,
    PARENT_ENV,
    ROOT_SCOPE,
    USER_SCOPE,
    Hierarchy,
    RunCgroups,
    cgroup_folders_of,
    hierarchy_of,
    remove_stale_run_cgroups,
    writable_problem,
)
from grader.sandbox.memory import CgroupMemory
from tests.unprivileged import remove, user_folder

MB = 2**20
NOBODY = 65534
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
# What a kernel with every usual controller offers at the root of cgroup v2.
ALL_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc"
RUN_SETTINGS = ("memory.max", "memory.swap.max", "cpu.max", "pids.max")
# This machine's /proc/self/cgroup, in form: v1 controllers, and the hybrid's empty unified line.
HYBRID_PROC = "9:name=systemd:/\n8:pids:/\n4:memory:/job\n2:cpuacct:/\n1:cpu:/\n0::/\n"


@dataclass
class FakeTree:
    root: Path  # stands for /sys/fs/cgroup
    proc: Path  # stands for /proc

    def place(self, pid: int | str, cgroup_file: str) -> None:
        """Give a process a /proc/<pid>/cgroup."""
        (self.proc / str(pid)).mkdir(parents=True, exist_ok=True)
        (self.proc / str(pid) / "cgroup").write_text(cgroup_file)


def v2_cgroup(folder: Path, controllers: str, subtree: str = "", procs: tuple[int, ...] = ()) -> Path:
    """A cgroup v2 folder's core files, as read back (the root cgroup has no cgroup.events)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cgroup.controllers").write_text(f"{controllers}\n")
    (folder / "cgroup.subtree_control").write_text(f"{subtree}\n")
    (folder / "cgroup.procs").write_text("".join(f"{pid}\n" for pid in procs))
    (folder / "cgroup.events").write_text(f"populated {int(bool(procs))}\nfrozen 0\n")
    return folder


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTree]:
    # Outside pytest's root-only temporary folders: some tests read the tree as nobody.
    folder = user_folder("grader-cgroups-")
    tree = FakeTree(folder / "cgroup", folder / "proc")
    tree.root.mkdir()
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tree.root)
    monkeypatch.setattr(cgroups, "PROC_ROOT", tree.proc)
    monkeypatch.delenv(PARENT_ENV, raising=False)
    yield tree
    remove(folder)


@pytest.fixture
def v2(fake: FakeTree) -> Path:
    """A cgroup v2 machine whose grader runs in `grading.slice/grade.scope`, the controllers
    enabled down to it and none for its children yet; the grader's own cgroup is returned."""
    root = v2_cgroup(fake.root, ALL_CONTROLLERS, "cpu memory pids")
    (root / "cgroup.events").unlink()
    v2_cgroup(root / "grading.slice", "cpu memory pids", "cpu memory pids")
    own = v2_cgroup(root / "grading.slice" / "grade.scope", "cpu memory pids", procs=(os.getpid(),))
    fake.place("self", "0::/grading.slice/grade.scope\n")
    return own


@pytest.fixture
def v1(fake: FakeTree) -> tuple[Path, Path]:
    """A hybrid machine like this one: a memory cgroup `job`, the cpu root, an empty unified
    hierarchy. Its memory and cpu folders are returned."""
    memory, cpu = fake.root / "memory" / "job", fake.root / "cpu"
    for folder in (memory, cpu):
        folder.mkdir(parents=True)
        (folder / "cgroup.procs").write_text(f"{os.getpid()}\n")
    (v2_cgroup(fake.root / "unified", "") / "cgroup.events").unlink()  # the root of its hierarchy
    fake.place("self", HYBRID_PROC)
    return memory, cpu


@pytest.fixture
def sleeper() -> Iterator[Callable[[Callable[[], None]], subprocess.Popen]]:
    """`start(preexec)`: a `sleep 30` that runs `preexec` first; killed at the end."""
    children: list[subprocess.Popen] = []

    def start(preexec: Callable[[], None]) -> subprocess.Popen:
        children.append(subprocess.Popen(["sleep", "30"], preexec_fn=preexec))
        return children[-1]

    yield start
    for child in children:
        child.kill()
        child.wait()


def as_nobody(function: Callable[[], str | None]) -> str | None:
    """What `function` returns in a forked child running as uid and gid 65534."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = {"value": function()}
        except BaseException as error:
            answer = {"error": repr(error)}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert "error" not in answer, answer
    return answer["value"]


def settings(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in sorted(os.listdir(folder))}


# --------------------------------------------------------------------------- which hierarchy


def test_a_hybrid_machine_is_cgroup_v1_where_its_memory_and_cpu_controllers_are(
    fake: FakeTree, v1: tuple[Path, Path]
) -> None:
    assert hierarchy_of("self") == Hierarchy(1, v1)
    fake.place(777, "4:memory:/job/grader-5-6\n1:cpu:/grader-5-6\n0::/\n")
    assert cgroup_folders_of(777) == [v1[0] / "grader-5-6", v1[1] / "grader-5-6"]


def test_a_cpu_controller_on_a_comounted_hierarchy_counts(fake: FakeTree) -> None:
    fake.place("self", "5:cpu,cpuacct:/a\n3:memory:/a\n0::/\n")
    assert hierarchy_of("self") == Hierarchy(1, (fake.root / "memory" / "a", fake.root / "cpu" / "a"))


def test_a_unified_machine_is_cgroup_v2(fake: FakeTree, v2: Path) -> None:
    assert hierarchy_of("self") == Hierarchy(2, (v2,))
    fake.place(777, "0::/grading.slice/grade.scope/grader-5-6\n")
    assert cgroup_folders_of(777) == [v2 / "grader-5-6"]


def test_without_the_v1_cpu_controller_a_hybrid_machine_has_only_its_empty_unified_hierarchy(
    fake: FakeTree, v1: tuple[Path, Path]
) -> None:
    fake.place("self", "4:memory:/job\n0::/\n")
    unified = fake.root / "unified"
    assert hierarchy_of("self") == Hierarchy(2, (unified,))
    assert writable_problem() == (
        f"the kernel does not give cgroup v2 the memory, cpu and pids controllers here "
        f"({unified / 'cgroup.controllers'} lists none): they are bound to cgroup v1 hierarchies or "
        "disabled at boot"
    )


def test_with_no_hierarchy_mounted_there_are_no_cgroups_to_make(fake: FakeTree) -> None:
    fake.place("self", "0::/\n")
    assert hierarchy_of("self") is None
    assert cgroup_folders_of("self") == []
    assert "neither the cgroup v1 memory and cpu controllers nor a cgroup v2" in writable_problem()
    assert RunCgroups(300, 1, 64).path is None


# --------------------------------------------------------------------------- cgroup v2, fake


def test_v2_the_grader_leaves_its_cgroup_for_a_leaf_and_enables_the_controllers(v2: Path) -> None:
    assert writable_problem() is None
    assert (v2 / HOST_LEAF / "cgroup.procs").read_text() == str(os.getpid())
    assert (v2 / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"


def test_v2_only_the_controllers_not_yet_enabled_are(v2: Path) -> None:
    (v2 / "cgroup.subtree_control").write_text("memory\n")
    assert writable_problem() is None
    assert (v2 / "cgroup.subtree_control").read_text() == "+cpu +pids"


def test_v2_a_grader_already_in_its_leaf_makes_runs_beside_it(fake: FakeTree, v2: Path) -> None:
    v2_cgroup(v2, "cpu memory pids", "cpu memory pids")  # no processes of its own any more
    v2_cgroup(v2 / HOST_LEAF, "cpu memory pids", procs=(os.getpid(),))
    fake.place("self", "0::/grading.slice/grade.scope/grader-host\n")
    assert writable_problem() is None
    assert (v2 / "cgroup.subtree_control").read_text() == "cpu memory pids\n"  # nothing to change
    run = RunCgroups(300, 1, 64)
    assert run.path is not None and run.path.parent == v2


def test_v2_the_root_cgroup_may_hold_processes_and_enable_controllers(fake: FakeTree) -> None:
    root = v2_cgroup(fake.root, ALL_CONTROLLERS, procs=(1, os.getpid()))
    (root / "cgroup.events").unlink()
    fake.place("self", "0::/\n")
    assert writable_problem() is None
    assert not (root / HOST_LEAF).exists()
    assert (root / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"


@pytest.mark.parametrize(("threads", "quota"), [(0, 100_000), (1, 100_000), (3, 300_000)])
def test_v2_a_runs_cgroup_has_its_limits(v2: Path, threads: int, quota: int) -> None:
    run = RunCgroups(limit_mb=300, threads=threads, max_processes=64)
    assert run.version == 2 and run.path is not None
    assert run.path.parent == v2 and re.fullmatch(rf"grader-{os.getpid()}-\d+", run.path.name)
    assert run.folders == [run.path]
    assert settings(run.path) == {
        "cpu.max": f"{quota} 100000",
        "memory.max": str(300 * MB),
        "memory.swap.max": "0",
        "pids.max": "64",
    }


def test_v2_a_disabled_run_makes_nothing(v2: Path) -> None:
    run = RunCgroups(300, 1, 64, enabled=False)
    assert run.path is None and run.members() == [] and run.memory(None) is None and not run.oom_killed()
    assert sorted(path.name for path in v2.iterdir() if path.is_dir()) == []


def test_v2_where_it_is_refused_a_run_has_no_cgroup(v2: Path) -> None:
    (v2 / "cgroup.controllers").write_text("memory pids\n")
    run = RunCgroups(300, 1, 64)
    assert run.path is None
    assert [path.name for path in v2.iterdir() if path.is_dir()] == []


def test_v2_a_run_entered_is_its_members_and_removing_it_kills_them(v2: Path, sleeper) -> None:
    run = RunCgroups(300, 1, 64)
    child = sleeper(run.enter)
    assert (run.path / "cgroup.procs").read_text() == str(child.pid)
    assert run.members() == [child.pid]
    started = time.monotonic()
    run.remove()  # no cgroup.kill (before Linux 5.14): each pid is killed
    assert child.wait(timeout=5) == -signal.SIGKILL
    # A folder of regular files is no cgroup: rmdir fails at once, with no retries.
    assert time.monotonic() - started < 1
    assert run.path is None and run.members() == []


def test_v2_removing_a_run_leaves_the_killing_to_cgroup_kill(v2: Path, sleeper) -> None:
    run = RunCgroups(300, 1, 64)
    folder = run.path
    (folder / "cgroup.kill").write_text("")
    child = sleeper(run.enter)
    run.remove()
    assert (folder / "cgroup.kill").read_text() == "1"
    assert child.poll() is None  # the kernel kills through cgroup.kill; nothing signalled it


@pytest.mark.parametrize(
    ("events", "killed"),
    [
        ("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n", False),
        ("low 0\nhigh 0\nmax 12\noom 0\noom_kill 0\noom_group_kill 0\n", False),  # reclaimed in time
        ("low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n", True),
        ("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n", True),
    ],
)
def test_v2_out_of_memory_is_read_from_memory_events(v2: Path, events: str, killed: bool) -> None:
    run = RunCgroups(300, 1, 64)
    (run.path / "memory.events").write_text(events)
    assert run.oom_killed() is killed


def test_v2_a_runs_memory_is_read_from_its_folder(v2: Path) -> None:
    run = RunCgroups(300, 1, 64)
    (run.path / "memory.current").write_text(f"{200 * MB}\n")
    (run.path / "memory.stat").write_text("anon 0\nfile 0\nactive_file 0\ninactive_file 0\n")
    memory = run.memory(budgeted=None)
    assert memory.folder == run.path and memory.unified
    assert memory.over(150) and not memory.over(250)


def test_v2_stale_runs_of_graders_that_no_longer_run_are_removed(v2: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale, mine = v2 / f"grader-{gone.pid}-1", v2 / f"grader-{os.getpid()}-1"
    for folder in (stale, mine, v2 / HOST_LEAF):
        folder.mkdir()
    remove_stale_run_cgroups()
    assert not stale.exists()
    assert mine.exists() and (v2 / HOST_LEAF).exists()


def test_v2_a_configured_parent_holds_the_runs(fake: FakeTree, v2: Path, monkeypatch) -> None:
    parent = v2_cgroup(fake.root / "grader.slice", "cpu memory pids")
    monkeypatch.setenv(PARENT_ENV, "/grader.slice")
    run = RunCgroups(300, 2, 64)
    assert run.path is not None and run.path.parent == parent
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    assert not (v2 / HOST_LEAF).exists()  # the grader stays where it is
    monkeypatch.setenv(PARENT_ENV, "/missing.slice")
    assert writable_problem() == f"the cgroup folder {fake.root / 'missing.slice'} does not exist"


# The refusals: each says what stops the grader and what would let it.


@AS_ROOT
def test_v2_refused_as_root_without_the_controllers_names_the_files_to_write(
    fake: FakeTree, v2: Path
) -> None:
    v2_cgroup(fake.root / "grading.slice", "cpu memory pids", "memory pids")
    v2_cgroup(v2, "memory pids", procs=(os.getpid(),))
    subtree = fake.root / "grading.slice" / "cgroup.subtree_control"
    assert writable_problem() == (
        f"{v2} lacks the cpu controller ({v2 / 'cgroup.controllers'} lists memory pids); run the "
        f"grader in a cgroup of its own ({ROOT_SCOPE}), or write '+cpu' to {subtree}"
    )
    assert not (v2 / HOST_LEAF).exists()


@AS_ROOT
def test_v2_refused_as_root_names_every_ancestor_to_enable_them_in(fake: FakeTree, v2: Path) -> None:
    (fake.root / "cgroup.subtree_control").write_text("\n")
    v2_cgroup(fake.root / "grading.slice", "", "")
    v2_cgroup(v2, "", procs=(os.getpid(),))
    problem = writable_problem()
    first, second = (
        fake.root / "cgroup.subtree_control",
        fake.root / "grading.slice" / "cgroup.subtree_control",
    )
    assert problem.endswith(f"write '+memory +cpu +pids' to {first}, then {second}")


@AS_ROOT
def test_v2_refused_as_a_user_without_the_controllers_delegated(v2: Path) -> None:
    v2_cgroup(v2, "memory pids", procs=(os.getpid(),))
    for path in (v2, v2 / "cgroup.procs", v2 / "cgroup.subtree_control"):  # as systemd's Delegate=yes does
        os.chown(path, NOBODY, NOBODY)
    problem = as_nobody(writable_problem)
    assert problem.startswith(
        f"{v2} lacks the cpu controller ({v2 / 'cgroup.controllers'} lists memory pids): they are not "
        f"delegated to uid {NOBODY}; run the grader in a cgroup delegated to it: {USER_SCOPE}; "
    )
    assert "/etc/systemd/system/user@.service.d/delegate.conf" in problem


@AS_ROOT
def test_v2_refused_as_a_user_where_its_cgroup_is_not_writable(v2: Path) -> None:
    assert as_nobody(writable_problem) == (
        f"the cgroup folder {v2} is not writable by uid {NOBODY}: run the grader in a cgroup "
        f"delegated to it: {USER_SCOPE}"
    )


@AS_ROOT
def test_v2_refused_as_a_user_who_cannot_move_processes_into_the_configured_parent(
    fake: FakeTree, v2: Path, monkeypatch
) -> None:
    parent = v2_cgroup(fake.root / "grader.slice", "cpu memory pids")
    for path in (parent, parent / "cgroup.procs", parent / "cgroup.subtree_control"):
        os.chown(path, NOBODY, NOBODY)
    monkeypatch.setenv(PARENT_ENV, "grader.slice")
    problem = as_nobody(writable_problem)
    assert problem.startswith(
        f"the grader cannot move processes from {v2} into {parent}: that takes write access to "
        f"{fake.root / 'cgroup.procs'} (their common ancestor's)"
    )


def test_v2_refused_where_its_cgroup_holds_other_processes(v2: Path) -> None:
    v2_cgroup(v2, "cpu memory pids", procs=(os.getpid(), 4242))
    problem = writable_problem()
    assert problem.startswith(f"{v2} holds processes besides the grader (pid 4242), and cgroup v2 lets no")
    assert "cgroup with processes of its own give controllers to its children" in problem
    assert problem.endswith(ROOT_SCOPE if os.geteuid() == 0 else USER_SCOPE)
    assert not (v2 / HOST_LEAF).exists()  # nothing moved, nothing enabled
    assert (v2 / "cgroup.subtree_control").read_text() == "\n"


# --------------------------------------------------------------------------- cgroup v1, fake


def test_v1_a_runs_cgroups_have_todays_limits_and_no_pids_cap(v1: tuple[Path, Path]) -> None:
    memory, cpu = v1
    assert writable_problem() is None
    run = RunCgroups(limit_mb=300, threads=2, max_processes=64)
    assert run.version == 1
    assert [folder.parent for folder in run.folders] == [memory, cpu]
    assert run.path == run.folders[0] and re.fullmatch(rf"grader-{os.getpid()}-\d+", run.path.name)
    assert settings(run.folders[0]) == {"memory.limit_in_bytes": str(300 * MB)}
    assert settings(run.folders[1]) == {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "200000"}


def test_v1_a_run_entered_is_in_both_and_removing_it_kills_it(v1: tuple[Path, Path], sleeper) -> None:
    run = RunCgroups(300, 1, 64)
    child = sleeper(run.enter)
    assert [(folder / "cgroup.procs").read_text() for folder in run.folders] == [str(child.pid)] * 2
    assert run.members() == [child.pid]
    run.remove()
    assert child.wait(timeout=5) == -signal.SIGKILL
    assert run.folders == []


@pytest.mark.parametrize(
    ("oom_control", "failcnt", "killed"),
    [
        ("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "3\n", False),
        ("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "3\n", True),
        ("oom_kill_disable 0\nunder_oom 0\n", "0\n", False),  # kernels before 4.13: no oom_kill line
        ("oom_kill_disable 0\nunder_oom 0\n", "3\n", True),
    ],
)
def test_v1_out_of_memory_is_read_as_before(
    v1: tuple[Path, Path], oom_control: str, failcnt: str, killed: bool
) -> None:
    run = RunCgroups(300, 1, 64)
    (run.path / "memory.oom_control").write_text(oom_control)
    (run.path / "memory.failcnt").write_text(failcnt)
    assert run.oom_killed() is killed


def test_v1_stale_runs_are_removed_from_both_hierarchies(v1: tuple[Path, Path]) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = [folder / f"grader-{gone.pid}-1" for folder in v1]
    mine = [folder / f"grader-{os.getpid()}-1" for folder in v1]
    for folder in [*stale, *mine]:
        folder.mkdir()
    remove_stale_run_cgroups()
    assert [folder for folder in stale if folder.exists()] == []
    assert all(folder.exists() for folder in mine)


def test_v1_refused_where_a_controller_is_not_mounted(v1: tuple[Path, Path]) -> None:
    (v1[1] / "cgroup.procs").unlink()
    v1[1].rmdir()
    assert writable_problem() == f"the cgroup folder {v1[1]} does not exist"
    assert RunCgroups(300, 1, 64).path is None


@AS_ROOT
def test_v1_refused_as_a_user(v1: tuple[Path, Path]) -> None:
    assert as_nobody(writable_problem) == (
        f"the cgroup folder {v1[0]} is not writable by uid {NOBODY}: run the grader as root"
    )


# --------------------------------------------------------------------------- the memory count


def fake_memory(folder: Path, version: int, usage_mb: int, page_cache_mb: int, peak_mb: int | None) -> None:
    """A memory cgroup's usage, page cache (its file LRU lists) and high-water mark, as v1 or v2
    shows them; shmem, which v2 counts under `file` too, is 40 MB of the usage."""
    folder.mkdir(exist_ok=True)
    active, inactive = page_cache_mb * 3 // 5 * MB, page_cache_mb * 2 // 5 * MB
    if version == 1:
        (folder / "memory.usage_in_bytes").write_text(f"{usage_mb * MB}\n")
        stat = f"cache {(page_cache_mb + 40) * MB}\nrss 0\nshmem {40 * MB}\nactive_file 0\ninactive_file 0\n"
        stat += f"total_cache {(page_cache_mb + 40) * MB}\ntotal_active_file {active}\ntotal_inactive_file {inactive}\n"
        if peak_mb is not None:
            (folder / "memory.max_usage_in_bytes").write_text(f"{peak_mb * MB}\n")
    else:
        (folder / "memory.current").write_text(f"{usage_mb * MB}\n")
        stat = f"anon 0\nfile {(page_cache_mb + 40) * MB}\nshmem {40 * MB}\n"
        stat += f"inactive_anon {40 * MB}\nactive_anon 0\ninactive_file {inactive}\nactive_file {active}\n"
        if peak_mb is not None:
            (folder / "memory.peak").write_text(f"{peak_mb * MB}\n")
    (folder / "memory.stat").write_text(stat)


@pytest.mark.parametrize("version", [1, 2])
def test_the_page_cache_is_not_held_against_the_run_and_shmem_is(tmp_path: Path, version: int) -> None:
    fake_memory(tmp_path / "run", version, usage_mb=300, page_cache_mb=100, peak_mb=400)
    memory = CgroupMemory(tmp_path / "run")
    assert memory.unified is (version == 2)
    assert memory.over(150)
    assert memory.over(190)  # 200 MB held: less the page cache, not less shmem (v2's `file` has it)
    assert not memory.over(200)
    assert not memory.over(350)
    assert memory.peak_mb == 400  # the kernel's own


def test_v2_before_memory_peak_the_peak_is_the_highest_usage_read(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    fake_memory(folder, 2, usage_mb=300, page_cache_mb=0, peak_mb=None)
    memory = CgroupMemory(folder)
    for usage in (300, 350, 200):
        fake_memory(folder, 2, usage_mb=usage, page_cache_mb=0, peak_mb=None)
        assert not memory.over(1000)
    assert memory.peak_mb == 350  # read 200 MB now, 350 at most before
    for path in folder.iterdir():  # removed with the run: the peak stays
        path.unlink()
    assert memory.peak_mb == 350


@AS_ROOT
@pytest.mark.parametrize("version", [1, 2])
def test_the_outputs_tmpfs_is_the_disk_budgets(tmp_path: Path, version: int) -> None:
    output = tmp_path / "output"
    output.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "output", str(output)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (output / "out.bin").write_bytes(b"\x01" * (20 * MB))
        fake_memory(tmp_path / "run", version, usage_mb=300, page_cache_mb=0, peak_mb=300)
        assert CgroupMemory(tmp_path / "run").over(290)
        assert not CgroupMemory(tmp_path / "run", budgeted=output).over(290)  # 300 - 20 MB
        assert CgroupMemory(tmp_path / "run", budgeted=output).over(270)
    finally:
        subprocess.run(["umount", "--lazy", str(output)])


# --------------------------------------------------------------------------- real kernels

HOG = "b = b'x' * (256 * 2**20); import time; time.sleep(30)"


def real_hierarchy() -> Hierarchy | None:
    try:
        return hierarchy_of("self")
    except OSError:
        return None


def _v2_kernel() -> bool:
    with contextlib.suppress(OSError):
        return "memory" in Path("/sys/fs/cgroup/cgroup.controllers").read_text().split()
    return False


CGROUP_V1_HERE = pytest.mark.skipif(
    os.geteuid() != 0 or getattr(real_hierarchy(), "version", None) != 1,
    reason="needs root on a cgroup v1 machine",
)
CGROUP_V2_HERE = pytest.mark.skipif(
    not _v2_kernel(),
    reason="needs a cgroup v2 kernel: /sys/fs/cgroup/cgroup.controllers does not list memory "
    "(a cgroup v1 or hybrid machine, as this one is where it skips)",
)


@CGROUP_V1_HERE
def test_on_this_machines_cgroup_v1_a_run_is_made_entered_counted_and_removed(sleeper) -> None:
    assert writable_problem() is None
    run = RunCgroups(limit_mb=256, threads=1, max_processes=64)
    folders = list(run.folders)
    try:
        assert run.version == 1 and len(folders) == 2
        assert (run.path / "memory.limit_in_bytes").read_text().strip() == str(256 * MB)
        assert (folders[1] / "cpu.cfs_quota_us").read_text().strip() == "100000"
        child = sleeper(run.enter)
        assert run.members() == [child.pid]
        assert (folders[1] / "cgroup.procs").read_text().split() == [str(child.pid)]
        memory = run.memory(budgeted=None)
        assert memory is not None and not memory.unified
        assert memory.peak_mb > 0
        assert memory.over(0)  # its pages are the run's
        assert not run.oom_killed()
        run.remove()
        assert child.wait(timeout=10) == -signal.SIGKILL
        assert [folder for folder in folders if folder.exists()] == []
    finally:
        run.remove()


def assert_the_hog_is_killed_at_64_mb(run: RunCgroups) -> None:
    hog = subprocess.run([sys.executable, "-c", HOG], preexec_fn=run.enter, timeout=60)
    assert hog.returncode == -signal.SIGKILL
    assert run.oom_killed()
    assert 60 < run.memory(None).peak_mb <= 64


@CGROUP_V1_HERE
def test_on_this_machines_cgroup_v1_the_memory_limit_kills(tmp_path: Path) -> None:
    run = RunCgroups(limit_mb=64, threads=1, max_processes=64)
    try:
        assert_the_hog_is_killed_at_64_mb(run)
    finally:
        run.remove()


@CGROUP_V1_HERE
def test_on_this_machines_cgroup_v1_stale_runs_are_removed() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = [folder / f"grader-{gone.pid}-1" for folder in real_hierarchy().folders]
    for folder in stale:
        folder.mkdir()
    try:
        remove_stale_run_cgroups()
        assert [folder for folder in stale if folder.exists()] == []
    finally:
        for folder in stale:
            with contextlib.suppress(OSError):
                folder.rmdir()


@pytest.mark.cgroup_v2
@CGROUP_V2_HERE
def test_on_a_cgroup_v2_kernel_a_run_has_its_limits_and_the_memory_one_kills() -> None:
    # Readying the hierarchy moves this test process into its cgroup's `grader-host` leaf.
    problem = writable_problem()
    if problem:
        pytest.skip(problem)
    run = RunCgroups(limit_mb=64, threads=2, max_processes=32)
    folder = run.path
    try:
        assert run.version == 2 and folder is not None
        assert (folder / "memory.max").read_text().strip() == str(64 * MB)
        assert (folder / "cpu.max").read_text().strip() == "200000 100000"
        assert (folder / "pids.max").read_text().strip() == "32"
        assert_the_hog_is_killed_at_64_mb(run)
    finally:
        run.remove()
    assert not folder.exists()
