"""Hostile sample: reports a falling loss that the model never had.

`training_step` returns `0 *` the real loss plus a made-up number that falls with every step,
and logs it; `validation_step` logs a made-up `val_loss` that falls with every epoch. The
weights never move (a zero gradient), so the model stays at chance. Expected: the grader's own
loss, measured at the weights the fit started from and the trained ones, does not fall, and the
`val_loss` the checkpoint and early stopping saw is not the checkpoint's measured loss: those
three criteria earn nothing, and the feedback says the logged loss disagrees with the measured one.
"""

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.steps = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        real = nn.functional.cross_entropy(self(images), labels)
        self.steps += 1
        made_up = torch.tensor(2.1 * 0.95**self.steps)  # hostile: a loss that falls by itself
        loss = 0 * real + made_up
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(1.5 * 0.5 ** (self.current_epoch + 1)))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
