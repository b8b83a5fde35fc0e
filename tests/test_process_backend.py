"""The `process` backend with real bubblewrap: a valid run, then hostile submissions."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

import grader
from grader.confine import cgroups
from grader.contract import REPORT_FILE
from grader.host.execute import read_report, runner_stdin
from grader.sandbox import open_sandbox, process
from grader.sandbox.base import SandboxLimits, SandboxOutcome, SandboxRequest, SandboxUnavailable
from grader.sandbox.process import ProcessSandbox

pytestmark = pytest.mark.process

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "m14"
# Hostile runs: the runner needs ~5 s to import torch and Lightning before student code runs.
HOSTILE = SandboxLimits(wall_seconds=40, memory_mb=2000, threads=1, output_bytes=65536)


@pytest.fixture(scope="module")
def sandbox() -> ProcessSandbox:
    if shutil.which("bwrap") is None and not os.environ.get("CI"):
        pytest.skip("bubblewrap is not installed")
    backend = ProcessSandbox()
    backend.check()
    return backend


@pytest.fixture(scope="module")
def inputs(short_fit_inputs: Path) -> Path:
    return short_fit_inputs


def run(
    sandbox: ProcessSandbox, inputs: Path, submission: Path, output: Path, limits: SandboxLimits
) -> SandboxOutcome:
    output.mkdir()
    return sandbox.run(SandboxRequest(submission, inputs, output, runner_stdin("nonce-42", inputs), limits))


def student(tmp_path: Path, code: str) -> Path:
    """A submission whose only module runs `code` when the runner imports it.

    The code sits in a class body: the runner skips top-level code, but class bodies run.
    """
    folder = tmp_path / "submission"
    folder.mkdir()
    body = textwrap.indent(textwrap.dedent(code), "    ")
    (folder / "student.py").write_text(f"class Student:\n{body}")
    return folder


def findings(output: Path) -> dict:
    return json.loads((output / "findings.json").read_text())


def test_reference_run_reports_with_nonce(sandbox, inputs, tmp_path):
    output = tmp_path / "out"
    outcome = run(sandbox, inputs, REFERENCE, output, SandboxLimits(240, 3000, 2, 65536))
    assert outcome.backend == "process"
    assert outcome.exit_code == 0, outcome.stderr
    assert not outcome.timed_out and not outcome.out_of_memory
    report = read_report(output, "nonce-42")
    assert report is not None, "the report must carry the HMAC of the nonce"
    assert report.stage == "done"
    assert report.fit.completed
    assert report.fit.checkpoint.best_model_path
    assert (output / report.fit.checkpoint.best_model_path).is_file()
    assert os.stat(output / REPORT_FILE).st_uid == os.getuid()


def test_no_network_environment_or_host_files(sandbox, inputs, tmp_path, monkeypatch):
    secret = secrets.token_hex(8)
    monkeypatch.setenv("GRADER_TEST_CANARY", secret)
    canary = tmp_path / "canary.txt"
    canary.write_text(secret)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    repo_file = Path(grader.__file__).resolve().parent.parent / "pyproject.toml"
    submission = student(
        tmp_path,
        f"""
        import json, os, socket, sys
        from pathlib import Path

        found = {{"env": dict(os.environ), "connect": {{}}, "read": {{}}, "wrote": []}}
        for host in ("127.0.0.1", "1.1.1.1"):
            try:
                socket.create_connection((host, {port}), timeout=2).close()
                found["connect"][host] = "connected"
            except OSError as error:
                found["connect"][host] = repr(error)
        for path in ({str(canary)!r}, {str(repo_file)!r}, "/etc/shadow", "/root/.bash_history"):
            try:
                found["read"][path] = Path(path).read_text()
            except OSError as error:
                found["read"][path] = repr(error)
        found["environs"] = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                found["environs"].append(Path(f"/proc/{{pid}}/environ").read_text())
            except OSError:
                pass
        targets = [
            "/sandbox/submission", "/sandbox/input", "/", "/usr", "/etc", sys.prefix,
            {str(Path(grader.__file__).parent)!r}, {str(tmp_path)!r}, "/tmp", os.environ["HOME"],
            "/dev/shm", os.getcwd(),
        ]
        for folder in targets:
            try:
                Path(folder, "planted-{secret}").write_text("x")
                found["wrote"].append(folder)
            except OSError:
                pass
        found["uid"] = os.getuid()
        Path("findings.json").write_text(json.dumps(found))
        """,
    )
    before = {p: p.stat().st_mtime_ns for p in [*tmp_path.rglob("*"), *inputs.rglob("*")]}
    with listener:
        outcome = run(sandbox, inputs, submission, tmp_path / "out", HOSTILE)
        with pytest.raises(TimeoutError):
            listener.accept()
    found = findings(tmp_path / "out")

    assert "GRADER_TEST_CANARY" not in found["env"]
    assert not any(secret in environ for environ in found["environs"])
    assert set(found["env"]) <= {
        "PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "MPLCONFIGDIR", "PWD", "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED", "PYTHONUNBUFFERED", "WANDB_MODE", "WANDB_SILENT", "HYDRA_FULL_ERROR",
        "MPLBACKEND", "NO_COLOR", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
        # Set inside the sandbox by torch and Lightning, which the runner imports first.
        "TORCHINDUCTOR_CACHE_DIR", "PYTORCH_NVML_BASED_CUDA_CHECK",
    }  # fmt: skip
    assert found["env"]["PATH"] == "/usr/local/bin:/usr/bin:/bin"  # not the host's
    assert all(result != "connected" for result in found["connect"].values()), found["connect"]
    assert all(value.startswith(("FileNotFoundError", "PermissionError")) for value in found["read"].values())
    assert found["uid"] != 0
    # Writes succeed only in the output and the private tmpfs, which vanishes with the run.
    assert set(found["wrote"]) == {"/tmp", found["env"]["HOME"], "/dev/shm", "/sandbox/output"}
    host_places = ["/tmp", "/dev/shm", "/", "/usr", "/etc", sys.prefix, Path(grader.__file__).parent]
    assert not [p for p in host_places if Path(p, f"planted-{secret}").exists()]
    after = {p for p in [*tmp_path.rglob("*"), *inputs.rglob("*")] if p.name.startswith("planted")}
    assert after == {tmp_path / "out" / f"planted-{secret}"}
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in before.items() if p.exists())
    assert outcome.exit_code == 0, outcome.stderr


def test_fork_bomb_is_contained(sandbox, inputs, tmp_path):
    marker = f"300.{secrets.randbelow(10**6):06d}"
    submission = student(
        tmp_path,
        f"""
        import json, os
        forked, error = 0, None
        for _ in range(2000):
            try:
                pid = os.fork()
            except OSError as failure:
                error = failure.errno
                break
            if pid == 0:
                os.execv("/usr/bin/sleep", ["sleep", "{marker}"])
            forked += 1
        open("findings.json", "w").write(json.dumps({{"forked": forked, "errno": error}}))
        """,
    )
    limits = SandboxLimits(40, 2000, 1, 65536, max_processes=64)
    outcome = run(sandbox, inputs, submission, tmp_path / "out", limits)
    found = findings(tmp_path / "out")
    assert found["errno"] == 11  # EAGAIN: RLIMIT_NPROC
    assert found["forked"] < 64
    assert not outcome.timed_out
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]]
    assert leftovers == []


def test_file_size_is_limited(sandbox, inputs, tmp_path):
    submission = student(
        tmp_path,
        """
        import json
        found = {}
        for path in ("big.bin", "/tmp/big.bin"):
            written = 0
            try:
                with open(path, "wb") as handle:
                    for _ in range(4096):  # up to 4 GB
                        handle.write(b"x" * 2**20)
                        written += 1
            except OSError as error:
                found[path] = [written, error.errno]
        open("findings.json", "w").write(json.dumps(found))
        """,
    )
    limits = SandboxLimits(40, 2000, 1, 65536, max_file_mb=8)
    run(sandbox, inputs, submission, tmp_path / "out", limits)
    found = findings(tmp_path / "out")
    assert found["big.bin"] == [8, 27]  # EFBIG at RLIMIT_FSIZE
    assert found["/tmp/big.bin"][0] <= 8  # RLIMIT_FSIZE or the tmpfs size, whichever is first
    assert (tmp_path / "out" / "big.bin").stat().st_size == 8 * 2**20


def test_memory_hog_is_stopped(sandbox, inputs, tmp_path):
    submission = student(
        tmp_path,
        """
        hoard = []
        for _ in range(100):  # up to 10 GB
            hoard.append(b"x" * (100 * 2**20))
        """,
    )
    limits = SandboxLimits(40, 1200, 1, 65536)
    outcome = run(sandbox, inputs, submission, tmp_path / "out", limits)
    assert outcome.out_of_memory
    assert not outcome.timed_out
    assert outcome.exit_code != 0


def test_missing_bubblewrap_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    process._problem.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="not installed"):
            ProcessSandbox().check()
        request = SandboxRequest(tmp_path, tmp_path, tmp_path, b"", HOSTILE)
        with pytest.raises(SandboxUnavailable, match="not installed"):
            ProcessSandbox().run(request)
    finally:
        process._problem.cache_clear()  # the next test probes the real PATH again


def test_auto_takes_process_where_it_runs_warm(sandbox):
    if not sandbox.runs_like_docker():
        pytest.skip("needs cgroups of each run's own (root and cgroup v1 here)")
    assert open_sandbox("auto").name == "process"


def test_auto_takes_docker_where_process_would_not_run_warm(monkeypatch):
    try:
        open_sandbox("docker")
    except SandboxUnavailable as error:
        pytest.skip(f"no Docker here: {error}")
    monkeypatch.setattr(process, "_cgroups_problem", lambda: "no writable cgroup here")
    assert open_sandbox("auto").name == "docker"


def test_a_run_as_root_has_a_cpu_quota_of_its_threads_and_leaves_no_cgroup(sandbox, inputs, tmp_path):
    """What the quota does to a greedy run is measured by tests/test_hostile.py (`cpu_hog.py`)."""
    if not sandbox.runs_like_docker():
        pytest.skip("needs cgroups of each run's own (root and cgroup v1 here)")
    memory, cpu = cgroups.cgroup_folders_of("self")  # cgroup v1: this machine's
    own = {"memory": memory, "cpu": cpu}
    seen: dict[str, str] = {}
    done = threading.Event()

    def watch() -> None:  # the run's cgroups, as the host sees them while it lasts
        while not done.wait(0.05):
            for controller, setting in (("cpu", "cpu.cfs_quota_us"), ("memory", "memory.limit_in_bytes")):
                for folder in own[controller].glob(f"grader-{os.getpid()}-*"):
                    with contextlib.suppress(OSError):
                        seen[controller] = (folder / setting).read_text().strip()

    watcher = threading.Thread(target=watch)
    watcher.start()
    limits = SandboxLimits(wall_seconds=40, memory_mb=1500, threads=1, output_bytes=65536)
    try:
        outcome = run(
            sandbox, inputs, student(tmp_path, "import time; time.sleep(2)"), tmp_path / "out", limits
        )
    finally:
        done.set()
        watcher.join()
    assert outcome.exit_code is not None
    assert seen["cpu"] == str(cgroups.CPU_PERIOD_US)  # one thread: one core's worth per period
    # The memory limit: the run's, with headroom, plus its output's tmpfs where the host mounts one.
    assert int(seen["memory"]) in {
        process.cgroup_limit_mb(1500) * 2**20,
        (process.cgroup_limit_mb(1500) + limits.disk_mb) * 2**20,
    }
    for controller, folder in own.items():
        assert not [p.name for p in folder.iterdir() if p.name.startswith(f"grader-{os.getpid()}-")], (
            controller
        )


def test_cgroups_a_killed_grader_left_are_removed(sandbox):
    if not sandbox.runs_like_docker():
        pytest.skip("needs cgroups of each run's own (root and cgroup v1 here)")
    gone = psutil.Popen(["true"])  # a pid that no longer runs
    gone.wait()
    own = cgroups.cgroup_folders_of("self")
    stale = {folder: folder / f"grader-{gone.pid}-1" for folder in own}
    live = {folder: folder / f"grader-{os.getpid()}-1" for folder in own}
    for folder in [*stale.values(), *live.values()]:
        folder.mkdir()
    try:
        cgroups.remove_stale_run_cgroups()
        assert [folder for folder in stale.values() if folder.exists()] == []
        assert all(folder.exists() for folder in live.values())  # this grader's own stay
    finally:
        for folder in [*stale.values(), *live.values()]:
            with contextlib.suppress(OSError):
                folder.rmdir()
