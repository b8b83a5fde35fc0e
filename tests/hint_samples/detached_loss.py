"""Raises the `no-gradient` hint: the loss computed under `torch.no_grad()`."""

import torch
import torch.nn.functional as F
from _fitting import SmallModel, fit


class MyAwesomeModel(SmallModel):
    def training_step(self, batch, batch_idx):
        x, y = batch
        with torch.no_grad():
            return F.cross_entropy(self(x), y)


if __name__ == "__main__":
    fit(MyAwesomeModel())
