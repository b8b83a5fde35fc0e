"""Copy a submission into a private folder the sandbox may read, whatever form it came in.

The sandbox sees only this copy: never the original folder, never another student's work.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import tree
from grader.host import budget
from grader.host.prepare import notebooks

# Tooling, environments and run artefacts: never part of what is graded.
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
    ".dvc",
    "site-packages",
    "lightning_logs",
    "wandb",
    "outputs",
    "multirun",
    "mlruns",
    "dist",
    "build",
}
# Folders that usually hold data or weights; only code and configs are taken from them
# (a Hydra config in `src/models/config/` is code).
DATA_DIRS = {"data", "datasets", "models", "checkpoints", "reports", "figures"}
CONFIG_SUFFIXES = {".yaml", ".yml", ".toml", ".cfg", ".ini"}
SOURCE_SUFFIXES = {".py", ".ipynb", ".json", ".txt", *CONFIG_SUFFIXES}
MAX_FILE_BYTES = 2 * 2**20
MAX_FILES = 2000
# A lone file handed in: a script like any other, a notebook with its outputs (plots).
MAX_SINGLE_FILE_BYTES = {".py": MAX_FILE_BYTES, ".ipynb": 20 * 2**20}
MAX_ARCHIVE_ENTRIES = 20_000
MAX_ARCHIVE_BYTES = 512 * 2**20
MAX_DEPTH = tree.MAX_DEPTH
MAX_RELATIVE_PATH = 1024
MAX_NAME_BYTES = 255  # one name on Linux file systems
ARCHIVE_NOISE = {"__MACOSX"}


class StagingError(Exception):
    """The submission cannot be graded in the form it was handed in."""


@dataclass
class Staged:
    folder: Path
    notes: list[str] = field(default_factory=list)
    # Converted notebook (.py path relative to folder) -> (notebook name, first line of each code cell)
    notebooks: dict[str, tuple[str, list[int]]] = field(default_factory=dict)

    def convert(self, notebook: Path, target: Path) -> None:
        """The notebook as Python, converted in a child under the submission's reading budget."""
        try:
            converted = budget.run(notebooks.to_python, notebook)
        except notebooks.NotebookError as error:
            raise StagingError(str(error)) from None
        except budget.OverBudget as over:
            raise StagingError(f"{notebook.name} could not be converted: {over}") from None
        target.write_text(converted.source, encoding="utf-8")
        # nbconvert writes "# In[ ]:" and two blank lines before each code cell.
        lines = converted.source.splitlines()
        starts = [n + 3 for n, line in enumerate(lines, 1) if line.startswith("# In[")]
        self.notebooks[target.relative_to(self.folder).as_posix()] = (notebook.name, starts)
        for note in (
            notebooks.too_large_note(notebook.name, converted),
            notebooks.neutralised_note(notebook.name, converted),
        ):
            if note:
                self.notes.append(note)

    def cell_of(self, file: str, line: int | None) -> tuple[str, int | None, int | None]:
        """(file, code cell, line) of a converted notebook's line in the notebook itself; any
        other file's location as it is."""
        if file not in self.notebooks:
            return file, None, line
        name, starts = self.notebooks[file]
        notebook = (PurePosixPath(file).parent / name).as_posix()
        cell = bisect.bisect_right(starts, line) if line else 0
        if cell == 0:
            return notebook, None, None
        return notebook, cell, line - starts[cell - 1] + 1

    def in_notebooks(self, text: str) -> str:
        """`lab.py:44` in a message becomes `lab.ipynb, code cell 5, line 1` for the student."""

        def replace(match: re.Match) -> str:
            name, starts = self.notebooks[match["file"]]
            cell = bisect.bisect_right(starts, int(match["line"]))
            if cell == 0:
                return f"{name} (outside any cell)"
            return f"{name}, code cell {cell}, line {int(match['line']) - starts[cell - 1] + 1}"

        if not self.notebooks:
            return text
        files = "|".join(re.escape(name) for name in self.notebooks)
        # A line number is at most nine digits: a longer one in a student's message is no line.
        return re.sub(rf"(?P<file>{files}):(?P<line>\d{{1,9}})(?!\d)", replace, text)


def stage(source: Path, destination: Path) -> Staged:
    """Copy `source` (a .py, a notebook, or a project folder) into `destination`."""
    destination.mkdir(parents=True)
    staged = Staged(destination)
    if source.is_dir():
        _copy_tree(source, destination, staged)
    elif source.suffix in (".py", ".ipynb") and source.stat().st_size > MAX_SINGLE_FILE_BYTES[source.suffix]:
        limit = MAX_SINGLE_FILE_BYTES[source.suffix] // 2**20
        raise StagingError(f"{source.name} is over {limit} MB, larger than any solution of this exercise")
    elif source.suffix == ".py":
        shutil.copyfile(source, destination / source.name)
    elif source.suffix == ".zip":
        with tempfile.TemporaryDirectory() as unpacked:
            _copy_tree(unpack(source, Path(unpacked)), destination, staged)
    elif source.suffix == ".ipynb":
        staged.convert(source, destination / f"{source.stem}.py")
        staged.notes.append(f"notebook {source.name} was converted to {source.stem}.py")
    else:
        raise StagingError(f"{source.name}: unsupported submission type (use .py, .ipynb, .zip or a folder)")
    _convert_notebooks(destination, staged)
    if not any(destination.rglob("*.py")):
        raise StagingError("no Python source found in the submission")
    return staged


