import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from model import MyAwesomeModel


def main():
    # data was made by make_dataset.py (normalized, N x 28 x 28)
    train_images = torch.load("data/processed/train_images.pt").unsqueeze(1)
    train_target = torch.load("data/processed/train_target.pt")
    test_images = torch.load("data/processed/test_images.pt").unsqueeze(1)
    test_target = torch.load("data/processed/test_target.pt")

    train_loader = DataLoader(TensorDataset(train_images, train_target), batch_size=64, shuffle=True)
    val_loader = DataLoader(TensorDataset(test_images, test_target), batch_size=64)

    model = MyAwesomeModel(128, 10, 1e-3)

    trainer = Trainer(
        max_epochs=10,
        accelerator="gpu",
        callbacks=[ModelCheckpoint(monitor="val_loss", dirpath="models/"), EarlyStopping(monitor="val_loss", patience=3)],
    )
    trainer.fit(model, train_loader, val_loader)


if __name__ == "__main__":
    main()
