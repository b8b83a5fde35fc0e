"""Building a model the way the student's own scripts build it, without running the scripts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from grader.runner.call_sites import parsed_files, script_folders, sys_path_additions, trained_class_names
from grader.runner.constructing import Sources, model_factory
from grader.runner.data import Digits
from grader.runner.stand_ins import StandIns


class Net:
    """Stands for a student's model: records what it was built with."""

    def __init__(self, hidden, num_classes, lr=0.1):
        self.hidden, self.num_classes, self.lr = hidden, num_classes, lr


class WithCriterion:
    def __init__(self, criterion, lr=1e-3):
        self.criterion, self.lr = criterion, lr


class WithConfig:
    def __init__(self, cfg):
        self.hidden = cfg.model.hidden


class Backbone:
    def __init__(self, model):
        self.model = model


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def build(cls: type, folder: Path, stand_ins: StandIns | None = None) -> tuple[object, list[str]]:
    factory, notes, shape = model_factory(cls, {}, Sources(folder, lambda path: None), stand_ins)
    if stand_ins is None:
        return factory(), notes
    with stand_ins.active(shape):  # as the runner keeps them for the rest of the run
        return factory(), notes


def test_positional_literals_at_the_call_site(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "train.py": "from model import Net\ndef main():\n    model = Net(128, 10)\n    trainer.fit(model)\n"
        },
    )
    model, notes = build(Net, tmp_path)
    assert (model.hidden, model.num_classes, model.lr) == (128, 10, 0.1)
    assert notes == ["the model was built as in train.py:3: `Net(128, 10)`"]


def test_values_from_a_yaml_loaded_with_omegaconf(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yaml": "hyper:\n  hidden: 64\n  classes: 10\n  lr: 0.01\n",
            "train.py": """
                from omegaconf import OmegaConf
                config = OmegaConf.load("config.yaml")
                params = config.hyper
                model = Net(params.hidden, params.classes, lr=params.lr)
                """,
        },
    )
    model, notes = build(Net, tmp_path)
    assert (model.hidden, model.num_classes, model.lr) == (64, 10, 0.01)
    assert "with values from config.yaml" in notes[0]


def test_hydra_main_config_composed_and_spread_into_the_constructor(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "conf/config.yaml": "defaults:\n  - model: small\n  - _self_\nlr: 0.5\n",
            "conf/model/small.yaml": "hidden: 32\nnum_classes: 10\n",
            "conf/model/big.yaml": "hidden: 4096\nnum_classes: 10\n",
            "src/pkg/train.py": """
                import hydra
                @hydra.main(config_path="../../conf", config_name="config", version_base=None)
                def train(cfg):
                    model = Net(**cfg.model, lr=cfg.lr)
                if __name__ == "__main__":
                    train()
                """,
        },
    )
    model, notes = build(Net, tmp_path)
    assert (model.hidden, model.lr) == (32, 0.5)
    assert "conf/config.yaml" in notes[0]


def test_hydra_instantiate_of_a_target(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configs/config.yaml": "model:\n  _target_: project.models.Net\n  hidden: 16\n  num_classes: 10\n",
            "train.py": """
                from hydra.utils import instantiate
                import hydra
                @hydra.main(config_path="configs", config_name="config")
                def main(cfg):
                    model = instantiate(cfg.model)
                """,
        },
    )
    model, _ = build(Net, tmp_path)
    assert model.hidden == 16


def test_argparse_and_typer_defaults(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "cli.py": """
                import argparse
                parser = argparse.ArgumentParser()
                parser.add_argument("--hidden-size", type=int, default=256)
                parser.add_argument("--classes", type=int, default=10)
                if __name__ == "__main__":
                    args = parser.parse_args()
                    model = Net(args.hidden_size, args.classes)
                """,
        },
    )
    model, _ = build(Net, tmp_path)
    assert model.hidden == 256
    (tmp_path / "cli.py").unlink()
    write(
        tmp_path,
        {
            "app.py": """
                import typer
                HIDDEN = 48
                def train(lr: float = typer.Option(0.003, help="learning rate"), classes: int = 10):
                    model = Net(HIDDEN, classes, lr=lr)
                """,
        },
    )
    model, _ = build(Net, tmp_path)
    assert (model.hidden, model.num_classes, model.lr) == (48, 10, 0.003)


def test_an_object_argument_built_by_the_script(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "train.py": """
                from torch import nn
                def main():
                    criterion = nn.CrossEntropyLoss()
                    model = WithCriterion(criterion)
                """,
        },
    )
    model, _ = build(WithCriterion, tmp_path)
    assert isinstance(model.criterion, torch.nn.CrossEntropyLoss)


def test_a_config_goes_only_to_a_parameter_that_wants_one(tmp_path: Path) -> None:
    write(tmp_path, {"configs/config.yaml": "model:\n  hidden: 8\n"})
    model, _ = build(WithConfig, tmp_path)
    assert model.hidden == 8
    with pytest.raises(TypeError, match="give the arguments default values"):
        build(Backbone, tmp_path)  # `model` is no config


def test_a_required_flag_without_default_asks_for_defaults_and_names_the_call(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "train.py": """
                import argparse
                parser = argparse.ArgumentParser()
                parser.add_argument("--hidden", type=int, required=True)
                args = parser.parse_args()
                model = Net(args.hidden, 10)
                """,
        },
    )
    with pytest.raises(TypeError, match=r"train\.py:6.*`hidden` \(`args.hidden`\).*default values"):
        build(Net, tmp_path)


