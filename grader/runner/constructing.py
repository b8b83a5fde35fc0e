"""Build the student's model the way their own code builds it.

In order, the first that works: each place their code builds the class (training scripts
first, see `call_sites`), with the arguments filled in parts: the call's own values, then
the student's config by parameter name, then the parameters' defaults; no arguments; the
rubric's keyword arguments; their config alone (passed whole to a parameter that wants a
config, or key by key). Missing data files load as stand-ins meanwhile (`stand_ins`).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.runner import call_sites
from grader.runner.call_sites import UNKNOWN, CallSite, Configs, SourceFile, known
from grader.runner.problems import MissingArguments
from grader.runner.stand_ins import StandIns, first_that_builds

CONFIG_DIRS = ("configs", "config", "conf")
MAX_CONFIGS = 20
# Parameter names that stand for a whole config; any other parameter gets a value, not a config.
CONFIG_PARAMETERS = {
    "cfg",
    "config",
    "conf",
    "configs",
    "hparams",
    "hyperparameters",
    "params",
    "args",
    "opt",
    "hp",
}
CONFIG_ANNOTATIONS = ("Config", "dict", "Dict", "Mapping", "Namespace")


def required_parameters(cls: type) -> list[inspect.Parameter]:
    parameters = inspect.signature(cls).parameters.values()
    return [p for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def wants_config(parameter: inspect.Parameter) -> bool:
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return parameter.name in CONFIG_PARAMETERS or (
        annotation is not parameter.empty and any(word in text for word in CONFIG_ANNOTATIONS)
    )


def config_files(submission: Path) -> list[Path]:
    """YAML files, those in a configs/ folder or named config* first (staging left out the
    folders runs write, such as Hydra's `outputs/`)."""
    files = [p for p in submission.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")]

    def rank(path: Path) -> tuple[int, int, str]:
        relative = path.relative_to(submission)
        in_config_dir = any(part in CONFIG_DIRS for part in relative.parts[:-1])
        return (not in_config_dir, not path.stem.startswith("config"), relative.as_posix())

    return sorted(files, key=rank)[:MAX_CONFIGS]


def search_space(config: Any) -> bool:
    """A sweep's search space, not values: a wandb sweep (`parameters` with its `method`,
    `program` or `metric`), whose `lr` is a list or a distribution to draw from."""
    from omegaconf import DictConfig

    return (
        isinstance(config, DictConfig)
        and "parameters" in config
        and any(key in config for key in ("method", "program", "metric"))
    )


def find_key(config: Any, name: str) -> Any:
    """The first value stored under `name` anywhere in a nested config (UNKNOWN if none).
    Hydra's own section (`hydra:`, its sweeper's `params` among it) and search spaces hold
    no values for the model."""
    from omegaconf import DictConfig

    if isinstance(config, DictConfig) and not search_space(config):
        if name in config:
            try:
                return config[name]
            except Exception:
                return UNKNOWN
        for key in config:
            if key == "hydra":
                continue
            try:
                found = find_key(config[key], name)
            except Exception:
                continue
            if known(found):
                return found
    return UNKNOWN


def expected_kind(parameter: inspect.Parameter) -> type | None:
    """What a parameter takes, from its default or its annotation: a number, a flag or a
    text (None: anything, as far as the signature says)."""
    annotation = parameter.annotation
    named = {"int": int, "float": float, "bool": bool, "str": str}
    if isinstance(annotation, str):
        annotation = named.get(annotation.replace("| None", "").replace("Optional[", "").strip(" ]"))
    for hint in (parameter.default, annotation):
        if hint is parameter.empty or hint is None:
            continue
        kind = hint if isinstance(hint, type) else type(hint)
        if kind is bool:
            return bool
        if kind in (int, float):
            return float
        if kind is str:
            return str
    return None


def fits(parameter: inspect.Parameter, value: Any) -> bool:
    """Whether a value a config or a script offers is of the kind the parameter takes: a number
    for a number (a sweep's list of learning rates is not one), a flag for a flag."""
    kind = expected_kind(parameter)
    if kind is None:
        return True
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def scalar_fits(parameter: inspect.Parameter, value: Any) -> bool:
    """Whether a value a script passes may go to the parameter: no list or mapping for a number,
    a flag or a text (a script's own scalars are passed as they are, as the script would)."""
    from omegaconf import DictConfig, ListConfig

    containers = (list, tuple, dict, ListConfig, DictConfig)
    return expected_kind(parameter) is None or not isinstance(value, containers)


def config_value(config: Any, parameter: inspect.Parameter) -> Any:
    """The config's value for a parameter, by name, when it fits the parameter; a whole section
    only where a config is wanted."""
    from omegaconf import DictConfig

    value = find_key(config, parameter.name)
    if isinstance(value, DictConfig) and not wants_config(parameter):
        return UNKNOWN
    return value if known(value) and fits(parameter, value) else UNKNOWN


@dataclass
class Attempt:
    """One way to call the constructor, and what it still lacks."""

    description: str | None  # for the feedback; None: plain `Cls()`
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # why it cannot be tried


class Sources:
    """The submission's files and configs, parsed and loaded once for all attempts."""

    def __init__(self, submission: Path, package_of: Callable[[Path], str | None]) -> None:
        self.submission = submission
        self.files: list[SourceFile] = call_sites.parsed_files(submission, package_of)
        self.configs = Configs(submission)

    @functools.cached_property
    def primary_configs(self) -> list[Any]:
        """What `@hydra.main` hands its function first, then the YAML files by rank."""
        found = self.configs.hydra_mains(self.files)
        loaded = [self.configs.file(path) for path in config_files(self.submission)]
        loaded.sort(
            key=lambda config: not (known(config) and "defaults" in self.configs.origin.get(id(config), ""))
        )
        for config in loaded:
            if known(config) and not search_space(config) and all(config is not seen for seen in found):
                found.append(config)
        return found

    def origin(self, config: Any) -> str:
        return self.configs.origin.get(id(config), "your config")


def _from_site(cls: type, site: CallSite, sources: Sources) -> Attempt | None:
    """The call site's arguments bound to the signature and filled in parts."""
    signature = inspect.signature(cls)
    parameters = list(signature.parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_any_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters)
    extra: list[Any] = []
    given: dict[str, tuple[Any, str]] = {}
    for index, value in enumerate(site.args):
        source = site.sources[index].split("=", 1)[1] if "=" in site.sources[index] else site.sources[index]
        if index < len(positional):
            given[positional[index].name] = (value, source)
        elif any(p.kind == p.VAR_POSITIONAL for p in parameters) and known(value):
            extra.append(value)
        else:
            return None  # more arguments than the constructor takes: not this class's call
    keyword_sources = dict(s.split("=", 1) for s in site.sources if not s.startswith("#"))
    for name, value in site.kwargs.items():
        if name in signature.parameters or takes_any_keyword:
            given[name] = (value, keyword_sources.get(name, name))
    configs = [*site.configs, *sources.primary_configs]
    kwargs: dict[str, Any] = {}
    args: list[Any] = []
    missing: list[str] = []
    filled_from: list[str] = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        value, source = given.pop(parameter.name, (UNKNOWN, None))
        if known(value) and not scalar_fits(parameter, value):
            value = UNKNOWN  # e.g. a sweep's list of learning rates: the config or the default instead
        if not known(value):
            for config in configs:
                value = config_value(config, parameter)
                if known(value):
                    filled_from.append(f"`{parameter.name}` from {sources.origin(config)}")
                    break
        if not known(value):
            if parameter.default is parameter.empty:
                missing.append(f"`{parameter.name}`" + (f" (`{source}`)" if source else ""))
        elif parameter.kind == parameter.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[parameter.name] = value
    kwargs.update({name: value for name, (value, _) in given.items() if known(value)})  # **kwargs
    if not site.args and not site.kwargs and not missing:
        return Attempt(None)  # `Cls()`: nothing to tell
    description = f"as in {site.relative}:{site.line}: `{site.text}`"
    if site.config_files:
        description += f" with values from {', '.join(site.config_files)}"
    if filled_from:
        description += f"; {', '.join(filled_from)}"
    return Attempt(description, (*args, *extra), kwargs, missing)


def _config_attempts(cls: type, sources: Sources) -> Iterator[Attempt]:
    from omegaconf import DictConfig

    required = required_parameters(cls)
    for config in sources.primary_configs:
        origin = sources.origin(config)
        if len(required) == 1 and wants_config(required[0]):
            yield Attempt(f"as `{cls.__name__}(cfg)` with cfg from {origin}", (config,))
            for key in config:
                if isinstance(config[key], DictConfig):
                    yield Attempt(f"as `{cls.__name__}(cfg.{key})` with cfg from {origin}", (config[key],))
        values = {p.name: config_value(config, p) for p in required}
        if all(known(value) for value in values.values()):
            names = ", ".join(values)
            yield Attempt(f"as `{cls.__name__}({names})` with values from {origin}", (), values)


def attempts(cls: type, init_kwargs: dict[str, Any], sources: Sources) -> Iterator[Attempt]:
    for site in call_sites.find_call_sites(cls.__name__, sources.files, sources.configs):
        attempt = _from_site(cls, site, sources)
        if attempt is not None:
            yield attempt
    required = required_parameters(cls)
    if not required:
        yield Attempt(None)
        return
    accepted = set(inspect.signature(cls).parameters)
    offered = {k: v for k, v in init_kwargs.items() if k in accepted}
    if all(p.name in offered for p in required):
        yield Attempt(f"as `{cls.__name__}(**rubric arguments)`", (), offered)
    yield from _config_attempts(cls, sources)


def own_modules(cls: type, args: tuple | list, kwargs: dict[str, Any]) -> Callable[[], Any]:
    """`cls(*args, **kwargs)`, except that an argument that is a module (a backbone the student's
    script built before the call) is copied for each model: otherwise every model would share its
    weights, and loading one model's weights would load them into all of them."""

    def fresh(value: Any) -> Any:
        return copy.deepcopy(value) if isinstance(value, torch.nn.Module) else value

    def build() -> Any:
        return cls(*map(fresh, args), **{name: fresh(value) for name, value in kwargs.items()})

    return build


def model_factory(
    cls: type,
    init_kwargs: dict[str, Any],
    sources: Sources,
    stand_ins: StandIns | None = None,
) -> tuple[Callable[[], Any], list[str], tuple[int, ...] | None]:
    """A factory that builds the model the first way that works, notes on how, and the
    image shape of the data stand-ins it needed (None: no stand-ins).

    Raises the constructor's own error when a complete call of it raised, else
    `MissingArguments` (a `TypeError`) saying which arguments nothing in the student's code provides.
    """
    constructor_error: BaseException | None = None
    incomplete: list[str] = []
    for attempt in attempts(cls, init_kwargs, sources):
        if attempt.missing:
            incomplete.append(f"{attempt.description} leaves {', '.join(attempt.missing)} unknown")
            continue
        build = own_modules(cls, attempt.args, attempt.kwargs)
        try:
            if stand_ins is None:
                build()
                shape = None
            else:
                _, shape = first_that_builds(stand_ins, build)
        except (Exception, SystemExit) as error:
            constructor_error = constructor_error or error
            continue
        notes = [f"the model was built {attempt.description}"] if attempt.description else []
        return build, notes, shape
    if constructor_error is not None:
        raise constructor_error
    names = ", ".join(p.name for p in required_parameters(cls))
    why = (
        "; ".join(incomplete[:3])
        if incomplete
        else "nothing in your code calls it with values or has a config with these keys"
    )
    raise MissingArguments(
        f"{cls.__name__}() needs {names}, and the grader cannot tell their values without running "
        f"your scripts ({why}); give the arguments default values",
        [p.name for p in required_parameters(cls)],
    )
