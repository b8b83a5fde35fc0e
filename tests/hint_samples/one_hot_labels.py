"""Raises the `label-probabilities` hint: one-hot labels of an integer dtype."""

import torch
import torch.nn.functional as F

if __name__ == "__main__":
    logits = torch.randn(64, 10, requires_grad=True)
    labels = torch.randint(0, 10, (64,))
    F.cross_entropy(logits, F.one_hot(labels, 10))