def unpack(archive_path: Path, folder: Path) -> Path:
    """Unpack an LMS zip safely and return its project root.

    Refused: entries that escape the folder, links, and archives too large or too many files
    (zip bombs); sizes are counted while reading, not trusted from the headers.
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except zipfile.BadZipFile:
        raise StagingError(f"{archive_path.name} is not a readable zip archive") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            raise StagingError(f"{archive_path.name} has more than {MAX_ARCHIVE_ENTRIES} entries")
        budget = MAX_ARCHIVE_BYTES
        for entry in entries:
            name = entry.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                raise StagingError(
                    f"{archive_path.name}: entry {entry.filename!r} points outside the archive"
                )
            if stat.S_ISLNK(entry.external_attr >> 16):
                raise StagingError(f"{archive_path.name}: entry {entry.filename!r} is a link")
            if len(parts) > MAX_DEPTH or len(name) > MAX_RELATIVE_PATH:
                raise StagingError(f"{archive_path.name}: entries nest deeper than {MAX_DEPTH} folders")
            if entry.is_dir() or ARCHIVE_NOISE.intersection(parts):
                continue
            target = folder.joinpath(*map(_storable, parts))
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, target.open("wb") as sink:
                while chunk := source.read(2**20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise StagingError(
                            f"{archive_path.name} unpacks to more than {MAX_ARCHIVE_BYTES // 2**20} MB"
                        )
                    sink.write(chunk)
    children = [p for p in folder.iterdir() if p.name not in ARCHIVE_NOISE]
    # Most zips hold one folder named after the project.
    return children[0] if len(children) == 1 and children[0].is_dir() else folder


def _storable(name: str) -> str:
    """An entry's name as this file system stores it: a name over its 255 bytes (90 CJK characters
    made on Windows) is shortened, keeping its start and suffix, with a hash that keeps it unique."""
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    suffix = PurePosixPath(name).suffix if len(PurePosixPath(name).suffix) <= 16 else ""
    mark = "~" + hashlib.sha256(name.encode()).hexdigest()[:12]
    start = name[: len(name) - len(suffix)]
    while len((start + mark + suffix).encode()) > MAX_NAME_BYTES:
        start = start[:-1]
    return start + mark + suffix


def _convert_notebooks(folder: Path, staged: Staged) -> None:
    """Notebooks inside a project are graded too, unless a .py of the same name exists."""
    for notebook in sorted(folder.rglob("*.ipynb")):
        target = notebook.with_suffix(".py")
        if not target.exists():
            staged.convert(notebook, target)
            staged.notes.append(f"notebook {notebook.relative_to(folder)} was converted to Python")
        notebook.unlink()


def source_files(source: Path) -> Iterator[tuple[Path, Path]]:
    """(path, relative path) of the files graded from a project folder, in a stable order.

    Tooling and environment folders are pruned without being walked: a `.venv` can be huge.
    The walk never recurses, and refuses (`StagingError`) folders nested deeper than
    `MAX_DEPTH` or paths longer than `MAX_RELATIVE_PATH`: no checkout of this exercise has them.
    """
    pending = [PurePosixPath()]
    while pending:
        relative = pending.pop()
        if len(relative.parts) > MAX_DEPTH:
            raise StagingError(f"folders nest deeper than {MAX_DEPTH} levels")
        if len(str(relative)) > MAX_RELATIVE_PATH:
            raise StagingError(f"a path is longer than {MAX_RELATIVE_PATH} characters: {str(relative)[:60]}…")
        here = source.joinpath(relative)
        try:
            children = sorted(os.scandir(here), key=lambda entry: entry.name)
        except OSError:
            continue
        in_data_dir = bool(DATA_DIRS.intersection(relative.parts))
        subfolders = []
        for child in children:
            if child.is_symlink():
                continue
            if child.is_dir():
                if child.name not in SKIPPED_DIRS and not (here / child.name / "pyvenv.cfg").exists():
                    subfolders.append(relative / child.name)
                continue
            suffix = Path(child.name).suffix
            if suffix not in SOURCE_SUFFIXES:
                continue
            if in_data_dir and suffix != ".py" and suffix not in CONFIG_SUFFIXES:
                continue
            yield here / child.name, Path(relative, child.name)
        pending += reversed(subfolders)


def source_fingerprint(source: Path) -> str:
    """Changes whenever what would be graded changes; used to skip unchanged submissions.

    A folder that staging refuses gets the refusal's fingerprint: grading then says why.
    """
    digest = hashlib.sha256()
    try:
        if source.is_dir():
            for path, relative in source_files(source):
                digest.update(relative.as_posix().encode() + b"\0")
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:  # not graded: its size is all that counts
                    digest.update(f"not graded: {size}".encode())
                else:
                    for chunk in _chunks(path):
                        digest.update(chunk)
        else:
            for chunk in _chunks(source):
                digest.update(chunk)
    except (StagingError, OSError) as error:
        digest.update(f"unreadable: {error}".encode())
    return digest.hexdigest()[:24]


def _chunks(path: Path) -> Iterator[bytes]:
    """A file of any size, a MB at a time (a zip handed in may be gigabytes)."""
    with path.open("rb") as file:
        while chunk := file.read(2**20):
            yield chunk


def _copy_tree(source: Path, destination: Path, staged: Staged) -> None:
    copied = 0
    too_large = []
    for path, relative in source_files(source):
        if path.stat().st_size > MAX_FILE_BYTES:
            too_large.append(relative.as_posix())
            continue
        copied += 1
        if copied > MAX_FILES:
            raise StagingError(
                f"more than {MAX_FILES} source files; is a data set or an environment included?"
            )
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    if too_large:
        staged.notes.append(
            f"files over {MAX_FILE_BYTES // 2**20} MB were not graded: {', '.join(too_large[:5])}"
        )
