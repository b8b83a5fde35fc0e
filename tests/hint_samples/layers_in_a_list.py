"""Raises the `no-parameters` hint: the layers kept in a Python list, which `parameters()` skips."""

import torch
from torch import nn


class MyAwesomeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Flatten(), nn.Linear(784, 10)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    MyAwesomeModel().configure_optimizers()
