"""The self-check's secret: one per machine in the user's cache, owner-only, never a file it
did not write itself; and the reference's cache keyed by it, so self-checks with a new --out
on the same machine reuse one training. Nothing here trains."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from grader.host.cli import with_secret
from grader.host.grading import GradingContext
from grader.host.prepare.data import MACHINE_SECRET_FILE, SECRET_FILE, machine_secret, make_splits
from grader.host.prepare.reference import (
    TYPICAL_TRAINING_SECONDS,
    cache_key,
    cached_reference,
    reference_folder,
    training_estimate,
)
from grader.paths import cache_dir
from grader.rubric import load_rubric
from grader.sandbox.local import LocalSandbox


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_first_self_check_draws_the_secret_and_every_later_one_reads_it(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "lightning-grader"
    first = machine_secret(folder)
    assert first.distrusted is None
    path = folder / MACHINE_SECRET_FILE
    assert int(path.read_text()) == first.seed
    assert mode(path) == 0o600 and path.stat().st_uid == os.getuid()
    assert mode(folder) == 0o700  # the folder it made is the user's alone too
    assert [machine_secret(folder) for _ in range(3)] == [first] * 3
    assert sorted(p.name for p in folder.iterdir()) == [MACHINE_SECRET_FILE]  # no temporary left


def test_it_lives_in_the_users_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    seed = machine_secret().seed
    assert cache_dir() == tmp_path / "xdg" / "lightning-grader"
    assert int((tmp_path / "xdg" / "lightning-grader" / MACHINE_SECRET_FILE).read_text()) == seed


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda path: path.chmod(0o644), "others may read or write it (mode 644)"),
        (lambda path: path.chmod(0o620), "others may read or write it (mode 620)"),
        (lambda path: path.write_text("not a number\n"), "it holds no secret"),
        (lambda path: path.write_text(""), "it holds no secret"),
    ],
)
def test_a_secret_others_may_read_or_that_is_not_one_is_replaced(tmp_path: Path, spoil, reason) -> None:
    first = machine_secret(tmp_path)
    path = tmp_path / MACHINE_SECRET_FILE
    spoil(path)
    again = machine_secret(tmp_path)
    assert again.seed != first.seed
    assert again.distrusted == f"{path} was not trusted: {reason}"
    assert mode(path) == 0o600 and int(path.read_text()) == again.seed
    assert machine_secret(tmp_path) == (again.seed, None)  # the new one is trusted


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_secret_file_of_another_user_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / MACHINE_SECRET_FILE
    path.write_text("1234\n")
    path.chmod(0o600)
    os.chown(path, 65534, 65534)  # nobody's: whoever planted it knows the seed
    found = machine_secret(tmp_path)
    assert found.seed != 1234 and "it belongs to uid 65534, not to you" in found.distrusted
    assert path.stat().st_uid == os.getuid()


def test_a_link_in_its_place_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "someone-elses"
    elsewhere.write_text("1234\n")
    elsewhere.chmod(0o600)
    (tmp_path / "cache").mkdir()
    path = tmp_path / "cache" / MACHINE_SECRET_FILE
    path.symlink_to(elsewhere)
    found = machine_secret(tmp_path / "cache")
    assert found.seed != 1234 and "could not be read as a file of yours" in found.distrusted
    assert not path.is_symlink() and int(path.read_text()) == found.seed
    assert elsewhere.read_text() == "1234\n"  # the link's target is left alone


def test_a_pipe_in_its_place_does_not_hang_the_self_check(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / MACHINE_SECRET_FILE, 0o600)
    found = machine_secret(tmp_path)
    assert found.distrusted.endswith("it is not a regular file")
    assert (tmp_path / MACHINE_SECRET_FILE).is_file()


def test_self_checks_starting_at_once_each_get_a_whole_secret(tmp_path: Path) -> None:
    found: list[int] = []
    threads = [threading.Thread(target=lambda: found.append(machine_secret(tmp_path).seed)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = int((tmp_path / MACHINE_SECRET_FILE).read_text())
    assert len(found) == 8 and kept in found
    assert machine_secret(tmp_path) == (kept, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MACHINE_SECRET_FILE]


@pytest.fixture
def splits(tmp_path: Path):
    return make_splits(load_rubric("m14").data, tmp_path / "no-mnist", download=False)


def context_for(splits, tmp_path: Path) -> GradingContext:
    return GradingContext(load_rubric("m14"), splits, LocalSandbox(), tmp_path, tmp_path / "inputs")


def test_self_checks_with_new_out_folders_share_the_reference_a_batch_does_not(
    splits, tmp_path: Path
) -> None:
    checked = [with_secret(splits, tmp_path / f"check-{n}", self_check=True) for n in range(2)]
    batches = [with_secret(splits, tmp_path / f"batch-{n}", self_check=False) for n in range(2)]
    assert checked[0].fingerprint == checked[1].fingerprint
    assert batches[0].fingerprint != batches[1].fingerprint != checked[0].fingerprint
    assert not (tmp_path / "check-0" / SECRET_FILE).exists()  # a self-check's --out keeps no secret
    assert (tmp_path / "batch-0" / SECRET_FILE).is_file()
    assert checked[0].source.endswith("held-out digits perturbed with this machine's secret")
    assert batches[0].source.endswith("held-out digits perturbed with this batch's secret")

    folder = reference_folder(context_for(splits, tmp_path))
    keys = {cache_key(context_for(s, tmp_path), folder) for s in checked}
    assert len(keys) == 1
    assert cache_key(context_for(batches[0], tmp_path), folder) not in keys


def test_the_reference_cache_reads_what_a_training_wrote_and_survives_a_damaged_entry(
    splits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache of its own: the session's may hold a reference another self-check trained.
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    context = context_for(with_secret(splits, tmp_path / "out", self_check=True), tmp_path)
    assert cached_reference(context) is None
    assert training_estimate(context.rubric) == TYPICAL_TRAINING_SECONDS
    entry = cache_dir() / "reference" / f"m14-{cache_key(context, reference_folder(context))}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    # The entry measure_reference writes after a training.
    entry.write_text(json.dumps({"accuracy": 0.97, "seconds": 31.5, "rubric": "m14", "wall_seconds": 36.2}))
    known = cached_reference(context)
    assert (known.accuracy, known.seconds) == (0.97, 31.5)
    assert training_estimate(context.rubric) == 36.2
    other = load_rubric("m14").model_copy(update={"id": "m15"})
    assert training_estimate(other) == TYPICAL_TRAINING_SECONDS  # another rubric's time is not this one's
    entry.write_text('{"accuracy": ')  # cut short: trained again, not a crash
    assert cached_reference(context) is None
