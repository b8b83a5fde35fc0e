import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from digits.lightning import MyAwesomeModel


def get_dataloaders(batch_size: int = 64):
    train_set = TensorDataset(
        torch.load("data/processed/train_images.pt").unsqueeze(1),
        torch.load("data/processed/train_target.pt"),
    )
    test_set = TensorDataset(
        torch.load("data/processed/test_images.pt").unsqueeze(1),
        torch.load("data/processed/test_target.pt"),
    )
    return (
        DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=2),
        DataLoader(test_set, batch_size=batch_size, num_workers=2),
    )


def main() -> None:
    train_loader, val_loader = get_dataloaders()
    model = MyAwesomeModel()
    trainer = pl.Trainer(
        accelerator="gpu",
        max_epochs=10,
        callbacks=[
            ModelCheckpoint(dirpath="models", monitor="val_loss", mode="min"),
            EarlyStopping(monitor="val_loss", patience=3),
        ],
    )
    trainer.fit(model, train_loader, val_loader)


if __name__ == "__main__":
    main()
