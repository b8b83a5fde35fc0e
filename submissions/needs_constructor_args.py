import argparse

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


class MyAwesomeModel(LightningModule):
    def __init__(self, lr, hidden_dim):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--hidden-dim", type=int, required=True)
    args = parser.parse_args()
    trainer = Trainer(callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")])
    trainer.fit(MyAwesomeModel(args.lr, args.hidden_dim))
