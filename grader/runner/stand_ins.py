"""Stand-ins for the data files a student's model loads itself, which the sandbox does not have.

Course models often load `data/processed/train_images.pt` in `__init__` or `setup`, wrap it
in a `TensorDataset`, split it and keep shuffled `DataLoader`s. Empty arrays would break
`random_split` and `shuffle=True`, so a missing file loads as real digits of the grader's
own training split, shaped like the course's files: images `(N, 28, 28)` (or `(N, 1, 28, 28)`)
as float, labels `(N,)` as int64, chosen by the file's or key's name. torchvision's MNIST
reads the same digits instead of downloading. The grader's loaders still replace the
module's own at fit time, so none of this decides what the model is trained on.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy
import torch
from torch.utils.data import TensorDataset

from grader.runner.data import Digits

IMAGE_SHAPES = ((28, 28), (1, 28, 28))
LABEL_WORDS = re.compile(r"(^|[^a-z])(y|labels?|targets?|classes)([^a-z]|$)")
IMAGE_WORDS = re.compile(r"(^|[^a-z])(x|images?|imgs?|data|inputs?|features)([^a-z]|$)")
# torchvision's MNIST sizes: students split them with absolute lengths, e.g. [55000, 5000].
MNIST_SIZES = {True: 60_000, False: 10_000}
MAX_LISTED = 5
PATCHED_MNIST_METHODS = ("_check_exists", "download", "_load_data")


class StandIns:
    """Which files were replaced, and the digits that replace them."""

    def __init__(self, digits: Digits) -> None:
        self.images = digits.train_x.reshape(-1, 28, 28)
        self.labels = digits.train_y
        self.raw = ((digits.train_x * 0.3081 + 0.1307) * 255).round().clamp(0, 255).to(torch.uint8)
        self.replaced: list[str] = []

    def note(self) -> list[str]:
        """For the feedback: what was stood in for."""
        if not self.replaced:
            return []
        files = ", ".join(sorted(set(self.replaced))[:MAX_LISTED])
        return [
            f"data your code loads is not in the sandbox ({files}); the grader's own training digits "
            "stood in for it, and the fit used the grader's data loaders"
        ]

    def tensor_for(self, name: str, image_shape: tuple[int, ...]) -> Any:
        """Labels or images by the name, and a whole dataset when the name says neither."""
        stem = Path(name).stem.lower()
        labels = self.labels.clone()
        images = self.images.reshape(-1, *image_shape).clone()
        if LABEL_WORDS.search(stem):
            return labels
        if IMAGE_WORDS.search(stem):
            return images
        return TensorDataset(self.images.reshape(-1, 1, 28, 28).clone(), labels)

    @contextlib.contextmanager
    def active(self, image_shape: tuple[int, ...]) -> Iterator[None]:
        """While active, missing files load as digits and torchvision's MNIST is local."""
        real_torch_load, real_numpy_load = torch.load, numpy.load

        def missing(file: Any) -> bool:
            return isinstance(file, str | os.PathLike) and not Path(file).exists()

        def torch_load(file: Any, *args: Any, **kwargs: Any) -> Any:
            if missing(file):
                self.replaced.append(os.fspath(file))
                return self.tensor_for(os.fspath(file), image_shape)
            return real_torch_load(file, *args, **kwargs)

        def numpy_load(file: Any, *args: Any, **kwargs: Any) -> Any:
            if not missing(file):
                return real_numpy_load(file, *args, **kwargs)
            self.replaced.append(os.fspath(file))
            if os.fspath(file).endswith(".npz"):
                return ArchiveStandIn(self, image_shape)
            return _as_numpy(self.tensor_for(os.fspath(file), image_shape))

        torch.load, numpy.load = torch_load, numpy_load
        try:
            with self._local_mnist():
                yield
        finally:
            torch.load, numpy.load = real_torch_load, real_numpy_load

    @contextlib.contextmanager
    def _local_mnist(self) -> Iterator[None]:
        """torchvision's MNIST (and its subclasses) built from the grader's digits, offline."""
        import sys

        datasets = sys.modules.get("torchvision.datasets")
        mnist = getattr(datasets, "MNIST", None)
        saved = {name: vars(mnist).get(name) for name in PATCHED_MNIST_METHODS} if mnist else {}
        if not saved or None in saved.values():  # another torchvision: leave it as it is
            yield
            return
        stand_ins = self

        def load_data(dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
            stand_ins.replaced.append(f"torchvision {type(dataset).__name__}({dataset.root!r})")
            size = MNIST_SIZES[bool(dataset.train)]
            repeats = -(-size // len(stand_ins.labels))
            return stand_ins.raw.repeat(repeats, 1, 1)[:size], stand_ins.labels.repeat(repeats)[:size]

        mnist._check_exists = lambda dataset: True
        mnist.download = lambda dataset: None
        mnist._load_data = load_data
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(mnist, name, value)


class ArchiveStandIn(Mapping):
    """A missing `.npz`: any key gives labels or images by its name (`images`, `labels`, …)."""

    def __init__(self, stand_ins: StandIns, image_shape: tuple[int, ...]) -> None:
        self.stand_ins, self.image_shape = stand_ins, image_shape

    def __getitem__(self, key: str) -> numpy.ndarray:
        value = self.stand_ins.tensor_for(str(key), self.image_shape)
        return _as_numpy(value if isinstance(value, torch.Tensor) else value.tensors[0])

    def __iter__(self) -> Iterator[str]:
        return iter(("images", "labels"))

    def __len__(self) -> int:
        return 2

    def __enter__(self) -> ArchiveStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


def _as_numpy(value: Any) -> Any:
    return value.numpy() if isinstance(value, torch.Tensor) else value


def first_that_builds(stand_ins: StandIns, build: Callable[[], Any]) -> tuple[Any, tuple[int, ...]]:
    """Build with image stand-ins shaped `(N, 28, 28)`, then `(N, 1, 28, 28)`.

    The second shape is tried only when the first build used a stand-in and raised.
    """
    error: BaseException | None = None
    for shape in IMAGE_SHAPES:
        before = len(stand_ins.replaced)
        try:
            with stand_ins.active(shape):
                return build(), shape
        except (Exception, SystemExit) as raised:
            error = error or raised
            if len(stand_ins.replaced) == before:
                break  # no stand-in was involved: another shape changes nothing
    raise error
