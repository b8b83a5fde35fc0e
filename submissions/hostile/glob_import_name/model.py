"""Hostile sample: a failed import whose module name is a glob pattern, beside 62 nested folders.

`importlib.import_module("**/**/**/augment_plugin")` fails with `No module named
'**/**/**/augment_plugin'`. The host checks whether a missing module is the student's own
before it calls it a missing package; with the name as an `rglob` pattern, every way of
matching its three `**` over `plugins/p/.../p` (62 levels) took it 57 s. The model is
honest; it only refers to the plugin in a method the grader never calls.
Expected: the host compares the name literally, says the package is not installed, and
grades everything as usual.
"""

import importlib

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

augment_plugin = importlib.import_module("**/**/**/augment_plugin")  # hostile: a glob as a name


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return augment_plugin.augment(x)  # never called: it makes the import a statement the class needs

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
