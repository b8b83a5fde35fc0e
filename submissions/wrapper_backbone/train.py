import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from backbone import MyAwesomeModel
from lit_wrapper import LitClassifier

if __name__ == "__main__":
    train_data = TensorDataset(
        torch.load("data/processed/train_images.pt").unsqueeze(1), torch.load("data/processed/train_target.pt")
    )
    val_data = TensorDataset(
        torch.load("data/processed/test_images.pt").unsqueeze(1), torch.load("data/processed/test_target.pt")
    )

    lit_model = LitClassifier(MyAwesomeModel(), lr=1e-3)
    trainer = pl.Trainer(
        accelerator="gpu",
        max_epochs=10,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(lit_model, DataLoader(train_data, batch_size=64, shuffle=True), DataLoader(val_data, batch_size=64))
