"""The host's own time and memory on what a student controls (issue 21).

Each hostile sample that made the host itself parse, walk or unpickle for up to a minute, or
grow by gigabytes, is graded through the real pipeline on the process and docker sandboxes
while the host is measured: the grader process's own CPU time (`getrusage(RUSAGE_SELF)`) plus
its readings' (the fork server's and its children's), never the sandbox's; the grader's
resident memory and its readings' growth, sampled. Each must stay under 10 s and 1.5 GB, the
criterion the trick aims at says why it was not judged, and the honest parts keep their points.

The fast tests feed each bounded reader the pathological inputs directly, with a variant or
two of each idea, and push the reading budget past its CPU and memory limits.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import io
import itertools
import json
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from grader.contract import MAX_PICKLE_OPCODES, Problem, RunReport
from grader.host import budget
from grader.host.execute.checkpoint import inspect_checkpoint
from grader.host.judge import import_notes
from grader.host.judge.static_checks import MAX_SOURCE_BYTES, MAX_TOTAL_BYTES, MAX_YAML_NODES, scan
from grader.host.prepare.notebooks import MAX_CELL_BYTES
from grader.host.prepare.staging import StagingError, stage
from grader.sandbox import Sandbox
from tests import test_hostile
from tests.test_hostile import (
    HONEST_SAMPLE,
    HOSTILE,
    MB,
    PROBED,
    STATIC,
    Graded,
    Graders,
    HostCost,
    assert_clean,
    assert_full_points,
    assert_honest_run,
    host_cpu_seconds,
    message,
    opened_sandbox,
    over_budget,
    points,
    readings_cpu_seconds,
    readings_reaped,
)

# test_hostile's module-scoped fixtures, reused (`sandbox` is this module's own, below).
canaries, graders, rubric, short_rubric, splits = (
    test_hostile.canaries,
    test_hostile.graders,
    test_hostile.rubric,
    test_hostile.short_rubric,
    test_hostile.splits,
)

CALLBACKS = {"ModelCheckpoint", "EarlyStopping"}
# What each fast test allows one pathological input; before issue 21 each took 3 to 100 s.
QUICK_SECONDS = 3.0


# --------------------------------------------------------------------------- measuring the host


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("process", marks=pytest.mark.process),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """test_hostile's sandboxes, but `user`: a new sample is graded on these two."""
    return opened_sandbox(request.param)


def measured(graders: Graders, sample: str, path: Path | None = None) -> tuple[Graded, HostCost]:
    graded = graders.grade(sample, path=path)
    print(f"{sample} on {graders.sandbox.name}: the host spent {graded.cost}")
    return graded, graded.cost


def assert_host_within_budget(cost: HostCost) -> None:
    assert over_budget(cost) == [], cost


# --------------------------------------------------------------------------- inputs


