"""The output's disk budget, enforced by the kernel where the host can mount (root)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from grader.sandbox import disk

pytestmark = pytest.mark.skipif(not disk.can_mount(), reason="mounting a tmpfs needs root")


def test_writes_past_the_budget_fail_and_what_was_written_stays(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.mkdir()
    with disk.bounded(output, disk_mb=8) as bounded:
        assert bounded
        (output / "nested" / "deeper").mkdir(parents=True)
        (output / "nested" / "deeper" / "kept.txt").write_text("kept")
        with pytest.raises(OSError) as raised, (output / "big.bin").open("wb") as big:
            for _ in range(16):
                big.write(b"\0" * 2**20)
                big.flush()
        assert raised.value.errno == errno.ENOSPC
    assert not os.path.ismount(output)
    assert (output / "nested" / "deeper" / "kept.txt").read_text() == "kept"
    assert (output / "big.bin").stat().st_size <= 8 * 2**20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output"]


def test_a_run_cannot_create_more_entries_than_allowed(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.mkdir()
    with disk.bounded(output, disk_mb=64), pytest.raises(OSError) as raised:
        for index in range(disk.MAX_ENTRIES + 100):
            (output / f"f{index}").touch()
    assert raised.value.errno == errno.ENOSPC
    assert len(list(output.iterdir())) <= disk.MAX_ENTRIES + 16
