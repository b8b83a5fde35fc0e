"""Hostile sample: writes its own `report.json`, signed with a guessed key, and leaves.

The constructor builds a perfect runner report with the grader's own contract classes
(stage `done`, every probe passed, a completed fit, a prediction for every test digit),
signs it with a key it made up, writes it where the runner writes its report, and exits
with code 0. Expected: the signature does not match the host's secret nonce, the report
is refused, the run is `crashed`, and only the static source check earns points.
"""

import glob
import os

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


def forged_report() -> str:
    from grader.contract import FitRecord, RunReport, SignedReport, StepProbe, signature

    test_images = glob.glob("/*/test_x.npy") + glob.glob("/*/*/test_x.npy")
    count = len(np.load(test_images[0])) if test_images else 1000
    perfect_probe = StepProbe(
        defined=True, ok=True, loss_is_scalar=True, loss_requires_grad=True, logged=["train_loss", "val_loss"]
    )
    report = RunReport(
        stage="done",
        training_step=perfect_probe,
        validation_step=perfect_probe,
        fit=FitRecord(completed=True, epochs_run=3, train_losses=[2.0 - i / 20 for i in range(20)]),
        predictions=[1] * count,
    )
    report.configure_optimizers.ok = True
    payload = report.model_dump_json()
    return SignedReport(payload=payload, signature=signature(payload, "guessed-nonce")).model_dump_json()


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        with open("report.json", "w") as handle:
            handle.write(forged_report())
        os._exit(0)  # hostile: the forged file is the last word

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
