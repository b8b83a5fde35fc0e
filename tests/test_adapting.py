"""How the grader adapts to real hand-ins: safe imports, safe unpacking, model constructors."""

from __future__ import annotations

import ast
import os
import stat
import textwrap
import zipfile
from pathlib import Path

import pytest

from grader.host.prepare.staging import StagingError, source_fingerprint, stage
from grader.runner.constructing import Sources, model_factory
from grader.runner.safe_import import plan


def runs(source: str) -> dict[str, bool]:
    tree = ast.parse(textwrap.dedent(source))
    return {ast.unparse(statement).splitlines()[0]: ok for statement, ok in plan(tree)}


def test_top_level_training_code_is_skipped_but_what_the_class_needs_runs() -> None:
    decided = runs(
        """
        import torch
        import wandb
        wandb.init(project="mnist")
        LR = 1e-3
        transform = make_transform()
        criterion = torch.nn.CrossEntropyLoss()
        train_set = torch.load("data/processed/train.pt")
        class Model:
            def __init__(self):
                self.loss_fn = criterion
            def training_step(self, batch, batch_idx):
                loss = batch * LR
                return loss
        loss = criterion(model(x), y)
        trainer.fit(Model())
        for epoch in range(50):
            train_one_epoch()
        if __name__ == "__main__":
            main()
        """
    )
    assert decided == {
        "import torch": True,
        "import wandb": True,
        "wandb.init(project='mnist')": False,
        "LR = 0.001": True,
        "transform = make_transform()": False,
        "criterion = torch.nn.CrossEntropyLoss()": True,  # the class uses it
        "train_set = torch.load('data/processed/train.pt')": False,
        "class Model:": True,
        "loss = criterion(model(x), y)": False,  # `loss` is only a local of a method
        "trainer.fit(Model())": False,
        "for epoch in range(50):": False,
    }


def test_dependencies_are_followed_through_helper_functions() -> None:
    decided = runs(
        """
        config = load_config("configs/config.yaml")
        def hidden_size():
            return config["hidden"]
        class Model:
            size = hidden_size()
        """
    )
    assert decided["config = load_config('configs/config.yaml')"] is True


def write_zip(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_zip_of_one_project_folder_is_graded_from_that_folder(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "s1234.zip",
        {"s1234/model.py": b"class M: pass\n", "__MACOSX/s1234/._model.py": b"junk"},
    )
    staged = stage(archive, tmp_path / "staged")
    assert [p.name for p in staged.folder.iterdir()] == ["model.py"]


@pytest.mark.parametrize(
    ("entries", "links", "reason"),
    [
        ({"../evil.py": b"x = 1\n"}, (), "points outside"),
        ({"ok/../../evil.py": b"x = 1\n"}, (), "points outside"),
        ({"/tmp/evil.py": b"x = 1\n"}, (), "points outside"),
        ({"model.py": b"x = 1\n"}, ("link.py",), "is a link"),
    ],
)
def test_unsafe_zip_is_refused_and_writes_nothing_outside(
    tmp_path: Path, entries: dict, links: tuple, reason: str
) -> None:
    archive = write_zip(tmp_path / "bad.zip", entries, links)
    before = set(os.listdir(tmp_path))
    with pytest.raises(StagingError, match=reason):
        stage(archive, tmp_path / "staged")
    assert set(os.listdir(tmp_path)) - before <= {"staged"}
    assert not (tmp_path / "evil.py").exists()


def test_zip_bomb_is_refused_while_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grader.host.prepare.staging.MAX_ARCHIVE_BYTES", 2**20)
    archive = write_zip(tmp_path / "bomb.zip", {"model.py": b"0" * (3 * 2**20)})
    with pytest.raises(StagingError, match="unpacks to more than"):
        stage(archive, tmp_path / "staged")


def test_fingerprint_follows_graded_sources_only(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("class M: pass\n")
    (tmp_path / "wandb").mkdir()
    before = source_fingerprint(tmp_path)
    (tmp_path / "wandb" / "run.py").write_text("x = 1\n")
    assert source_fingerprint(tmp_path) == before
    (tmp_path / "model.py").write_text("class M:\n    pass\n")
    assert source_fingerprint(tmp_path) != before


class NeedsConfig:
    def __init__(self, cfg):
        self.hidden = cfg.model.hidden


class NeedsValues:
    def __init__(self, hidden, lr):
        self.hidden, self.lr = hidden, lr


def factory(cls: type, folder: Path, init_kwargs: dict | None = None):
    build, notes, _ = model_factory(cls, init_kwargs or {}, Sources(folder, lambda path: None))
    return build, notes


def test_constructor_arguments_come_from_the_students_hydra_config(tmp_path: Path) -> None:
    (tmp_path / "configs" / "model").mkdir(parents=True)
    (tmp_path / "configs" / "config.yaml").write_text("defaults:\n  - model: small\n  - _self_\n")
    (tmp_path / "configs" / "model" / "small.yaml").write_text("hidden: 32\nlr: 0.01\n")
    build, notes = factory(NeedsConfig, tmp_path)
    assert build().hidden == 32
    assert "configs/config.yaml" in notes[0]
    build, notes = factory(NeedsValues, tmp_path)
    assert (build().hidden, build().lr) == (32, 0.01)


def test_constructor_without_a_way_to_build_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="give the arguments default values"):
        factory(NeedsValues, tmp_path)
    build, notes = factory(NeedsValues, tmp_path, {"hidden": 8, "lr": 0.1})
    assert build().hidden == 8
    assert "rubric" in notes[0]
