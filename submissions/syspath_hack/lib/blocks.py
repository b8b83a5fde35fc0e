"""Reusable building blocks (shared between my exercises)."""

from torch import nn


def conv_block(in_ch, out_ch):
    """3x3 conv -> ReLU -> 2x2 max pool (halves the spatial size)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )
