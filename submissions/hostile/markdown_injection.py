"""Hostile sample: student text that tries to be Markdown and HTML in the grader's feedback.

A working MNIST classifier whose texts are built to break out of the code spans and code
blocks the grader quotes them in: a backtick, then a remote image, a link, an autolink, a
bare URL, raw HTML, an entity, a workflow command. They reach the grader as the class's
name, the exception `training_step` raises (its message and its type's name), a top-level
statement that fails at import (a note), the metric names `validation_step` logs (instead
of `val_loss`) and the program's output. Expected: all of it shows as text, and the
rendered feedback has no link, image or HTML element of the student's.
"""

import contextlib
import sys

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

PAYLOAD = (
    "a` ![x](https://evil.example/a.png) [click](https://evil.example) "
    "<img src=x onerror=alert(1)> <https://evil.example/auto> www.evil.example &lt;b&gt; ::error::owned"
)


class Injected(Exception):
    pass


Injected.__name__ = "Injected`<img src=https://evil.example/kind.png>"


def fail_at_import() -> str:
    raise Injected(f"top level: {PAYLOAD}")


# Runs at import, because the class below needs it; it raises, and the grader notes it.
CONSTANT = fail_at_import()


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        with contextlib.suppress(NameError):  # it raised: that was the point
            self.constant = CONSTANT
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        print("```\n![out](https://evil.example/out.png)\n<script>alert(1)</script>\n``````")
        print("``\n[err](https://evil.example/err)", file=sys.stderr)
        raise Injected(PAYLOAD)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("m`![m](https://evil.example/m.png)", loss)
        self.log("<img src=https://evil.example/metric.png>", loss)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


# The name the grader reports; `__qualname__` stays, so its source can still be found.
MyAwesomeModel.__name__ = "MyAwesomeModel`![c](https://evil.example/c.png)"


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(MyAwesomeModel())
