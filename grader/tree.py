"""Folder walks that survive any tree student code can make.

A run may nest folders thousands deep: past Python's recursion limit (`os.walk`, `rglob` and
`shutil.rmtree` recurse) and past the kernel's PATH_MAX (a full path can no longer be opened).
These walks never recurse and never build a path: they open each folder relative to its
parent's descriptor. Reading stops at `MAX_DEPTH`; removing has no depth limit.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_DEPTH = 64  # far below what any honest checkout or run needs
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class TooDeep(Exception):
    """The tree nests folders deeper than `MAX_DEPTH`."""


@dataclass(frozen=True)
class Entry:
    parts: tuple[str, ...]  # the path below the walked folder
    info: os.stat_result  # of the entry itself, never of a symlink's target
    dir_fd: int  # its folder, open while the entry is yielded: use it with `dir_fd=`

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def size(self) -> int:
        return self.info.st_size

    def read_bytes(self) -> bytes:
        fd = os.open(self.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.dir_fd)
        with os.fdopen(fd, "rb") as file:
            return file.read()


def _entries(fd: int) -> list[os.DirEntry]:
    with os.scandir(fd) as entries:
        return list(entries)


def entries(folder: Path, too_deep: str = "raise") -> Iterator[Entry]:
    """Every entry below `folder`: files, folders (before their content) and symlinks, which
    are never followed. Past `MAX_DEPTH` levels: raise `TooDeep`, or with `too_deep="skip"`
    leave the deeper folders unread."""
    try:
        root = os.open(folder, _DIRECTORY)
    except OSError:
        return
    stack = [(root, (), _entries(root))]
    try:
        while stack:
            fd, parts, pending = stack[-1]
            if not pending:
                os.close(fd)
                stack.pop()
                continue
            entry = pending.pop()
            with contextlib.suppress(OSError):  # gone since the folder was read
                found = Entry((*parts, entry.name), entry.stat(follow_symlinks=False), fd)
                yield found
                if not stat.S_ISDIR(found.info.st_mode):
                    continue
                if len(stack) >= MAX_DEPTH:
                    if too_deep == "skip":
                        continue
                    raise TooDeep(f"folders nest deeper than {MAX_DEPTH} levels")
                child = os.open(entry.name, _DIRECTORY, dir_fd=fd)
                stack.append((child, found.parts, _entries(child)))
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def files(folder: Path) -> Iterator[Entry]:
    """Every regular file below `folder`; raises `TooDeep` past `MAX_DEPTH` levels."""
    return (entry for entry in entries(folder) if stat.S_ISREG(entry.info.st_mode))


def remove(path: Path) -> None:
    """Remove a file or a whole tree, however deep, without following symlinks."""
    with contextlib.suppress(OSError):
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    while _remove_one_leaf(path):
        pass


def _remove_one_leaf(top: Path) -> bool:
    """Go down to a folder with no subfolders, empty it and remove it; False when `top` is gone.

    Holds two descriptors at a time, whatever the depth; each call starts again at `top`.
    """
    try:
        current = os.open(top, _DIRECTORY)
    except OSError:
        return False
    parent, name = None, None
    try:
        while True:
            subfolder = None
            for entry in _entries(current):
                if entry.is_dir(follow_symlinks=False):
                    subfolder = entry.name
                    break
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=current)
            if subfolder is None:
                break
            child = os.open(subfolder, _DIRECTORY, dir_fd=current)
            if parent is not None:
                os.close(parent)
            parent, name, current = current, subfolder, child
        if parent is None:
            os.rmdir(top)
            return False
        os.rmdir(name, dir_fd=parent)
        return True
    except OSError:
        return False
    finally:
        os.close(current)
        if parent is not None:
            os.close(parent)
