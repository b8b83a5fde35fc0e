import lightning as L
import torch
from blocks import conv_block
from torch import nn


class MyAwesomeModel(L.LightningModule):
    def __init__(self, lr=1e-3):
        super().__init__()
        self.lr = lr
        self.features = conv_block(1, 16)  # 28x28 -> 14x14
        self.out = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = self.features(x)
        return self.out(x.flatten(1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("val_loss", loss)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
