import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from model import MyAwesomeModel

if __name__ == "__main__":
    train_set = TensorDataset(
        torch.load("data/processed/train_images.pt").unsqueeze(1), torch.load("data/processed/train_target.pt")
    )
    test_set = TensorDataset(
        torch.load("data/processed/test_images.pt").unsqueeze(1), torch.load("data/processed/test_target.pt")
    )
    model = MyAwesomeModel()
    trainer = Trainer(
        accelerator="gpu",
        max_epochs=10,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(model, DataLoader(train_set, batch_size=64, shuffle=True), DataLoader(test_set, batch_size=64))
