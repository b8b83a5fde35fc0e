import torch

from mnist_classifier.models.model import MyAwesomeModel


def test_model_output_shape():
    assert MyAwesomeModel()(torch.randn(1, 1, 28, 28)).shape == (1, 10)
