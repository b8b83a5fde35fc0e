"""A disk budget the kernel enforces: the run's output folder is a tmpfs of `disk_mb`.

While the run lasts, the output folder is a tmpfs mounted over it by the host (it needs
root, as on CI machines and course servers), with `size=disk_mb` and a cap on its entries:
a write past the budget fails with `ENOSPC` in the student's own code, whatever its speed.
Afterwards what the run left (at most the budget) is copied into the ordinary folder
underneath and the tmpfs goes. Without root, `RunWatch`'s poll is the only guard.

tmpfs pages are memory: they count toward the memory cgroup of the process that writes
them, so the backends leave room for `disk_mb` on top of the run's memory limit where they
can (the `process` backend's cgroup); in Docker they count toward the container's limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from grader import tree

# Files and folders a run may create in its output; also what RunWatch allows.
MAX_ENTRIES = 10_000


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def bounded(folder: Path, disk_mb: int) -> Iterator[bool]:
    """Make `folder` a tmpfs of `disk_mb` for the run; True when the kernel enforces the budget."""
    if not can_mount():
        yield False
        return
    options = f"size={disk_mb}m,nr_inodes={MAX_ENTRIES + 16},mode=0755,nosuid,nodev"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "lightning-grader-output", str(folder)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        _unmount_keeping_content(folder)


def _unmount_keeping_content(folder: Path) -> None:
    kept = folder.with_name(f"{folder.name}.kept")
    tree.remove(kept)
    kept.mkdir()
    _copy(folder, kept)
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        # A process of the run still holds it (the sandbox kills them all first): detach it.
        subprocess.run(["umount", "--lazy", str(folder)], capture_output=True)
    for entry in kept.iterdir():
        os.replace(entry, folder / entry.name)
    kept.rmdir()


def _copy(source: Path, target: Path) -> None:
    """Folders and regular files, as deep as the host walks; symlinks and the rest stay behind."""
    for entry in tree.entries(source, too_deep="skip"):
        destination = target.joinpath(*entry.parts)
        with contextlib.suppress(OSError):  # a path too long to rebuild here is left behind
            if stat.S_ISDIR(entry.info.st_mode):
                destination.mkdir()
            elif stat.S_ISREG(entry.info.st_mode):
                fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=entry.dir_fd)
                with os.fdopen(fd, "rb") as reader, destination.open("wb") as writer:
                    shutil.copyfileobj(reader, writer, 2**20)
