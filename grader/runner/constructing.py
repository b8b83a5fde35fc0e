"""Build the student's model: no arguments, the rubric's keyword arguments, or their own config.

Course models often take a Hydra/OmegaConf `cfg`, or hyper-parameters without defaults that
their config file provides. The first way that works is remembered and reused.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONFIG_DIRS = ("configs", "config", "conf")
MAX_CONFIGS = 20


def required_parameters(cls: type) -> list[inspect.Parameter]:
    parameters = inspect.signature(cls).parameters.values()
    return [p for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def config_files(submission: Path) -> list[Path]:
    """YAML files, those in a configs/ folder or named config* first."""
    files = [p for p in submission.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")]

    def rank(path: Path) -> tuple[int, int, str]:
        relative = path.relative_to(submission)
        in_config_dir = any(part in CONFIG_DIRS for part in relative.parts[:-1])
        return (not in_config_dir, not path.stem.startswith("config"), relative.as_posix())

    return sorted(files, key=rank)[:MAX_CONFIGS]


def load_config(path: Path) -> Any:
    """A Hydra composition when the file has a defaults list, otherwise plain OmegaConf."""
    from omegaconf import OmegaConf

    config = OmegaConf.load(path)
    if "defaults" not in config:
        return config
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(path.parent.resolve()), version_base=None):
        return compose(config_name=path.stem)


def _find_key(config: Any, name: str) -> Any:
    """The first value stored under `name` anywhere in a nested config."""
    from omegaconf import DictConfig

    if isinstance(config, DictConfig):
        if name in config:
            return config[name]
        for key in config:
            found = _find_key(config[key], name)
            if found is not None:
                return found
    return None


def _config_attempts(cls: type, submission: Path) -> Iterator[tuple[str, tuple, dict]]:
    try:
        from omegaconf import DictConfig
    except ImportError:
        return
    required = required_parameters(cls)
    for path in config_files(submission):
        try:
            config = load_config(path)
        except Exception:
            continue
        source = path.relative_to(submission).as_posix()
        if len(required) == 1:
            yield f"{cls.__name__}(cfg) with cfg from {source}", (config,), {}
            for key in config:
                if isinstance(config[key], DictConfig):
                    yield f"{cls.__name__}(cfg.{key}) with cfg from {source}", (config[key],), {}
        values = {p.name: _find_key(config, p.name) for p in required}
        if all(value is not None for value in values.values()):
            names = ", ".join(values)
            yield f"{cls.__name__}({names}) with values from {source}", (), values


def attempts(
    cls: type, init_kwargs: dict[str, Any], submission: Path
) -> Iterator[tuple[str | None, tuple, dict]]:
    required = required_parameters(cls)
    if not required:
        yield None, (), {}
        return
    accepted = set(inspect.signature(cls).parameters)
    offered = {k: v for k, v in init_kwargs.items() if k in accepted}
    if all(p.name in offered for p in required):
        yield f"{cls.__name__}(**rubric arguments)", (), offered
    yield from _config_attempts(cls, submission)


@contextlib.contextmanager
def missing_files_as_empty(replaced: list[str]) -> Iterator[None]:
    """While the model is built, data files that are not in the sandbox load as empty arrays.

    Their only use is the module's own `*_dataloader` hooks, which the grader replaces.
    """
    import numpy
    import torch

    real_torch_load, real_numpy_load = torch.load, numpy.load

    def stand_in(real: Callable[..., Any], empty: Callable[[], Any]) -> Callable[..., Any]:
        def load(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, str | os.PathLike) and not Path(file).exists():
                replaced.append(os.fspath(file))
                return empty()
            return real(file, *args, **kwargs)

        return load

    torch.load = stand_in(real_torch_load, lambda: torch.empty(0))
    numpy.load = stand_in(real_numpy_load, lambda: numpy.empty(0))
    try:
        yield
    finally:
        torch.load, numpy.load = real_torch_load, real_numpy_load


def _build_without_data(build: Callable[[], Any], replaced: list[str]) -> Any:
    with missing_files_as_empty(replaced):
        return build()


def model_factory(
    cls: type, init_kwargs: dict[str, Any], submission: Path
) -> tuple[Callable[[], Any], list[str]]:
    """A factory that builds the model the first way that works, and notes on how."""
    last_error: BaseException | None = None
    for description, args, kwargs in attempts(cls, init_kwargs, submission):
        build = functools.partial(cls, *args, **kwargs)
        replaced: list[str] = []
        for factory in (build, functools.partial(_build_without_data, build, replaced)):
            try:
                factory()
            except FileNotFoundError as error:
                last_error = error
                continue  # once more with missing data files standing in as empty arrays
            except (Exception, SystemExit) as error:
                last_error = error
                break
            notes = [f"the model was built as {description}"] if description else []
            if replaced:
                files = ", ".join(sorted(set(replaced))[:5])
                notes.append(
                    f"data files your constructor loads are not in the sandbox ({files}); they were "
                    "replaced by empty arrays, and the grader trained on its own data loaders"
                )
            return factory, notes
    if last_error is not None and not required_parameters(cls):
        raise last_error
    names = ", ".join(p.name for p in required_parameters(cls))
    raise TypeError(
        f"{cls.__name__}() needs {names}, and neither the rubric nor a config file of yours "
        f"provided a value that worked (last error: {last_error}); give the arguments defaults"
        if last_error
        else f"{cls.__name__}() needs {names}; give the arguments default values"
    )
