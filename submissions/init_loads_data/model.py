import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split


class MyAwesomeModel(pl.LightningModule):
    """Model + data in one class (the data is loaded once when the model is created)"""

    def __init__(self):
        super().__init__()
        # --- data ---
        images = torch.load("data/processed/train_images.pt")
        targets = torch.load("data/processed/train_target.pt")
        images = images.unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
        dataset = TensorDataset(images, targets)
        train_set, val_set = random_split(dataset, [0.8, 0.2])
        self.train_loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=4)
        self.val_loader = DataLoader(val_set, batch_size=64, shuffle=True, num_workers=4)

        # --- network ---
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 13 * 13, 10)
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("val_loss", loss)

    def train_dataloader(self):
        return self.train_loader

    def val_dataloader(self):
        return self.val_loader

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)
