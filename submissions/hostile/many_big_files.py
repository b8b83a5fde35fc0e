"""Hostile sample: the constructor fills the working directory with many files, each under
the file-size limit.

A per-file size limit does not bound their sum: this writes three 400 MB files (1.2 GB)
into the only folder that comes back to the host, then trains normally. Expected: the
run's output stays within a total budget (the file-size limit), and nothing large stays
on the host after grading.
"""

import json

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

FILES, MEGABYTES = 3, 400


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            written = {}
            for index in range(FILES):  # hostile: 1.2 GB in 400 MB pieces
                path = f"hostile-part-{index}.bin"
                written[path] = 0
                try:
                    with open(path, "wb") as handle:
                        for _ in range(MEGABYTES):
                            handle.write(b"\0" * 2**20)
                            written[path] += 1
                except OSError:
                    pass
            with open("hostile-findings.json", "w") as handle:
                json.dump(written, handle)
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
