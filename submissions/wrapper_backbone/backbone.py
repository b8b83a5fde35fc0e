import pytorch_lightning as pl
from torch import nn


class MyAwesomeModel(pl.LightningModule):
    """Just the network. Training logic lives in lit_wrapper.LitClassifier."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(16 * 13 * 13, 10)

    def forward(self, x):
        x = self.features(x)
        return self.head(x.flatten(1))
