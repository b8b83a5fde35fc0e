"""Where the project's shipped folders and the user's caches live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal


def project_dir() -> Path:
    """The checkout holding `rubrics/`, `reference/` and `gradescope/` (`GRADER_PROJECT_DIR`
    names another); for an installed package, the folder it is installed in."""
    return Path(os.environ.get("GRADER_PROJECT_DIR", Path(__file__).resolve().parent.parent))


def shipped_dir(name: Literal["rubrics", "reference", "gradescope"]) -> Path:
    """One of the project's data folders: the checkout's, else the copy a non-editable
    install put inside the package (`setup.py`)."""
    checkout = project_dir() / name
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "_shipped" / name


def default_data_dir() -> Path:
    """torchvision's MNIST cache: `GRADER_DATA_DIR`, else inside the cache."""
    return Path(os.environ.get("GRADER_DATA_DIR", cache_dir() / "data"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("GRADER_CACHE_DIR", Path(base) / "lightning-grader"))


def write_atomically(path: Path, text: str) -> None:
    """`text` in `path`, written owner-only (`mkstemp`'s 0600) beside it and renamed over it:
    a reader, such as a self-check started at the same moment, never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
