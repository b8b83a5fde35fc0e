import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MyAwesomeModel(LightningModule):
    """Keeps its own data, as in the 'LightningModule holds everything' style."""

    def __init__(self, data_path="data/processed", batch_size=64):
        super().__init__()
        self.batch_size = batch_size
        train_images = torch.load(f"{data_path}/train_images.pt")
        train_target = torch.load(f"{data_path}/train_target.pt")
        test_images = torch.load(f"{data_path}/test_images.pt")
        test_target = torch.load(f"{data_path}/test_target.pt")
        self.trainset = TensorDataset(train_images.unsqueeze(1), train_target)
        self.testset = TensorDataset(test_images.unsqueeze(1), test_target)
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))

    def training_step(self, batch):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return {"loss": loss}

    def validation_step(self, batch):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def train_dataloader(self):
        return DataLoader(self.trainset, batch_size=self.batch_size, shuffle=True, num_workers=4)

    def val_dataloader(self):
        return DataLoader(self.testset, batch_size=self.batch_size, num_workers=4)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)
