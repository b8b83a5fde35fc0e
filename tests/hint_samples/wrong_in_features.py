"""Raises the `shapes` hint: flattened, but the `nn.Linear` expects another number of features."""

import torch
from torch import nn

model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(128, 10))

if __name__ == "__main__":
    model(torch.zeros(64, 1, 28, 28))
