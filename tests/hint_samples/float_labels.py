"""Raises the `label-dtype` hint: the labels turned into floats for `cross_entropy`."""

import torch
import torch.nn.functional as F

if __name__ == "__main__":
    logits = torch.randn(64, 10, requires_grad=True)
    labels = torch.randint(0, 10, (64,))
    F.cross_entropy(logits, labels.float())
