import hydra
import torch
from lightning import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig
from torch.utils.data import DataLoader, TensorDataset

from mnist_hydra.model import MyAwesomeModel


def load_split(data_dir: str, split: str) -> TensorDataset:
    images = torch.load(f"{data_dir}/{split}_images.pt")
    target = torch.load(f"{data_dir}/{split}_target.pt")
    return TensorDataset(images.unsqueeze(1), target)


@hydra.main(config_path="../../conf", config_name="config", version_base=None)
def train(cfg: DictConfig) -> None:
    torch.manual_seed(cfg.seed)
    train_loader = DataLoader(
        load_split(cfg.data_dir, "train"), batch_size=cfg.training.batch_size, shuffle=True, num_workers=4
    )
    val_loader = DataLoader(load_split(cfg.data_dir, "test"), batch_size=cfg.training.batch_size, num_workers=4)

    model = MyAwesomeModel(**cfg.model, lr=cfg.training.lr)

    trainer = Trainer(
        accelerator="gpu",
        max_epochs=cfg.training.epochs,
        callbacks=[
            ModelCheckpoint(dirpath="models", monitor="val_loss", mode="min"),
            EarlyStopping(monitor="val_loss", patience=3, mode="min"),
        ],
    )
    trainer.fit(model, train_loader, val_loader)


if __name__ == "__main__":
    train()
