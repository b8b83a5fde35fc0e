"""`grade --cluster` on a real Dask cluster, started from the dask CLI as an operator would: a
scheduler and two workers, each running the `process` sandbox."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.sandbox.cluster import pack, unpack
from tests.conftest import SAMPLES, read_csv, run_grade
from tests.test_samples import REPRESENTATIVE

distributed = pytest.importorskip("distributed")

START_SECONDS = 60


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen]


def _dask(*args: str, log: Path, scratch: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "dask"), *args]
    env = os.environ | {"TMPDIR": str(scratch)}
    return subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def _unmount_below(folder: Path) -> None:
    """A worker killed mid-run leaves its run's bounded output mounted (as root)."""
    for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
        target = line.split()[1]
        if target.startswith(f"{folder}/"):
            subprocess.run(["umount", "-l", target], check=False)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    scheduler_file, scratch = tmp_path / "scheduler.json", tmp_path / "scratch"
    scratch.mkdir()
    scheduler = ["scheduler", "--scheduler-file", str(scheduler_file), "--port", "0", "--no-dashboard"]
    processes = [_dask(*scheduler, log=tmp_path / "scheduler.log", scratch=scratch)]
    try:
        deadline = time.monotonic() + START_SECONDS
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = ["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        workers = [
            _dask(*worker, "--name", name, log=tmp_path / f"{name}.log", scratch=scratch)
            for name in ("w1", "w2")
        ]
        processes += workers
        with distributed.Client(address, timeout=START_SECONDS) as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
        yield Cluster(address, workers)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _unmount_below(scratch)


def kill_a_busy_worker(cluster: Cluster, done: threading.Event) -> list[str]:
    """Once both workers run a submission, kill one: its run must go to the other worker."""
    killed: list[str] = []
    with distributed.Client(cluster.address, timeout=START_SECONDS) as client:
        while not done.is_set():
            busy = [worker for worker, tasks in client.processing().items() if tasks]
            if len(busy) == 2:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(busy[0])
                return killed
            time.sleep(0.2)
    return killed


@pytest.mark.process
def test_a_dask_cluster_grades_like_a_local_run_even_when_a_worker_is_lost(
    cluster: Cluster, graded_samples: Path, tmp_path: Path
) -> None:
    folder, out = tmp_path / "submissions", tmp_path / "out"
    folder.mkdir()
    for name in REPRESENTATIVE:
        source = next(SAMPLES.glob(f"{name}*"))
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, folder / source.name)
    out.mkdir()
    shutil.copyfile(graded_samples / ".grader-secret", out / ".grader-secret")  # the same held-out digits

    done = threading.Event()
    killed: list[str] = []
    killer = threading.Thread(target=lambda: killed.extend(kill_a_busy_worker(cluster, done)))
    killer.start()
    try:
        completed = run_grade(
            folder, "--rubric", "m14", "--out", out, "--sandbox", "process", "--cluster", cluster.address
        )
    finally:
        done.set()
        killer.join()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert killed, "no worker was lost while both ran a submission"
    # One row per submission, equal to the local run's, although a worker died under one of them.
    local = read_csv(graded_samples / "grades.csv")
    assert read_csv(out / "grades.csv") == {name: local[name] for name in REPRESENTATIVE}
    assert "on the Dask cluster" in completed.stdout


def test_what_travels_between_host_and_worker_stays_in_its_folder(tmp_path: Path) -> None:
    """A run's output is the student's: links out of it and oversized files do not come back."""
    output = tmp_path / "output"
    (output / "checkpoints").mkdir(parents=True)
    (output / "checkpoints" / "best.ckpt").write_bytes(b"w" * 1000)
    (output / "report.json").write_text("{}")
    (output / "secrets").symlink_to("/etc/passwd")
    (output / "big.bin").write_bytes(b"x" * 5000)
    archive = pack(output, limit_bytes=3000)
    # A hostile archive too: a path out of the folder and an absolute one.
    buffer = io.BytesIO(archive)
    with tarfile.open(fileobj=buffer, mode="a") as extra:
        for name in ("../escaped.txt", "/tmp/absolute.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            extra.addfile(info, io.BytesIO(b"hi"))
    host = tmp_path / "host" / "output"
    unpack(buffer.getvalue(), host)
    found = sorted(p.relative_to(host).as_posix() for p in host.rglob("*"))
    assert "checkpoints/best.ckpt" in found and "report.json" in found
    assert (host / "checkpoints" / "best.ckpt").read_bytes() == b"w" * 1000
    assert "secrets" not in found  # a link out of the folder
    assert sum(p.stat().st_size for p in host.rglob("*") if p.is_file()) <= 3000
    assert not (tmp_path / "host" / "escaped.txt").exists()
    assert "tmp/absolute.txt" in found  # an absolute name lands inside the folder
