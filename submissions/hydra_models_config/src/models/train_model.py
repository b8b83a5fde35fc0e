import logging

import hydra
import torch
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from src.models.model import MyAwesomeModel

log = logging.getLogger(__name__)


@hydra.main(config_path="config", config_name="default_config.yaml", version_base=None)
def train(config):
    log.info(f"configuration: \n {config}")
    hparams = config.hyperparameters
    torch.manual_seed(hparams.seed)

    train_set = TensorDataset(
        torch.load(f"{hydra.utils.get_original_cwd()}/data/processed/train_images.pt").unsqueeze(1),
        torch.load(f"{hydra.utils.get_original_cwd()}/data/processed/train_target.pt"),
    )
    test_set = TensorDataset(
        torch.load(f"{hydra.utils.get_original_cwd()}/data/processed/test_images.pt").unsqueeze(1),
        torch.load(f"{hydra.utils.get_original_cwd()}/data/processed/test_target.pt"),
    )

    model = MyAwesomeModel(config)
    trainer = Trainer(
        max_epochs=hparams.epochs,
        accelerator="gpu",
        callbacks=[
            ModelCheckpoint(dirpath="models", monitor="val_loss", mode="min"),
            EarlyStopping(monitor="val_loss", patience=3, mode="min"),
        ],
    )
    trainer.fit(
        model,
        DataLoader(train_set, batch_size=hparams.batch_size, shuffle=True),
        DataLoader(test_set, batch_size=hparams.batch_size),
    )


if __name__ == "__main__":
    train()
