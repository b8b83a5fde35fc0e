"""The host's digits as tensors, in the input layout the model accepts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from grader.contract import FitSettings, InputLayout

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
SHAPES: dict[str, tuple[int, ...]] = {
    "N,1,28,28": (1, 28, 28),
    "N,28,28": (28, 28),
    "N,784": (784,),
}


def _images(array: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(array).float() / 255.0 - MNIST_MEAN) / MNIST_STD


@dataclass
class Digits:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor  # empty for the training worker, which never sees held-out images

    @staticmethod
    def shaped(images: torch.Tensor, layout: InputLayout) -> torch.Tensor:
        return images.reshape(len(images), *SHAPES[layout])

    def train_batch(self, layout: InputLayout, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.shaped(self.train_x[:size], layout), self.train_y[:size]

    def val_batch(self, layout: InputLayout, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.shaped(self.val_x[:size], layout), self.val_y[:size]

    def test_images(self, layout: InputLayout) -> torch.Tensor:
        return self.shaped(self.test_x, layout)

    def loaders(self, layout: InputLayout, settings: FitSettings) -> tuple[DataLoader, DataLoader]:
        generator = torch.Generator().manual_seed(settings.seed)
        train = TensorDataset(self.shaped(self.train_x, layout), self.train_y)
        val = TensorDataset(self.shaped(self.val_x, layout), self.val_y)
        return (
            DataLoader(train, batch_size=settings.batch_size, shuffle=True, generator=generator),
            DataLoader(val, batch_size=settings.batch_size),
        )


def load(work: Path) -> Digits:
    """The training worker's digits, as the supervisor unpacked them. No held-out images."""

    def array(name: str) -> np.ndarray:
        return np.load(work / f"{name}.npy", allow_pickle=False)

    return Digits(
        train_x=_images(array("train_x")),
        train_y=torch.from_numpy(array("train_y")).long(),
        val_x=_images(array("val_x")),
        val_y=torch.from_numpy(array("val_y")).long(),
        test_x=torch.empty(0, 28, 28),
    )


def measuring(test_images: np.ndarray, val_images: np.ndarray, val_labels: np.ndarray) -> Digits:
    """The predicting worker's digits: the held-out images without labels, and the validation
    digits, which the training worker had too (they stand in for data a constructor loads)."""
    val_x, val_y = _images(val_images), torch.from_numpy(val_labels).long()
    return Digits(train_x=val_x, train_y=val_y, val_x=val_x, val_y=val_y, test_x=_images(test_images))
