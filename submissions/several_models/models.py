import torch
from pytorch_lightning import LightningModule
from torch import nn


class BaseClassifier(LightningModule):
    """Shared steps; subclasses define self.net."""

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
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class LinearBaseline(BaseClassifier):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


class MyAwesomeModel(BaseClassifier):
    def __init__(self, channels: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(channels * 13 * 13, 10),
        )
