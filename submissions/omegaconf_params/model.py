import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class MyAwesomeModel(pl.LightningModule):
    def __init__(self, hidden, dropout, lr):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.drop = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(hidden, 10)
        self.lr = lr

    def forward(self, x):
        # flatten the images (batch, 1, 28, 28) -> (batch, 784)
        x = x.view(x.shape[0], -1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        out = self(images)
        loss = F.cross_entropy(out, labels)
        self.log("val_loss", loss)
        self.log("val_acc", (out.argmax(1) == labels).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
