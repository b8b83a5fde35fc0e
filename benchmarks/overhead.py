"""How much grading adds to a submission's own fit.

Prints, per sandbox backend, the wall time of grading the reference solution next to the
wall time of a bare script that imports the same libraries and runs the same fit on the same
digits, and their ratio. Usage: python benchmarks/overhead.py [--backends none process docker]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader.host.grading import GradingContext, grade
from grader.host.prepare import digits_bundle, write_inputs
from grader.host.prepare.data import make_splits
from grader.host.prepare.discovery import Submission
from grader.paths import default_data_dir, shipped_dir
from grader.rubric import load_rubric
from grader.sandbox import SandboxUnavailable, open_sandbox

BARE_FIT = """
import sys, numpy as np, torch, lightning.pytorch as pl
sys.path.insert(0, sys.argv[2])
from model import MyAwesomeModel
from grader.contract import RunSpec
spec = RunSpec.model_validate_json(open(sys.argv[1] + "/spec.json").read()).fit
torch.set_num_threads(spec.threads)
digits = np.load(sys.argv[4])
load = lambda name: torch.from_numpy(digits[name])
norm = lambda x: ((x.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
pl.seed_everything(spec.seed, verbose=False)
g = torch.Generator().manual_seed(spec.seed)
ds = torch.utils.data.TensorDataset
train = torch.utils.data.DataLoader(ds(norm(load("train_x")), load("train_y").long()), spec.batch_size, shuffle=True, generator=g)
val = torch.utils.data.DataLoader(ds(norm(load("val_x")), load("val_y").long()), spec.batch_size)
trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=spec.max_epochs, deterministic=True, logger=False,
    enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=sys.argv[3],
    callbacks=[pl.callbacks.ModelCheckpoint(dirpath=sys.argv[3], monitor=spec.monitor),
               pl.callbacks.EarlyStopping(monitor=spec.monitor, patience=spec.patience)])
import time
started = time.perf_counter()
model = MyAwesomeModel()
trainer.fit(model, train, val)
model.eval()
with torch.no_grad():
    model(norm(load("test_x"))).argmax(1)
print(f"fit and predict: {time.perf_counter() - started}")
"""


def bare_fit_command(inputs: Path, reference: Path, scratch: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        BARE_FIT,
        str(inputs),
        str(reference),
        str(scratch),
        str(digits_bundle(inputs)),
    ]


def bare_fit_seconds(inputs: Path, reference: Path, scratch: Path) -> float:
    """A bare script's whole run: start, imports, fit, predict."""
    started = time.perf_counter()
    command = bare_fit_command(inputs, reference, scratch)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def side_by_side_fit_seconds(inputs: Path, reference: Path, scratch: Path, count: int) -> list[float]:
    """The fit and prediction alone (no start, no imports) of `count` bare scripts run at once."""
    scripts = [
        subprocess.Popen(
            bare_fit_command(inputs, reference, scratch / str(index)),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for index in range(count)
    ]
    return [float(script.communicate()[0].rsplit("fit and predict: ", 1)[1]) for script in scripts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["none", "process", "docker"])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rubric = load_rubric("m14")
    splits = make_splits(rubric.data, default_data_dir(), download=False)
    reference = shipped_dir("reference") / rubric.id
    console = Console()
    table = Table(title=f"Grading the reference vs a bare fit ({args.repeat} runs, median)")
    for column in ("backend", "bare fit s", "grading s", "ratio", "fit inside grading s"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for backend in args.backends:
            try:
                sandbox = open_sandbox(backend)
            except SandboxUnavailable as error:
                console.print(f"[yellow]{backend}: skipped[/] ({error})")
                continue
            inputs = write_inputs(rubric, splits, work / backend / "inputs")
            context = GradingContext(rubric, splits, sandbox, work / backend, inputs)
            bare, graded, fit = [], [], []
            for run in range(args.repeat):
                bare.append(bare_fit_seconds(context.inputs, reference, work / f"bare-{backend}-{run}"))
                started = time.perf_counter()
                result = grade(Submission("reference", reference), context)
                graded.append(time.perf_counter() - started)
                fit.append(result.timings.fit_seconds or 0.0)
                if result.status != "ok":
                    raise SystemExit(f"{backend}: the reference did not grade: {result.status_reason}")
            b, g = statistics.median(bare), statistics.median(graded)
            table.add_row(backend, f"{b:.1f}", f"{g:.1f}", f"{g / b:.2f}", f"{statistics.median(fit):.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
