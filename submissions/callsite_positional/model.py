import torch
from lightning.pytorch import LightningModule
from torch import nn


class MyAwesomeModel(LightningModule):
    """Small CNN for (corrupted) MNIST, hyperparameters are passed in from train.py"""

    def __init__(self, hidden_size, num_classes, lr):
        super().__init__()
        self.save_hyperparameters()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3),  # 28 -> 26
            nn.ReLU(),
            nn.MaxPool2d(2),  # 26 -> 13
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 13 * 13, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, num_classes),
        )
        self.lr = lr
        self.criterium = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.classifier(self.conv(x))

    def training_step(self, batch, batch_idx):
        data, target = batch
        preds = self(data)
        loss = self.criterium(preds, target)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        data, target = batch
        preds = self(data)
        loss = self.criterium(preds, target)
        acc = (preds.argmax(dim=1) == target).float().mean()
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_acc", acc)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
