import torch
from pytorch_lightning import LightningModule
from torch import nn


class MyAwesomeModel(LightningModule):
    """CNN for corrupted MNIST, configured through hydra (src/models/config)."""

    def __init__(self, cfg):
        super().__init__()
        hparams = cfg.hyperparameters
        self.lr = hparams.lr
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 13 * 13, hparams.hidden),
            nn.ReLU(),
            nn.Linear(hparams.hidden, 10),
        )
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.fc(self.conv(x))

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = self.criterion(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        output = self(images)
        loss = self.criterion(output, labels)
        self.log("val_loss", loss)
        self.log("val_acc", (output.argmax(dim=1) == labels).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
