"""Raises the `shapes` hint: a convolution's 4-D output goes to `nn.Linear` unflattened."""

import torch
from torch import nn


class MyAwesomeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.fc = nn.Linear(8 * 26 * 26, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)))


if __name__ == "__main__":
    MyAwesomeModel()(torch.zeros(64, 1, 28, 28))
