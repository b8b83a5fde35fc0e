import torch
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from model import MyAwesomeModel

if __name__ == "__main__":
    train_images = torch.load("data/processed/train_images.pt")
    train_target = torch.load("data/processed/train_target.pt")
    test_images = torch.load("data/processed/test_images.pt")
    test_target = torch.load("data/processed/test_target.pt")
    train_loader = DataLoader(TensorDataset(train_images, train_target), batch_size=32, shuffle=True)
    val_loader = DataLoader(TensorDataset(test_images, test_target), batch_size=32)

    model = MyAwesomeModel()
    checkpoint_callback = ModelCheckpoint(dirpath="./models", monitor="val_loss", mode="min")
    early_stopping_callback = EarlyStopping(monitor="val_loss", patience=3, verbose=True, mode="min")
    trainer = Trainer(
        max_epochs=10,
        limit_train_batches=0.2,
        callbacks=[checkpoint_callback, early_stopping_callback],
        logger=True,
    )
    trainer.fit(model, train_loader, val_loader)
