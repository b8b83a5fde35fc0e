import lightning as L
import torch
from torch import nn


class MyAwesomeModel(L.LightningModule):
    def __init__(self, criterion, lr=1e-3):
        super().__init__()
        # the loss function is passed in so I can try other losses from train.py
        self.criterion = criterion
        self.lr = lr
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.criterion(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = self.criterion(self(x), y)
        self.log("val_loss", loss)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
