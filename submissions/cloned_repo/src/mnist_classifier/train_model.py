import click
import torch
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from mnist_classifier.models.model import MyAwesomeModel


@click.command()
@click.option("--lr", default=1e-3)
def train(lr: float) -> None:
    train_set = torch.utils.data.TensorDataset(
        torch.load("data/processed/train_images.pt"), torch.load("data/processed/train_target.pt")
    )
    checkpoint = ModelCheckpoint(dirpath="models/", monitor="val_loss", filename="{epoch}-{val_loss:.2f}")
    early_stopping = EarlyStopping(monitor="val_loss", patience=3, verbose=True)
    trainer = Trainer(max_epochs=20, callbacks=[checkpoint, early_stopping], log_every_n_steps=10)
    trainer.fit(MyAwesomeModel(lr), torch.utils.data.DataLoader(train_set, batch_size=64, num_workers=8))


if __name__ == "__main__":
    train()
