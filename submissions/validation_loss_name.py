"""Exercise M14 - Lightning version of my corruptmnist classifier."""

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MyAwesomeModel(L.LightningModule):
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.lr = lr
        self.model = nn.Sequential(
            nn.Conv2d(1, 16, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 13 * 13, 10),
        )
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.criterion(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        loss = self.criterion(y_hat, y)
        # I prefer the full name so it is clear in the wandb dashboard
        self.log("validation_loss", loss, prog_bar=True)
        self.log("validation_accuracy", (y_hat.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def get_loaders(batch_size=64):
    train = TensorDataset(
        torch.load("data/processed/train_images.pt").unsqueeze(1), torch.load("data/processed/train_target.pt")
    )
    test = TensorDataset(
        torch.load("data/processed/test_images.pt").unsqueeze(1), torch.load("data/processed/test_target.pt")
    )
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(test, batch_size=batch_size)


if __name__ == "__main__":
    train_loader, val_loader = get_loaders()
    model = MyAwesomeModel()
    trainer = L.Trainer(
        accelerator="gpu",
        max_epochs=10,
        callbacks=[
            ModelCheckpoint(monitor="validation_loss", mode="min"),
            EarlyStopping(monitor="validation_loss", patience=3),
        ],
    )
    trainer.fit(model, train_loader, val_loader)
