"""Train one run of the sweep: `wandb agent` sets the values, configs/train.yaml the defaults."""

import pytorch_lightning as pl
import torch
import wandb
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger

from model import MnistClassifier


def main():
    wandb.init(config="configs/train.yaml")
    config = wandb.config
    train = torch.utils.data.TensorDataset(torch.load("data/train_images.pt"), torch.load("data/train_targets.pt"))
    val = torch.utils.data.TensorDataset(torch.load("data/test_images.pt"), torch.load("data/test_targets.pt"))
    model = MnistClassifier(hidden_dim=config.hidden_dim, lr=config.lr, dropout=config.dropout)
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        logger=WandbLogger(),
        callbacks=[
            ModelCheckpoint(monitor="val_loss", mode="min", dirpath="models/"),
            EarlyStopping(monitor="val_loss", patience=2),
        ],
    )
    trainer.fit(
        model,
        torch.utils.data.DataLoader(train, batch_size=config.batch_size, shuffle=True),
        torch.utils.data.DataLoader(val, batch_size=config.batch_size),
    )


if __name__ == "__main__":
    main()
