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

Usage: python benchmarks/batch.py [--copies 8] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import json
import os
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
