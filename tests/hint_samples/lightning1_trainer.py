"""Raises the `trainer-argument` hint: a Lightning 1 `Trainer` argument."""

from lightning.pytorch import Trainer

if __name__ == "__main__":
    Trainer(gpus=1, max_epochs=3)
