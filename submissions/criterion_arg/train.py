import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from model import MyAwesomeModel


def main():
    train_set = TensorDataset(
        torch.load("data/processed/train_images.pt").unsqueeze(1), torch.load("data/processed/train_target.pt")
    )
    test_set = TensorDataset(
        torch.load("data/processed/test_images.pt").unsqueeze(1), torch.load("data/processed/test_target.pt")
    )

    criterion = nn.CrossEntropyLoss()
    model = MyAwesomeModel(criterion)

    trainer = L.Trainer(
        accelerator="gpu",
        max_epochs=10,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss", patience=3)],
    )
    trainer.fit(model, DataLoader(train_set, batch_size=64, shuffle=True), DataLoader(test_set, batch_size=64))


if __name__ == "__main__":
    main()
