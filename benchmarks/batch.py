"""How long a class takes: `grade` on N copies of the reference against N bare fits.

Runs the README's command verbatim (`grade FOLDER --rubric m14`, the sandbox it picks and
its default number of workers) on N copies of the reference solution, then N bare scripts one
after another that import the same libraries and run the same fit (`overhead.py`'s), and
prints their ratio. A batch also measures the reference once, so a second batch of N/2
copies gives the cost of one more submission, from which a 300-student class is projected.

Beside the projection it prints the floor: as many bare fits side by side as `grade` runs
workers, timed without start-up or imports, per submission and for a 300-student class.
It also reports the memory of a warm runner: the largest resident size any zygote process
(`grader.runner.zygote`, the host's shared one or one inside a sandbox) reached.

With `--as-user NAME` (run as root) it instead grades the same N copies as root and as that
user, in the order root, user, user, root, and prints the mean of each and their ratio: what a
normal user's batch costs against root's on this machine (see `tests/unprivileged.py` for the
copy of this Python the user runs).

Usage: python benchmarks/batch.py [--copies 8] [--sandbox auto] [--as-user NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from overhead import bare_fit_seconds, side_by_side_fit_seconds
from rich.console import Console
from rich.table import Table

from grader.host.batch import plan_workers
from grader.host.prepare import write_inputs
from grader.host.prepare.data import make_splits
from grader.paths import default_data_dir, shipped_dir
from grader.rubric import load_rubric

CLASS_SIZE = 300
PROJECT = Path(__file__).resolve().parent.parent


class ZygoteMemory(threading.Thread):
    """The peak resident memory of any one zygote process while a batch runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for process in psutil.process_iter(["cmdline", "memory_info"]):
                if "grader.runner.zygote" in " ".join(process.info["cmdline"] or []):
                    self.peak_mb = max(self.peak_mb, process.info["memory_info"].rss / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--as-user", metavar="NAME", help="grade as root and as this user, and compare")
    args = parser.parse_args()
    if args.as_user:
        user_against_root(args.copies, args.sandbox, pwd.getpwnam(args.as_user).pw_uid)
        return
    rubric = load_rubric("m14")
    reference = shipped_dir("reference") / rubric.id
    grade = Path(sys.executable).parent / "grade"

    def batch_seconds(copies: int, work: Path) -> float:
        for index in range(copies):
            shutil.copytree(reference, work / "class" / f"student{index:03d}")
        out = work / "grades"
        command = [grade, work / "class", "--rubric", rubric.id, "--out", out, "--sandbox", args.sandbox]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    half = max(args.copies // 2, 1)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        memory = ZygoteMemory()
        memory.start()
        batch = batch_seconds(args.copies, work / "full")
        memory.done.set()
        smaller = batch_seconds(half, work / "half")
        splits = make_splits(rubric.data, default_data_dir(), download=False)
        inputs = write_inputs(rubric, splits, work / "inputs")
        bare = sum(
            bare_fit_seconds(inputs, reference, work / f"bare-{index}") for index in range(args.copies)
        )
        backend = json.loads(next((work / "full" / "grades" / "results").glob("*.json")).read_text())[
            "backend"
        ]
        # What the machine cannot beat: as many bare fits at once as grade runs workers, with
        # its threads each, timed without start-up or imports (the better of two rounds).
        workers, threaded = plan_workers(rubric, args.copies, None)
        floor_inputs = write_inputs(threaded, splits, work / "floor-inputs")
        floor = min(
            statistics.mean(side_by_side_fit_seconds(floor_inputs, reference, work / f"floor-{n}", workers))
            / workers
            for n in range(2)
        )
    title = (
        f"{args.copies} copies of the reference on {os.cpu_count()} cores "
        f"(sandbox: {args.sandbox} → {backend}, {workers} workers)"
    )
    table = Table(title=title)
    for column in (
        "grade s",
        "bare fits s",
        "ratio",
        "s per more submission",
        f"{CLASS_SIZE} submissions, min",
        f"fits alone: s per submission, min for {CLASS_SIZE}",
        "warm runner MB",
    ):
        table.add_column(column, justify="right")
    marginal = (batch - smaller) / max(args.copies - half, 1)
    table.add_row(
        f"{batch:.1f}",
        f"{bare:.1f}",
        f"{batch / bare:.2f}",
        f"{marginal:.1f}",
        f"{(batch + marginal * (CLASS_SIZE - args.copies)) / 60:.1f}",
        f"{floor:.2f}, {floor * CLASS_SIZE / 60:.1f}",
        f"{memory.peak_mb:.0f}",
    )
    Console(width=160).print(table)


def user_against_root(copies: int, sandbox: str, uid: int) -> None:
    sys.path.insert(0, str(PROJECT))  # the tests' helpers for running as another user
    from tests.unprivileged import as_user, installation_for_users, remove, user_folder

    folder = user_folder("lightning-grader-benchmark-")
    try:
        python, project = installation_for_users(folder)
        students = folder / "class"
        for index in range(copies):
            shutil.copytree(project / "reference" / "m14", students / f"student{index:03d}")
        subprocess.run(["chown", "-R", f"{uid}:{uid}", str(folder)], check=True)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        env["GRADER_PROJECT_DIR"] = str(project)
        env |= {name: os.environ[name] for name in ("GRADER_OFFLINE",) if name in os.environ}

        def batch(who: str, round_: int) -> float:
            out = folder / f"grades-{who}-{round_}"
            arguments = ["-m", "grader", str(students), "--rubric", "m14"]
            arguments += ["--out", str(out), "--sandbox", sandbox]
            home = folder / f"home-{who}"  # each its own cache of the reference's measurement
            home.mkdir(exist_ok=True)
            if who == "user":
                os.chown(home, uid, uid)
            settings = [*(f"{k}={v}" for k, v in env.items()), f"HOME={home}"]
            command = ["env", "-i", *settings, str(python), *arguments]
            started = time.perf_counter()
            if who == "root":
                ran = subprocess.run(command, capture_output=True, text=True, cwd=folder)
            else:
                ran = as_user(uid, command, capture_output=True, text=True, cwd=folder)
            seconds = time.perf_counter() - started
            if ran.returncode != 0:
                sys.exit(f"the {who} batch failed:\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}")
            results = [json.loads(path.read_text()) for path in (out / "results").glob("*.json")]
            assert len(results) == copies and all(r["status"] == "ok" for r in results), f"{who}: not all ok"
            return seconds

        timings: dict[str, list[float]] = {"root": [], "user": []}
        for round_, who in enumerate(("root", "user", "user", "root")):
            timings[who].append(batch(who, round_))
    finally:
        remove(folder)
    root, user = statistics.mean(timings["root"]), statistics.mean(timings["user"])
    table = Table(title=f"{copies} copies of the reference, --sandbox {sandbox}, {os.cpu_count()} cores")
    for column in ("root s (each)", "user s (each)", "user / root"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{root:.1f} ({', '.join(f'{t:.1f}' for t in timings['root'])})",
        f"{user:.1f} ({', '.join(f'{t:.1f}' for t in timings['user'])})",
        f"{user / root:.2f}",
    )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
