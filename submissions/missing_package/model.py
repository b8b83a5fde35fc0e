import torch
import torchdrift
from lightning.pytorch import LightningModule
from torch import nn


class MyAwesomeModel(LightningModule):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 13 * 13, 10)
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x):
        x = self.conv(x)
        return self.fc(x.view(x.shape[0], -1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def drift_detector(model, reference_loader):
    """Kernel MMD drift detector on the conv features (for the M26 data drift exercise)."""
    feature_extractor = nn.Sequential(model.conv, nn.Flatten())
    detector = torchdrift.detectors.KernelMMDDriftDetector()
    torchdrift.utils.fit(reference_loader, feature_extractor, detector)
    return detector