class RaisesInInit:
    def __init__(self, size=3):
        self.layers = self.make_layers(size)  # AttributeError: the student's bug


def test_a_constructor_that_raises_is_reported_as_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(AttributeError, match="make_layers"):
        build(RaisesInInit, tmp_path)


class LoadsData:
    def __init__(self, path="data/processed"):
        from torch.utils.data import DataLoader, TensorDataset, random_split

        images = torch.load(f"{path}/train_images.pt").unsqueeze(1)
        target = torch.load(f"{path}/train_target.pt")
        train, _ = random_split(TensorDataset(images, target), [0.8, 0.2])
        self.loader = DataLoader(train, batch_size=16, shuffle=True)


def digits(count: int = 40) -> Digits:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(count, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (count,), generator=generator)
    return Digits(images, labels, images[:8], labels[:8], images[:8])


def test_missing_data_files_load_as_real_shaped_digits(tmp_path: Path) -> None:
    stand_ins = StandIns(digits())
    model, _ = build(LoadsData, tmp_path, stand_ins)
    images, labels = next(iter(model.loader))
    assert images.shape == (16, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert sorted(set(stand_ins.replaced)) == [
        "data/processed/train_images.pt",
        "data/processed/train_target.pt",
    ]


def test_torchvision_mnist_reads_the_graders_digits_offline(tmp_path: Path) -> None:
    from torchvision.datasets import MNIST

    stand_ins = StandIns(digits())
    with stand_ins.active((28, 28)):
        train = MNIST(str(tmp_path), train=True, download=True)
    assert len(train) == 60_000
    image, label = train[0]
    assert image.size == (28, 28) and 0 <= label < 10
    assert not any(tmp_path.iterdir())


def test_scripts_decide_the_trained_class_and_the_import_folders(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "lib/blocks.py": "def block(): pass\n",
            "lab/train.py": """
                import os, sys
                sys.path.append(os.path.join(os.path.dirname(__file__), "..", "lib"))
                from model import Wrapper, Backbone
                model = Wrapper(Backbone()).cuda()
                trainer.fit(model)
                """,
        },
    )
    files = parsed_files(tmp_path, lambda path: None)
    assert trained_class_names(files) == {"Wrapper"}
    assert sys_path_additions(files) == [(tmp_path / "lib").resolve()]
    assert script_folders(files) == [(tmp_path / "lab").resolve()]


class Tuned:
    """A model whose learning rate has a default and is a number: a sweep's list is no value for it."""

    def __init__(self, hidden_dim, lr=1e-3, dropout: float = 0.2):
        self.hidden_dim, self.lr, self.dropout = hidden_dim, lr, dropout


SWEEP = """
    program: train.py
    method: grid
    metric: {name: val_loss, goal: minimize}
    parameters:
      lr: [0.01, 0.001]
      hidden_dim: [64, 128]
      dropout: [0.1, 0.3]
    """


def test_a_sweep_file_is_a_search_space_not_values(tmp_path: Path) -> None:
    # The sweep ranks first (configs/sweep.yaml before configs/train.yaml), as in a real repository.
    write(
        tmp_path,
        {
            "configs/sweep.yaml": SWEEP,
            "configs/train.yaml": "hidden_dim: 128\nlr: 0.005\ndropout: 0.1\n",
            "train.py": """
                import wandb
                config = wandb.config
                model = Tuned(hidden_dim=config.hidden_dim, lr=config.lr, dropout=config.dropout)
                """,
        },
    )
    model, notes = build(Tuned, tmp_path)
    assert (model.hidden_dim, model.lr, model.dropout) == (128, 0.005, 0.1)
    assert "sweep.yaml" not in notes[0] and "configs/train.yaml" in notes[0]


def test_a_sweep_alone_gives_no_values(tmp_path: Path) -> None:
    write(tmp_path, {"configs/sweep.yaml": SWEEP})
    with pytest.raises(TypeError, match="hidden_dim"):
        build(Tuned, tmp_path)


def test_a_value_of_another_kind_gives_way_to_the_next_source(tmp_path: Path) -> None:
    # A list where the signature takes a number (by its default or its annotation) and a text
    # where it takes a number: the defaults instead. Hydra's own section holds no model values.
    write(
        tmp_path,
        {
            "config.yaml": """
                hydra:
                  sweeper:
                    params:
                      hidden_dim: 8
                model:
                  hidden_dim: 64
                  lr: [0.1, 0.01]
                  dropout: high
                """,
            "train.py": """
                import wandb
                config = wandb.config
                model = Tuned(hidden_dim=config.hidden_dim, lr=config.lr, dropout=config.dropout)
                """,
        },
    )
    model, _ = build(Tuned, tmp_path)
    assert (model.hidden_dim, model.lr, model.dropout) == (64, 1e-3, 0.2)


def test_a_script_passing_a_list_for_a_number_gets_the_config_instead(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yaml": "lr: 0.02\n",
            "train.py": "model = Tuned(hidden_dim=32, lr=[0.1, 0.01])\n",
        },
    )
    model, _ = build(Tuned, tmp_path)
    assert (model.hidden_dim, model.lr) == (32, 0.02)
