"""Train the reference model the way students are asked to in M14."""

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from model import MyAwesomeModel
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    train_set = TensorDataset(
        torch.load("data/processed/train_images.pt"), torch.load("data/processed/train_target.pt")
    )
    test_set = TensorDataset(
        torch.load("data/processed/test_images.pt"), torch.load("data/processed/test_target.pt")
    )
    checkpoint_callback = ModelCheckpoint(dirpath="./models", monitor="val_loss", mode="min", filename="best")
    early_stopping_callback = EarlyStopping(monitor="val_loss", patience=3, mode="min")
    trainer = Trainer(max_epochs=10, callbacks=[checkpoint_callback, early_stopping_callback])
    trainer.fit(
        MyAwesomeModel(),
        DataLoader(train_set, batch_size=64, shuffle=True),
        DataLoader(test_set, batch_size=64),
    )


if __name__ == "__main__":
    main()
