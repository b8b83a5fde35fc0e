import torch
from lightning import LightningModule
from omegaconf import DictConfig
from torch import nn

from .layers import conv_block


class MyAwesomeModel(LightningModule):
    """CNN whose shape comes from the Hydra config (configs/model/cnn.yaml)."""

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.save_hyperparameters(cfg)
        c1, c2 = cfg.model.channels
        self.features = nn.Sequential(conv_block(1, c1), conv_block(c1, c2))
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(cfg.model.dropout), nn.Linear(c2 * 7 * 7, cfg.model.hidden),
            nn.ReLU(), nn.Linear(cfg.model.hidden, 10),
        )
        self.lr = cfg.model.lr
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def training_step(self, batch, batch_idx):
        img, target = batch
        loss = self.loss_fn(self(img), target)
        self.log("train_loss", loss, on_epoch=True)
        self.logger.experiment.log({"logits": 0})  # wandb run object
        return loss

    def validation_step(self, batch, batch_idx):
        img, target = batch
        preds = self(img)
        self.log("val_loss", self.loss_fn(preds, target))
        self.log("val_accuracy", (preds.argmax(1) == target).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
