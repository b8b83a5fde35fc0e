import hydra
import torch
from lightning import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig

from mnist_project.model import MyAwesomeModel


@hydra.main(config_path="../../configs", config_name="config", version_base=None)
def train(cfg: DictConfig) -> None:
    torch.manual_seed(cfg.training.seed)
    train_set = torch.load("data/processed/train.pt")
    val_set = torch.load("data/processed/test.pt")
    model = MyAwesomeModel(cfg).cuda()
    trainer = Trainer(
        accelerator="gpu",
        max_epochs=cfg.training.epochs,
        logger=WandbLogger(project="mnist"),
        callbacks=[
            ModelCheckpoint(dirpath="models", monitor="val_loss", mode="min"),
            EarlyStopping(monitor="val_loss", patience=3, mode="min"),
        ],
    )
    trainer.fit(
        model,
        torch.utils.data.DataLoader(train_set, batch_size=cfg.training.batch_size, num_workers=4),
        torch.utils.data.DataLoader(val_set, batch_size=cfg.training.batch_size, num_workers=4),
    )


train()