def torch_zip(path: Path, pickle_chunks: Iterator[bytes], *, deflated: bool = True) -> Path:
    """A checkpoint in torch's zip layout whose `data.pkl` is `pickle_chunks`, streamed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/byteorder", "little")
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            for chunk in pickle_chunks:
                member.write(chunk)
    return path


def one_list(items: Iterator[bytes]) -> Iterator[bytes]:
    """A protocol-2 pickle of one list of `items` (each already pickled)."""
    yield b"\x80\x02]q\x00("  # PROTO 2, EMPTY_LIST, BINPUT 0, MARK
    yield from items
    yield b"e."  # APPENDS, STOP


def yaml_aliases(width: int, depth: int, merge: bool = False) -> str:
    """`depth` levels, each `width` aliases of the one below: width**depth mappings unfolded."""
    lines = ["l0: &l0 {_target_: lightning.pytorch.callbacks.ModelCheckpoint, monitor: val_loss}"]
    for level in range(1, depth + 1):
        below = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} {{<<: [{below}]}}" if merge else f"l{level}: &l{level} [{below}]")
    return "\n".join(lines) + "\n"


def notebook(cells: list[str], outputs: list[dict] | None = None) -> dict:
    code = {"cell_type": "code", "metadata": {}, "execution_count": None}
    return {
        "cells": [{**code, "id": str(n), "outputs": outputs or [], "source": s} for n, s in enumerate(cells)],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def inflated_notebook(folder: Path, cell_mb: int = 4) -> Path:
    """huge_notebook_cell.ipynb with its `LOOKUP_TABLE` cell made a `cell_mb` MB literal."""
    content = json.loads((HOSTILE / "huge_notebook_cell.ipynb").read_text())
    table = next(
        c for c in content["cells"] if c["cell_type"] == "code" and "LOOKUP_TABLE" in "".join(c["source"])
    )
    table["source"] = "LOOKUP_TABLE = [" + "0, " * (cell_mb * MB // 3) + "]\n"
    path = folder / "huge_notebook_cell.ipynb"
    path.write_text(json.dumps(content))
    return path


@dataclass
class Timed:
    seconds: float = 0.0


@contextlib.contextmanager
def cpu_timed() -> Iterator[Timed]:
    """The CPU time of a block, this process's and its readings' together."""
    budget.run(os.getpid)  # the fork server is up and has imported its readers
    server = psutil.Process(budget.server_pid())
    timed, start = Timed(), host_cpu_seconds() + readings_cpu_seconds(server)
    yield timed
    readings_reaped(server)
    timed.seconds = host_cpu_seconds() + readings_cpu_seconds(server) - start


# --------------------------------------------------------------------------- fast: each bounded reader


def test_yaml_aliases_are_walked_once(tmp_path: Path) -> None:
    shutil.copytree(HOSTILE / "yaml_alias_bomb", tmp_path / "committed")
    variants = {
        "committed": None,
        "merge_keys": yaml_aliases(10, 8, merge=True),  # `<<: [*l7, ...]`: a mapping that merges ten
        "recursive": "loop: &loop [{_target_: x.ModelCheckpoint}, *loop]\nself: &m {again: *m}\n",
    }
    for name, text in variants.items():
        folder = tmp_path / name
        if text is not None:
            (folder / "conf").mkdir(parents=True)
            (folder / "conf" / "zoo.yaml").write_text(text)
            (folder / "train.py").write_text("Trainer(callbacks=[])\n")
        started = time.process_time()
        facts = scan(folder, CALLBACKS)
        assert time.process_time() - started < QUICK_SECONDS, name
        yaml_sites = [s for s in facts.calls["ModelCheckpoint"] if s.file.endswith(".yaml")]
        assert len(yaml_sites) == 1, (name, yaml_sites)  # the node, once, however often aliased
        assert facts.unparsable == []
    # More distinct nodes than any config has: refused, not walked.
    many = tmp_path / "many"
    many.mkdir()
    (many / "big.yaml").write_text("".join(f"k{n}: {n}\n" for n in range(MAX_YAML_NODES)))
    assert scan(many, CALLBACKS).unparsable == ["big.yaml"]


def test_flow_analysis_is_linear(tmp_path: Path) -> None:
    variants = {
        "chained_callbacks.py": (HOSTILE / "chained_callbacks.py").read_text(),
        # through 3,000 functions' returns: f3000() returns f2999() ... returns the list
        "returns.py": "def f0():\n    return [ModelCheckpoint(), EarlyStopping()]\n"
        + "".join(f"def f{n + 1}():\n    return f{n}()\n" for n in range(3000))
        + "Trainer(callbacks=f3000())\n",
        # `cbs.append(...).append(...)` 800 deep: every receiver holds all those below it
        "appends.py": "cbs = []\ncbs" + ".append(ModelCheckpoint())" * 800 + "\nTrainer(callbacks=cbs)\n",
        # 2,000 lists added up: each callback up to 2,000 levels down its expression
        "sums.py": "cbs = " + " + ".join(["[ModelCheckpoint()]"] * 2000) + "\nTrainer(callbacks=cbs)\n",
    }
    for name, source in variants.items():
        folder = tmp_path / name.removesuffix(".py")
        folder.mkdir()
        (folder / name).write_text(source)
        ast.parse(source)  # each parses: the analysis, not the parser, is what is measured
        started = time.process_time()
        facts = scan(folder, CALLBACKS)
        assert time.process_time() - started < QUICK_SECONDS, name
        sites = facts.calls["ModelCheckpoint"]
        assert sites and all(site.reaches_trainer for site in sites), name


def test_sources_past_the_total_cap_are_not_parsed(tmp_path: Path) -> None:
    line = "x = 1  #" + " padding" * 10 + "\n"  # cheap to parse: the cap is on bytes
    parts = MAX_TOTAL_BYTES // (MAX_SOURCE_BYTES - 2**10)  # each a little under the file cap
    for n in range(parts + 1):
        (tmp_path / f"part{n}.py").write_text(line * ((MAX_SOURCE_BYTES - 2**10) // len(line)))
    (tmp_path / "train.py").write_text("ModelCheckpoint(monitor='val_loss')\n")
    facts = scan(tmp_path, {"ModelCheckpoint"})
    assert facts.unparsable == [f"part{parts}.py"]  # past the total: never parsed
    assert [site.where() for site in facts.calls["ModelCheckpoint"]] == ["train.py:1"]  # what fits still is


def test_missing_module_names_are_compared_literally(tmp_path: Path) -> None:
    folder = tmp_path / "staged"
    shutil.copytree(HOSTILE / "glob_import_name", folder)
    deepest = next(p for p in folder.rglob("README.txt"))
    (deepest.parent / "augment_plugin.py").write_text("")
    report = RunReport(
        stage="done",
        failed_code=[
            Problem(kind="ModuleNotFoundError", message=f"No module named '{name}'", location="model.py:19")
            for name in ("**/**/**/augment_plugin", "*", "augment_plugin", "torchdrift")
        ],
    )
    started = time.process_time()
    notes = import_notes(report, folder)
    assert time.process_time() - started < QUICK_SECONDS
    missing = [note for note in notes if "is not installed where grading runs" in note]
    assert [note.split("`")[1] for note in missing] == ["**/**/**/augment_plugin", "*", "torchdrift"]
    assert any("model.py:19 failed" in note and "'augment_plugin'" in note for note in notes)  # its own


def test_checkpoint_pickles_are_counted_before_anything_is_built(tmp_path: Path) -> None:
    nones = one_list(b"N" * MB for _ in range(64))
    small_ints = one_list(b"K\x07" * 1000 for _ in range(1500))
    tensors = io.BytesIO()  # 10,000 views of one storage: 0.8 MB, 29 opcodes each
    import torch

    base = torch.zeros(10)
    torch.save({"state_dict": {f"w{n}": base[n % 10 :] for n in range(10_000)}}, tensors)
    with zipfile.ZipFile(tensors) as saved:
        many_tensors = [saved.read(i) for i in saved.infolist() if i.filename.endswith("data.pkl")]
    deep = iter([b"\x80\x02" + b"]" * 60_000 + b"a" * 59_999 + b"."])  # nested lists, within the caps
    legacy = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": {}}, legacy, _use_new_zipfile_serialization=False)
    cases = {
        "nones": (torch_zip(tmp_path / "nones.ckpt", nones), "its pickle is over 4 MB"),
        "small_ints": (torch_zip(tmp_path / "ints.ckpt", small_ints), f"over {MAX_PICKLE_OPCODES:,} objects"),
        "tensors": (torch_zip(tmp_path / "views.ckpt", iter(many_tensors)), f"over {MAX_PICKLE_OPCODES:,}"),
        "stored": (torch_zip(tmp_path / "stored.ckpt", one_list(b"N" * MB for _ in range(8)), deflated=False),
                   "its pickle is over 4 MB"),
        "deep": (torch_zip(tmp_path / "deep.ckpt", deep), "cannot be read as weights"),
        "legacy": (legacy, "not in torch's zip format"),
    }  # fmt: skip
    for name, (path, expected) in cases.items():
        with cpu_timed() as spent:
            facts = inspect_checkpoint(tmp_path, path.name, {"w": [1]})
        assert spent.seconds < QUICK_SECONDS, (name, spent)
        assert expected in facts.message, (name, facts)
        assert not facts.fits_model
        assert facts.found == (name == "deep"), name  # refused unopened: all of `checkpoint-saved`
    honest = tmp_path / "honest.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "epoch": 0, "global_step": 3}, honest)
    facts = inspect_checkpoint(tmp_path, honest.name, {"w": [1]})
    assert facts.fits_model and facts.trace.global_step == 3, facts


def test_notebook_cells_past_the_cap_are_not_parsed(tmp_path: Path) -> None:
    host = psutil.Process()
    before = host.memory_info().rss
    with cpu_timed() as spent:
        staged = stage(inflated_notebook(tmp_path), tmp_path / "staged")
    assert spent.seconds < QUICK_SECONDS, spent
    assert host.memory_info().rss - before < 200 * MB
    assert "code cell 2 (4.0 MB) not graded" in staged.notes[0]
    source = (staged.folder / "huge_notebook_cell.py").read_text()
    assert "class MyAwesomeModel" in source and len(source) < 10_000
    # Variants: many cells under the cap, more code in all than any solution; and 350,000
    # tiny outputs (nbformat validated each and nbconvert walked them: 100 s).
    cell = "x = [" + "1, " * (MAX_CELL_BYTES // 4) + "]\n"
    many = tmp_path / "many_cells.ipynb"
    many.write_text(json.dumps(notebook([cell] * 12)))
    with pytest.raises(StagingError, match=r"many_cells\.ipynb holds 2\.\d MB of code"):
        stage(many, tmp_path / "many")
    outputs = tmp_path / "outputs.ipynb"
    outputs.write_text(
        json.dumps(notebook(["x = 1"], [{"output_type": "stream", "name": "stdout", "text": "x"}] * 350_000))
    )
    with cpu_timed() as spent:
        staged = stage(outputs, tmp_path / "outputs")
    assert spent.seconds < QUICK_SECONDS, spent
    assert "x = 1" in (staged.folder / "outputs.py").read_text()


def test_a_long_line_number_in_a_message_is_no_line(tmp_path: Path) -> None:
    staged = stage(inflated_notebook(tmp_path, cell_mb=1), tmp_path / "staged")
    _, starts = staged.notebooks["huge_notebook_cell.py"]
    cell_3 = f"at huge_notebook_cell.py:{starts[2]}"
    assert staged.in_notebooks(cell_3) == "at huge_notebook_cell.ipynb, code cell 3, line 1"
    long = "huge_notebook_cell.py:" + "9" * 5000  # int() refuses 5,000 digits
    assert staged.in_notebooks(long) == long


# --------------------------------------------------------------------------- fast: the budget itself


def test_a_reading_past_its_budget_is_stopped_and_says_why() -> None:
    # Each stuck inside one C call, where no handler of its own would ever run: counting
    # forever, and a list of a billion ints.
    spin = (collections.deque, itertools.count(), 0)
    hoard = (list, range(10**9))
    expected = [
        (spin, "more than the 1 s of CPU time the grader gives one reading"),
        (hoard, "more than the 256 MB of memory"),
        (spin, "s of CPU time left of the 2 s the grader gives one submission"),  # what one spent is gone
        ((os.getpid,), "already spent the 2 s of CPU time it gives one submission"),
    ]
    with budget.for_submission(budget.Budget(cpu_seconds=2, reading_cpu_seconds=1, memory_mb=256)):
        for (function, *args), why in expected:
            started, host_cpu = time.monotonic(), host_cpu_seconds()
            with pytest.raises(budget.OverBudget, match=why):
                budget.run(function, *args)
            assert time.monotonic() - started < 20, why  # its 1 s of CPU, on a busy machine
            assert host_cpu_seconds() - host_cpu < 0.5, why  # watching it is cheap
    with pytest.raises(ValueError, match="invalid literal"):  # its own exception, raised again
        budget.run(int, "not a number")


def test_an_honest_reading_costs_a_fork_not_an_import(tmp_path: Path) -> None:
    staged = stage(HONEST_SAMPLE, tmp_path / "staged")
    in_process = scan(staged.folder, CALLBACKS)
    budget.run(os.getpid)
    server = psutil.Process(budget.server_pid())
    readings_cpu, host_cpu, started = readings_cpu_seconds(server), host_cpu_seconds(), time.perf_counter()
    for _ in range(5):
        assert budget.run(scan, staged.folder, CALLBACKS) == in_process
    wall = (time.perf_counter() - started) / 5
    time.sleep(0.6)  # the server reaps its children twice a second
    children = (readings_cpu_seconds(server) - readings_cpu) / 5
    host = (host_cpu_seconds() - host_cpu) / 5
    print(
        f"an honest scan in a reading: {wall * 1000:.0f} ms, host {host * 1000:.1f} ms, child {children * 1000:.0f} ms"
    )
    assert children < 0.5  # a fork of the warm server, not an interpreter importing torch (3 s)
    assert host < 0.05


# --------------------------------------------------------------------------- through the pipeline


def test_a_checkpoint_pickle_bomb_is_refused_unopened(graders: Graders) -> None:
    graded, cost = measured(graders, "checkpoint_pickle_bomb.py")
    result = graded.result
    # What the host made of the very file the run left: refused before anything was built.
    facts = inspect_checkpoint(graded.output, "checkpoints/best.ckpt", {})
    assert (facts.found, facts.message) == (False, "checkpoint too large (its pickle is over 4 MB)")
    assert points(result)["checkpoint-saved"] == 0
    # The predicting worker loads the best checkpoint too, inside the sandbox, guarded by its
    # inflated size only (grader/runner/predict.py): there the bomb spends the run's own time
    # until the wall clock, and the criteria after the fit say so.
    said = message(result, "checkpoint-saved")
    assert "checkpoint too large" in said or said.startswith("Not judged: grading stopped at the"), said
    assert_full_points(result, PROBED | STATIC)
    assert not result.tampering  # replacing its own checkpoint is no forgery
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_a_checkpoint_of_a_million_small_objects_is_refused_unopened(graders: Graders) -> None:
    path = graders.prepare("checkpoint_pickle_bomb.py", BOMB="small_ints")
    graded, cost = measured(graders, "checkpoint_small_ints.py", path=path)
    result = graded.result
    assert points(result)["checkpoint-saved"] == 0
    assert f"its pickle holds over {MAX_PICKLE_OPCODES:,} objects" in message(result, "checkpoint-saved")
    assert_full_points(result, PROBED | STATIC | {"fit-completes"})
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_a_yaml_alias_bomb_no_code_reads_is_walked_once(graders: Graders) -> None:
    graded, cost = measured(graders, "yaml_alias_bomb")
    result = graded.result
    # The host's scan walked each node once: both callbacks, from the code and the config.
    assert_full_points(result, STATIC)
    assert "`ModelCheckpoint` is configured at model.py:" in message(result, "uses-callbacks")
    # Inside the sandbox the runner loads every config with OmegaConf to build the model
    # (grader/runner/constructing.py), which unfolds the aliases: that spends the run's own
    # wall clock, never the host's.
    assert result.status in ("ok", "timeout"), result.status_reason
    if result.status == "ok":
        assert_honest_run(result, graders.rubric)
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_callbacks_through_two_thousand_assignments_are_credited(graders: Graders) -> None:
    graded, cost = measured(graders, "chained_callbacks.py")
    assert_honest_run(graded.result, graders.rubric)
    assert "`ModelCheckpoint` is configured at chained_callbacks.py:" in message(
        graded.result, "uses-callbacks"
    )
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_a_module_name_that_is_a_glob_is_compared_literally(graders: Graders) -> None:
    graded, cost = measured(graders, "glob_import_name")
    result = graded.result
    assert_honest_run(result, graders.rubric)
    assert any("package `**/**/**/augment_plugin` is not installed" in note for note in result.notes)
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_a_four_megabyte_notebook_cell_is_not_parsed(graders: Graders, tmp_path: Path) -> None:
    graded, cost = measured(graders, "huge_notebook_cell.ipynb", path=inflated_notebook(tmp_path))
    result = graded.result
    assert_honest_run(result, graders.rubric)
    assert any("code cell 2 (4.0 MB) not graded" in note for note in result.notes)
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_a_reading_no_cap_foresaw_costs_one_criterion(graders: Graders, tmp_path: Path) -> None:
    """The budget, through the pipeline: a best checkpoint swapped for a zip listing a million
    entries (45 MB), which takes the host's `zipfile` 7 s and 310 MB before any cap can look."""
    path = graders.prepare("checkpoint_pickle_bomb.py", BOMB="entries")
    graded, cost = measured(graders, "checkpoint_entries.py", path=path)
    result = graded.result
    assert points(result)["checkpoint-saved"] == 0
    assert "the grader stopped reading the checkpoint: it" in message(result, "checkpoint-saved")
    assert_full_points(result, PROBED | STATIC | {"fit-completes"})
    assert_host_within_budget(cost)
    assert_clean(graded)


def test_an_honest_submission_costs_the_host_little(graders: Graders) -> None:
    graded, cost = measured(graders, HONEST_SAMPLE.name, path=HONEST_SAMPLE)
    assert_honest_run(graded.result, graders.rubric)
    assert cost.cpu_seconds < 3, cost
    assert cost.memory_mb < 300, cost
