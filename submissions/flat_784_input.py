import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn


class MyAwesomeModel(LightningModule):
    """MLP on flattened images: expects (N, 784), as produced by our make_dataset.py."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)
        self.dropout = nn.Dropout(p=0.2)

    def forward(self, x):
        x = self.dropout(torch.relu(self.fc1(x)))
        x = self.dropout(torch.relu(self.fc2(x)))
        return torch.log_softmax(self.fc3(x), dim=1)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = nn.functional.nll_loss(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        self.log("val_loss", nn.functional.nll_loss(self(images), labels))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.003)


callbacks = [ModelCheckpoint(monitor="val_loss", mode="min"), EarlyStopping(monitor="val_loss", mode="min")]


if __name__ == "__main__":
    from lightning.pytorch import Trainer

    from data import flat_loaders  # our make_dataset.py output, flattened to (N, 784)

    train_loader, val_loader = flat_loaders("data/processed")
    Trainer(max_epochs=5, callbacks=callbacks).fit(MyAwesomeModel(), train_loader, val_loader)
