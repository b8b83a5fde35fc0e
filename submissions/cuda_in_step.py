"""MNIST classifier as a LightningModule (M14)."""

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MyAwesomeModel(L.LightningModule):
    def __init__(self, lr=1e-3):
        super().__init__()
        self.lr = lr
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 13 * 13, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        return self.fc1(torch.flatten(x, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        # make sure the data is on the gpu
        x = x.to("cuda")
        y = y.cuda()
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        x = x.to("cuda")
        y = y.cuda()
        loss = F.cross_entropy(self(x), y)
        self.log("val_loss", loss)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


if __name__ == "__main__":
    train_set = TensorDataset(
        torch.load("data/processed/train_images.pt").unsqueeze(1), torch.load("data/processed/train_target.pt")
    )
    test_set = TensorDataset(
        torch.load("data/processed/test_images.pt").unsqueeze(1), torch.load("data/processed/test_target.pt")
    )
    model = MyAwesomeModel()
    trainer = L.Trainer(
        accelerator="gpu",
        max_epochs=10,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(model, DataLoader(train_set, batch_size=64, shuffle=True), DataLoader(test_set, batch_size=64))
