"""Copy a submission into a private folder the sandbox may read, whatever form it came in.

The sandbox sees only this copy: never the original folder, never another student's work.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "env",
    ".env",
    "__pycache__",
    ".ipynb_checkpoints",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".idea",
    ".vscode",
    "data",
    "datasets",
    "models",
    "checkpoints",
    "lightning_logs",
    "wandb",
    "outputs",
    "multirun",
    "mlruns",
    "reports",
    "dist",
    "build",
    ".dvc",
}
SOURCE_SUFFIXES = {".py", ".ipynb", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".json", ".txt"}
MAX_FILE_BYTES = 2 * 2**20
MAX_FILES = 2000


class StagingError(Exception):
    """The submission cannot be graded in the form it was handed in."""


@dataclass
class Staged:
    folder: Path
    notes: list[str] = field(default_factory=list)


def stage(source: Path, destination: Path) -> Staged:
    """Copy `source` (a .py, a notebook, or a project folder) into `destination`."""
    destination.mkdir(parents=True)
    staged = Staged(destination)
    if source.is_dir():
        _copy_tree(source, destination, staged)
    elif source.suffix == ".py":
        shutil.copyfile(source, destination / source.name)
    elif source.suffix == ".ipynb":
        (destination / f"{source.stem}.py").write_text(notebook_to_python(source), encoding="utf-8")
        staged.notes.append(f"notebook {source.name} was converted to {source.stem}.py")
    else:
        raise StagingError(f"{source.name}: unsupported submission type (use .py, .ipynb or a folder)")
    _convert_notebooks(destination, staged)
    if not any(destination.rglob("*.py")):
        raise StagingError("no Python source found in the submission")
    return staged


def notebook_to_python(notebook: Path) -> str:
    from nbconvert import PythonExporter

    try:
        source, _ = PythonExporter().from_filename(str(notebook))
    except (json.JSONDecodeError, ValueError, KeyError) as error:
        raise StagingError(f"{notebook.name} is not a readable notebook: {error}") from None
    return source


def _convert_notebooks(folder: Path, staged: Staged) -> None:
    """Notebooks inside a project are graded too, unless a .py of the same name exists."""
    for notebook in sorted(folder.rglob("*.ipynb")):
        target = notebook.with_suffix(".py")
        if not target.exists():
            target.write_text(notebook_to_python(notebook), encoding="utf-8")
            staged.notes.append(f"notebook {notebook.relative_to(folder)} was converted to Python")
        notebook.unlink()


def _copy_tree(source: Path, destination: Path, staged: Staged) -> None:
    copied = 0
    skipped: set[str] = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if SKIPPED_DIRS.intersection(relative.parts[:-1] if path.is_file() else relative.parts):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        if path.suffix not in SOURCE_SUFFIXES or path.stat().st_size > MAX_FILE_BYTES:
            skipped.add(path.suffix or path.name)
            continue
        copied += 1
        if copied > MAX_FILES:
            raise StagingError(f"more than {MAX_FILES} source files; is this a virtual environment?")
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    if skipped:
        staged.notes.append(f"not copied for grading: {', '.join(sorted(skipped))} files")
