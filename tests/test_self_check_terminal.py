"""`grade --self-check` as a student sees it: run in a real pseudo-terminal of 80x24 and
120x50, its screen read back through a terminal emulator (pyte) once it exits. The score is on
the final screen's last lines, nothing scrolled off it, no line for instructors is on it, and
no word is folded at the edge; `--fail-under` decides the exit status.

Both runs share one reference training: the machine's secret, in the session's cache
(conftest's GRADER_CACHE_DIR), which the other self-checks of the suite use too."""

from __future__ import annotations

import fcntl
import itertools
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

from tests.conftest import SAMPLES
from tests.expected import EXPECTED

pytestmark = pytest.mark.slow

# What only an instructor's batch prints: the digits and their secret, the layout of a
# download, the reports written, the LMS exports.
INSTRUCTOR_ONLY = ("held-out digits", "secret", "Data:", "Layout:", "report(s)", "LMS:", "Roster:", "Wrote ")


def screen_after(
    arguments: list[str], columns: int, rows: int, folder: Path, timeout: float = 900
) -> tuple[list[str], int]:
    """The lines of a `columns` x `rows` terminal once `grade ARGUMENTS`, run in `folder`, has
    exited, and its status."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    environment["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", *arguments],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=folder,
        env=environment,
        start_new_session=True,
    )
    os.close(terminal)
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1)
            if not ready:
                continue
            try:
                output = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's last writer has exited
                break
            if not output:
                break
            stream.feed(output)
        else:
            process.kill()
            pytest.fail(f"grade did not finish in {timeout:g} s; on screen:\n" + "\n".join(screen.display))
    finally:
        os.close(controller)
    return [line.rstrip() for line in screen.display], process.wait(timeout=60)


def points(sample: str) -> float:
    return sum(EXPECTED[sample][0])


def check_the_screen(lines: list[str], columns: int, score: float) -> list[str]:
    """What every self-check screen must be; its non-blank lines."""
    text = "\n".join(lines)
    shown = [line for line in lines if line.strip()]
    # Its first line (a warning about the sandbox may come before) is still on the screen.
    first = next(i for i, line in enumerate(shown) if not line.startswith(("warning:", "note:", " ")))
    assert shown[first].startswith("Sandbox: "), f"the first lines scrolled off the screen:\n{text}"
    last = shown[-4:]  # with --fail-under its verdict is the last line
    assert any(f"Score: {score:g} / 100" in line for line in last), f"no score in the last lines:\n{text}"
    assert not [w for w in INSTRUCTOR_ONLY if w in text], text
    assert "Training" not in text  # the spinners leave nothing behind
    for line, following in itertools.pairwise(lines):
        folded = len(line) == columns and line[-1].isalnum() and following[:1].isalnum()
        assert not folded, f"a word folded at the edge:\n{line}\n{following}"
    return shown


@pytest.mark.parametrize(
    ("sample", "columns", "rows", "above", "status", "verdict"),
    [
        # Below --fail-under, at 80x24: exit 1.
        ("crash_in_training_step", 80, 24, 1, 1, "below"),
        # At --fail-under, at 120x50: exit 0.
        ("validation_loss_name", 120, 50, 0, 0, "at or above"),
    ],
)
def test_a_self_check_fits_the_terminal_and_exits_by_fail_under(
    tmp_path: Path, sample: str, columns: int, rows: int, above: float, status: int, verdict: str
) -> None:
    score = points(sample)
    bar = score + above
    # As a student runs it: in their own folder, the feedback into a folder there.
    arguments = [str(SAMPLES / f"{sample}.py"), "--self-check", "--out", "out"]
    lines, exited = screen_after([*arguments, "--fail-under", f"{bar:g}"], columns, rows, tmp_path)
    shown = check_the_screen(lines, columns, score)
    assert exited == status, "\n".join(lines)
    assert shown[-1] == f"{score:g} / 100 is {verdict} --fail-under {bar:g}: exit status {status}."
    assert (tmp_path / "out" / "feedback" / f"{sample}.md").is_file()  # the whole feedback, for later
