import os, sys

sys.path.append(os.path.join(os.path.dirname(__file__), "..", "lib"))

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from model import MyAwesomeModel

if __name__ == "__main__":
    images = torch.load("data/processed/train_images.pt").unsqueeze(1)
    labels = torch.load("data/processed/train_target.pt")
    val_images = torch.load("data/processed/test_images.pt").unsqueeze(1)
    val_labels = torch.load("data/processed/test_target.pt")

    model = MyAwesomeModel(lr=1e-3)
    trainer = L.Trainer(
        accelerator="gpu",
        max_epochs=8,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(
        model,
        DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(val_images, val_labels), batch_size=64),
    )
