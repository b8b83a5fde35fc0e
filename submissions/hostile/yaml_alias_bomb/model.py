"""Hostile sample: a Hydra project whose `conf/` holds a YAML alias bomb that no code reads.

`conf/callbacks_zoo.yaml` is 600 bytes: ten aliases of the level below on each of eight
levels, so walked alias by alias it holds 10^8 mappings, each a `_target_` callback. The
host scans every config for callbacks: walking each alias, six of those levels took it 3.6 s
and 1.1 million call sites, eight a hundred times that. The model and its trainer are
honest; its trainer is configured from `conf/config.yaml`.
Expected: the host walks each YAML node once (an alias is the node it names): the scan takes
milliseconds, and everything is graded as usual.
"""

import hydra
import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig
from torch import nn


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    model = MyAwesomeModel()
    trainer = pl.Trainer(
        max_epochs=cfg.epochs,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
    trainer.fit(model)


if __name__ == "__main__":
    main()
