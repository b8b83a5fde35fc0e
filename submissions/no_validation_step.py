import torch
from pytorch_lightning import LightningModule, Trainer
from torch import nn


class MyAwesomeModel(LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10)
        )
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.fc(x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = self.criterion(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    train_set = torch.load("data/processed/train.pt")
    trainer = Trainer(max_epochs=5)
    trainer.fit(MyAwesomeModel(), torch.utils.data.DataLoader(train_set, batch_size=64))
