"""Where and how the student's own code builds a class, evaluated without running the scripts.

A training script says how the model is meant to be built: `MyModel(128, 10)`,
`MyModel(params.lr)` with `params` loaded by OmegaConf, `MyModel(**cfg.model)` under
`@hydra.main`, `instantiate(cfg.model)`, `MyModel(args.lr)` with argparse defaults, a
typer or click option's default. Each argument is evaluated from the script's syntax tree:
literals, the names the enclosing function and the module assign, the parameters' defaults,
the student's configs (composed as Hydra composes them), and calls of torch or of the
submission's own classes. Nothing else of the script runs; what cannot be known this way is
`UNKNOWN`, and the constructor gets it from the config or from its own default instead.
"""

from __future__ import annotations

import ast
import builtins
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from grader.syntax import called_name

IGNORED_PARTS = {"__pycache__"}
TEST_PARTS = {"tests", "test"}
MAX_SITES = 20
MAX_DEPTH = 25
MAX_TEXT = 100
# Callables an argument may call while it is evaluated: what course code builds models from.
SAFE_MODULES = ("torch", "torchvision", "torchmetrics", "numpy", "math", "omegaconf", "pathlib", "posixpath")
SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in (
        "int",
        "float",
        "str",
        "bool",
        "list",
        "tuple",
        "dict",
        "len",
        "range",
        "min",
        "max",
        "round",
        "abs",
        "sum",
    )
}
HYDRA_META_KEYS = {"_target_", "_recursive_", "_convert_", "_partial_", "_args_"}
CONFIG_LOADERS = {"load", "create", "safe_load", "full_load"}


class Unknown:
    """A value the script's text does not give away (a required CLI flag, a file's content)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


def known(value: Any) -> bool:
    return value is not UNKNOWN


@dataclass
class CallSite:
    """One place that builds the class, with its arguments as far as they are known."""

    relative: str
    line: int
    text: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # expression text of each argument, by name or index
    configs: list[Any] = field(default_factory=list)  # configs the arguments were read from
    config_files: list[str] = field(default_factory=list)


class SourceFile:
    """A parsed student file, and the enclosing functions of each node."""

    def __init__(self, path: Path, submission: Path, package: str | None) -> None:
        self.path, self.submission, self.package = path, submission, package
        self.relative = path.relative_to(submission).as_posix()
        self.tree = ast.parse(path.read_bytes(), filename=str(path))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node

    def functions_around(self, node: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """Enclosing function definitions, innermost first."""
        chain = []
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                chain.append(node)
        return chain

    @cached_property
    def trains(self) -> bool:
        return any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "fit"
            for n in ast.walk(self.tree)
        )


def python_files(submission: Path) -> Iterator[Path]:
    for path in sorted(submission.rglob("*.py")):
        if not IGNORED_PARTS.intersection(path.relative_to(submission).parts):
            yield path


def parsed_files(submission: Path, package_of: Callable[[Path], str | None]) -> list[SourceFile]:
    files = []
    for path in python_files(submission):
        try:
            files.append(SourceFile(path, submission, package_of(path)))
        except (SyntaxError, ValueError, OSError):
            continue
    return files


def find_call_sites(class_name: str, files: list[SourceFile], configs: Configs) -> list[CallSite]:
    """Every place that builds `class_name`, the training scripts' first, tests' last."""
    sites = []
    for file in files:
        in_tests = bool(TEST_PARTS.intersection(Path(file.relative).parts[:-1])) or Path(
            file.relative
        ).name.startswith("test_")
        for node in ast.walk(file.tree):
            if not isinstance(node, ast.Call):
                continue
            name = called_name(node)
            if name == class_name:
                site = _direct_site(node, file, configs)
            elif name == "instantiate" and node.args:
                site = _instantiate_site(node, file, configs, class_name)
            else:
                continue
            if site is not None:
                sites.append((in_tests, not file.trains, file.relative, node.lineno, site))
    sites.sort(key=lambda entry: entry[:4])
    return [entry[-1] for entry in sites[:MAX_SITES]]


def _text(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _direct_site(call: ast.Call, file: SourceFile, configs: Configs) -> CallSite:
    evaluator = Evaluator(file, call, configs)
    site = CallSite(file.relative, call.lineno, _text(call))
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            value = evaluator.value(argument.value)
            if isinstance(value, list | tuple):
                site.args += list(value)
                site.sources += [f"{_text(argument)}[{i}]" for i in range(len(value))]
                continue
            site.args.append(UNKNOWN)
        else:
            site.args.append(evaluator.value(argument))
        site.sources.append(f"#{index}={_text(argument)}")
    for keyword in call.keywords:
        value = evaluator.value(keyword.value)
        if keyword.arg is None:  # **cfg.model
            for key, item in _mapping_items(value):
                site.kwargs[key] = item
                site.sources.append(f"{key}={_text(keyword.value)}")
        else:
            site.kwargs[keyword.arg] = value
            site.sources.append(f"{keyword.arg}={_text(keyword.value)}")
    site.configs, site.config_files = evaluator.configs_read, evaluator.config_files
    return site


def _instantiate_site(call: ast.Call, file: SourceFile, configs: Configs, class_name: str) -> CallSite | None:
    """`hydra.utils.instantiate(cfg.model)` whose `_target_` names the class."""
    evaluator = Evaluator(file, call, configs)
    node = evaluator.value(call.args[0])
    target = _mapping_get(node, "_target_")
    if not isinstance(target, str) or target.rsplit(".", 1)[-1] != class_name:
        return None
    site = CallSite(file.relative, call.lineno, _text(call))
    for key, item in _mapping_items(node):
        if key not in HYDRA_META_KEYS:
            site.kwargs[key] = item
            site.sources.append(f"{key}={_text(call.args[0])}.{key}")
    for keyword in call.keywords:
        if keyword.arg and keyword.arg not in HYDRA_META_KEYS:
            site.kwargs[keyword.arg] = evaluator.value(keyword.value)
            site.sources.append(f"{keyword.arg}={_text(keyword.value)}")
    site.configs, site.config_files = evaluator.configs_read, evaluator.config_files
    return site


def _mapping_items(value: Any) -> list[tuple[str, Any]]:
    try:
        from omegaconf import DictConfig

        if isinstance(value, DictConfig):
            return [(str(k), _plain(value, k)) for k in value]
    except ImportError:
        pass
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    return []


def _plain(config: Any, key: Any) -> Any:
    try:
        return config[key]
    except Exception:
        return UNKNOWN


def _mapping_get(value: Any, key: str) -> Any:
    return dict(_mapping_items(value)).get(key, UNKNOWN)


# A config whose aliases unfold past this many nodes is no config of this course: OmegaConf
# copies every alias it meets, so ten aliases of ten aliases, eight levels deep, is 10^8 nodes.
MAX_UNFOLDED_NODES = 100_000


def unfolds_too_far(path: Path) -> bool:
    """Whether a YAML file's nodes, its aliases unfolded, pass `MAX_UNFOLDED_NODES`; counted on
    the composed graph, each node once, so the count itself is linear in the text."""
    import yaml

    try:
        root = yaml.compose(path.read_text(encoding="utf-8", errors="replace"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, OSError, ValueError):
        return False  # not for this count to refuse: loading it fails on its own
    sizes: dict[int, int] = {}
    pending = [(root, False)] if root is not None else []
    while pending:  # post-order without recursion: a node's size once its children's are known
        node, ready = pending.pop()
        children = (
            [n for pair in node.value for n in pair]
            if isinstance(node, yaml.MappingNode)
            else (node.value if isinstance(node, yaml.SequenceNode) else [])
        )
        if ready:
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_UNFOLDED_NODES + 1)
        elif id(node) not in sizes:
            pending.append((node, True))
            pending += [(child, False) for child in children if id(child) not in sizes]
    return root is not None and sizes[id(root)] > MAX_UNFOLDED_NODES


class Configs:
    """The student's config files, loaded or composed once, with where each came from."""

    def __init__(self, submission: Path) -> None:
        self.submission = submission
        self.loaded: dict[tuple[str, str | None], Any] = {}
        self.origin: dict[int, str] = {}

    def _inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.submission.resolve())

    def file(self, path: Path) -> Any:
        """A YAML file, composed with Hydra when it has a defaults list."""
        if not (path.is_file() and self._inside(path)) or unfolds_too_far(path):
            return UNKNOWN
        key = (str(path.resolve()), None)
        if key not in self.loaded:
            try:
                from omegaconf import OmegaConf

                config = OmegaConf.load(path)
                if "defaults" in config:
                    config = self.compose(path.parent, path.stem)
            except Exception:
                config = UNKNOWN
            self.loaded[key] = config
            if known(config):
                self.origin[id(config)] = path.relative_to(self.submission).as_posix()
        return self.loaded[key]

    def compose(self, folder: Path, name: str) -> Any:
        """What `@hydra.main(config_path=folder, config_name=name)` hands the function."""
        name = name.removesuffix(".yaml").removesuffix(".yml")
        if not (folder.is_dir() and self._inside(folder)):
            return UNKNOWN
        key = (str(folder.resolve()), name)
        if any(unfolds_too_far(path) for path in folder.rglob("*.y*ml")):
            return UNKNOWN  # Hydra would read every file of its groups
        if key not in self.loaded:
            try:
                from hydra import compose, initialize_config_dir
                from hydra.core.global_hydra import GlobalHydra

                GlobalHydra.instance().clear()
                with initialize_config_dir(config_dir=str(folder.resolve()), version_base=None):
                    config = compose(config_name=name)
            except Exception:
                config = self._compose_leniently(folder, name)
            self.loaded[key] = config
            if known(config):
                relative = (folder / f"{name}.yaml").resolve().relative_to(self.submission.resolve())
                self.origin[id(config)] = relative.as_posix()
        return self.loaded[key]

    def _compose_leniently(self, folder: Path, name: str) -> Any:
        """Hydra's composition where Hydra refuses it (a defaults entry whose file is missing):
        each group option that exists goes under its group's key, the rest is left out."""
        try:
            from omegaconf import DictConfig, OmegaConf

            config = OmegaConf.load(folder / f"{name}.yaml")
            if not isinstance(config, DictConfig):
                return UNKNOWN
            defaults = config.pop("defaults", [])
            parts = []
            for entry in defaults:
                if isinstance(entry, str) and entry != "_self_":
                    path = folder / f"{entry}.yaml"
                    if path.is_file() and not unfolds_too_far(path):
                        parts.append(OmegaConf.load(path))
                elif isinstance(entry, DictConfig):
                    for group, option in entry.items():
                        path = folder / str(group).split("@")[0].lstrip("/+") / f"{option}.yaml"
                        if path.is_file() and isinstance(option, str) and not unfolds_too_far(path):
                            loaded = OmegaConf.load(path)
                            parts.append(OmegaConf.create({str(group).split("@")[0].lstrip("/+"): loaded}))
            return OmegaConf.merge(*parts, config)
        except Exception:
            return UNKNOWN

    def hydra_mains(self, files: list[SourceFile]) -> list[Any]:
        """The configs that `@hydra.main` functions receive: the primary configs."""
        found = []
        for file in files:
            for node in ast.walk(file.tree):
                if isinstance(node, ast.FunctionDef):
                    config = Evaluator(file, node, self).hydra_config(node)
                    if config is not None and known(config):
                        found.append(config)
        return found


class Evaluator:
    """Evaluates an expression of a student file as it would be at one call, from text alone."""

    def __init__(self, file: SourceFile, at: ast.AST, configs: Configs) -> None:
        self.file, self.at, self.configs = file, at, configs
        self.line = getattr(at, "lineno", 0)
        self.functions = file.functions_around(at)
        self.depth = 0
        self.configs_read: list[Any] = []
        self.config_files: list[str] = []

    # ------------------------------------------------------------------ expressions
    def value(self, node: ast.AST) -> Any:
        if self.depth > MAX_DEPTH:
            return UNKNOWN
        self.depth += 1
        try:
            return self._value(node)
        except Exception:
            return UNKNOWN
        finally:
            self.depth -= 1

    def _value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return UNKNOWN if node.value is Ellipsis else node.value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.value(e) for e in node.elts]
            if not all(map(known, items)):
                return UNKNOWN
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            result = {}
            for key, item in zip(node.keys, node.values, strict=True):
                if key is None:
                    result.update(_mapping_items(self.value(item)))
                else:
                    result[self.value(key)] = self.value(item)
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            operators = {ast.USub: lambda v: -v, ast.UAdd: lambda v: +v, ast.Not: lambda v: not v}
            return operators[type(node.op)](operand) if known(operand) else UNKNOWN
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.JoinedStr):
            parts = [
                self.value(v.value) if isinstance(v, ast.FormattedValue) else v.value for v in node.values
            ]
            return "".join(map(str, parts)) if all(map(known, parts)) else UNKNOWN
        if isinstance(node, ast.IfExp):
            test = self.value(node.test)
            return UNKNOWN if not known(test) else self.value(node.body if test else node.orelse)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Subscript):
            container, index = self.value(node.value), self.value(node.slice)
            return container[index] if known(container) and known(index) else UNKNOWN
        if isinstance(node, ast.Call):
            return self._call(node)
        return UNKNOWN

    def _binary(self, node: ast.BinOp) -> Any:
        left, right = self.value(node.left), self.value(node.right)
        if not (known(left) and known(right)):
            return UNKNOWN
        operators = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
            ast.FloorDiv: lambda a, b: a // b,
            ast.Mod: lambda a, b: a % b,
            ast.Pow: lambda a, b: a**b,
        }
        operator = operators.get(type(node.op))
        return operator(left, right) if operator else UNKNOWN

    def _attribute(self, node: ast.Attribute) -> Any:
        owner = self.value(node.value)
        if not known(owner):
            return UNKNOWN
        value = getattr(owner, node.attr, UNKNOWN)
        return UNKNOWN if value is None and _is_config(owner) else value

    def _call(self, node: ast.Call) -> Any:
        name = called_name(node)
        if name in ("parse_args", "parse_known_args"):
            defaults = self.argparse_defaults()
            return (defaults, []) if name == "parse_known_args" else defaults
        if name == "getcwd":
            return str(self.file.submission)
        if name in CONFIG_LOADERS and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if owner.endswith(("OmegaConf", "yaml")) and node.args:
                return self._config_from(self.value(node.args[0]), name)
        if name == "open" and node.args:
            return OpenedFile(self.value(node.args[0]))
        function = self.value(node.func)
        if not known(function) or not self._may_call(function):
            return UNKNOWN
        args = [self.value(a) for a in node.args if not isinstance(a, ast.Starred)]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        if len(args) != len(node.args) or len(kwargs) != len(node.keywords):
            return UNKNOWN
        if not all(map(known, [*args, *kwargs.values()])):
            return UNKNOWN
        return function(*args, **kwargs)

    def _may_call(self, function: Any) -> bool:
        if any(function is b for b in SAFE_BUILTINS.values()):
            return True
        module = getattr(function, "__module__", "") or ""
        if module.split(".")[0] in SAFE_MODULES:
            return True
        source = getattr(__import__("sys").modules.get(module), "__file__", None)
        return bool(source) and Path(source).resolve().is_relative_to(self.file.submission.resolve())

    def _config_from(self, source: Any, loader: str) -> Any:
        if isinstance(source, OpenedFile):
            source = source.path
        if loader == "create":
            from omegaconf import OmegaConf

            return OmegaConf.create(source) if known(source) else UNKNOWN
        if not isinstance(source, str | os.PathLike):
            return UNKNOWN
        config = UNKNOWN
        for base in (self.file.submission, self.file.path.parent):
            config = self.configs.file(base / source)
            if known(config):
                break
        return self._read(config)

    def _read(self, config: Any) -> Any:
        if known(config) and id(config) in self.configs.origin:
            self.configs_read.append(config)
            origin = self.configs.origin[id(config)]
            if origin not in self.config_files:
                self.config_files.append(origin)
        return config

    # ------------------------------------------------------------------ names
    def name(self, name: str) -> Any:
        if name == "__file__":
            return str(self.file.path)
        for function in self.functions:
            found = self._assigned_in(function.body, name, before=self.line)
            if found is not _ABSENT:
                return found
            parameter = self._parameter(function, name)
            if parameter is not _ABSENT:
                return parameter
            imported = self._imported(function.body, name)
            if imported is not _ABSENT:
                return imported
        before = self.line if not self.functions else None
        found = self._assigned_in(self.file.tree.body, name, before=before)
        if found is not _ABSENT:
            return found
        imported = self._imported(self.file.tree.body, name)
        if imported is not _ABSENT:
            return imported
        return SAFE_BUILTINS.get(name, UNKNOWN)

    def _assigned_in(self, body: list[ast.stmt], name: str, before: int | None) -> Any:
        """The value of the last assignment to `name` in `body` (not in nested definitions)."""
        last: tuple[int, ast.AST, ast.AST] | None = None
        for statement in _statements(body):
            if before is not None and statement.lineno >= before:
                continue
            for target, value in _assignments(statement):
                if _binds(target, name) and (last is None or statement.lineno >= last[0]):
                    last = (statement.lineno, target, value)
        if last is None:
            return _ABSENT
        _, target, value = last
        evaluated = self.value(value) if not isinstance(value, _WithTarget) else self.value(value.node)
        return _unpack(target, name, evaluated)

    def _parameter(self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> Any:
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        every = positional + arguments.kwonlyargs
        if name not in {a.arg for a in every}:
            return _ABSENT
        if positional and positional[0].arg == name:
            config = self.hydra_config(function)
            if config is not None:
                return config
        defaults = dict(
            zip(
                [a.arg for a in positional][len(positional) - len(arguments.defaults) :],
                arguments.defaults,
                strict=True,
            )
        )
        defaults.update(
            {a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d}
        )
        if name in defaults:
            return self._option_default(defaults[name])
        clicked = self._click_default(function, name)
        return clicked if known(clicked) else self._from_caller(function, positional, name)

    def _from_caller(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, positional: list, name: str
    ) -> Any:
        """A parameter without a default: what the file's own call of the function passes."""
        index = [a.arg for a in positional].index(name) if name in [a.arg for a in positional] else None
        for node in ast.walk(self.file.tree):
            if not (isinstance(node, ast.Call) and called_name(node) == function.name):
                continue
            passed = next((k.value for k in node.keywords if k.arg == name), None)
            if passed is None and index is not None and index < len(node.args):
                passed = node.args[index]
            if passed is None or isinstance(passed, ast.Starred):
                continue
            caller = Evaluator(self.file, node, self.configs)
            caller.depth = self.depth + 1
            value = caller.value(passed)
            self.configs_read += caller.configs_read
            self.config_files += [f for f in caller.config_files if f not in self.config_files]
            return value
        return UNKNOWN

    def _option_default(self, node: ast.AST) -> Any:
        """A parameter default; `typer.Option(0.001, ...)` gives its first argument."""
        if isinstance(node, ast.Call) and called_name(node) in ("Option", "Argument"):
            for keyword in node.keywords:
                if keyword.arg == "default":
                    return self.value(keyword.value)
            return self.value(node.args[0]) if node.args else UNKNOWN
        return self.value(node)

    def _click_default(self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> Any:
        for decorator in function.decorator_list:
            if not (isinstance(decorator, ast.Call) and called_name(decorator) in ("option", "argument")):
                continue
            flags = [
                a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if any(_dest(flag) == name for flag in flags):
                for keyword in decorator.keywords:
                    if keyword.arg == "default":
                        return self.value(keyword.value)
        return UNKNOWN

    def hydra_config(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Any | None:
        """The composed config a `@hydra.main(...)` function receives; None without one."""
        for decorator in function.decorator_list:
            if not (isinstance(decorator, ast.Call) and called_name(decorator) == "main"):
                continue
            if "hydra" not in ast.unparse(decorator.func):
                continue
            options = {k.arg: self.value(k.value) for k in decorator.keywords if k.arg}
            folder, name = options.get("config_path"), options.get("config_name")
            if not isinstance(folder, str) or not isinstance(name, str):
                return UNKNOWN
            return self._read(self.configs.compose(self.file.path.parent / folder, name))
        return None

    def _imported(self, body: list[ast.stmt], name: str) -> Any:
        for statement in _statements(body):
            if not isinstance(statement, ast.Import | ast.ImportFrom):
                continue
            bound = {(a.asname or a.name).split(".")[0] for a in statement.names}
            if name not in bound:
                continue
            namespace: dict[str, Any] = {"__name__": f"{self.file.package or ''}.__grader_eval__".lstrip(".")}
            namespace["__package__"] = self.file.package
            try:
                exec(
                    compile(ast.Module(body=[statement], type_ignores=[]), str(self.file.path), "exec"),
                    namespace,
                )
            except (Exception, SystemExit):
                return UNKNOWN
            return namespace.get(name, UNKNOWN)
        return _ABSENT

    def argparse_defaults(self) -> SimpleNamespace:
        """What `parser.parse_args()` gives without command-line flags: each option's default."""
        values: dict[str, Any] = {}
        for node in ast.walk(self.file.tree):
            if not (isinstance(node, ast.Call) and called_name(node) == "add_argument" and node.args):
                continue
            flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            options = {k.arg: k.value for k in node.keywords if k.arg}
            dest = self.value(options["dest"]) if "dest" in options else None
            dest = (
                dest if isinstance(dest, str) else next((_dest(f) for f in flags if f.startswith("--")), None)
            )
            dest = dest or (_dest(flags[0]) if flags else None)
            if not dest:
                continue
            if "default" in options:
                values[dest] = self.value(options["default"])
            else:
                action = self.value(options["action"]) if "action" in options else None
                values[dest] = {"store_true": False, "store_false": True}.get(action, UNKNOWN)
        return _Defaults(**values)


class _Defaults(SimpleNamespace):
    """argparse defaults; an option never declared is unknown, not an error."""

    def __getattr__(self, name: str) -> Any:
        return UNKNOWN


@dataclass
class OpenedFile:
    path: Any


@dataclass
class _WithTarget:
    node: ast.AST


_ABSENT = object()


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _is_config(value: Any) -> bool:
    return type(value).__name__ in ("DictConfig", "ListConfig")


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a body and of its blocks, not of nested functions or classes."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for block in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(statement, block, []) or [])
        for handler in getattr(statement, "handlers", []) or []:
            yield from _statements(handler.body)


def _assignments(statement: ast.stmt) -> list[tuple[ast.AST, Any]]:
    if isinstance(statement, ast.Assign):
        return [(target, statement.value) for target in statement.targets]
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        return [(statement.target, statement.value)]
    if isinstance(statement, ast.With | ast.AsyncWith):
        return [
            (item.optional_vars, _WithTarget(item.context_expr))
            for item in statement.items
            if item.optional_vars
        ]
    return []


def _binds(target: ast.AST, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, ast.Tuple | ast.List):
        return any(_binds(t, name) for t in target.elts)
    return False


def _unpack(target: ast.AST, name: str, value: Any) -> Any:
    if isinstance(target, ast.Name):
        return value
    if not isinstance(value, list | tuple) or len(value) != len(target.elts):
        return UNKNOWN
    for element, item in zip(target.elts, value, strict=True):
        if _binds(element, name):
            return _unpack(element, name, item)
    return UNKNOWN


def sys_path_additions(files: list[SourceFile]) -> list[Path]:
    """Folders the scripts add to `sys.path`, inside the submission, as the scripts compute them."""
    found: list[Path] = []
    root = files[0].submission.resolve() if files else None
    for file in files:
        for node in ast.walk(file.tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if (
                node.func.attr not in ("append", "insert", "extend")
                or ast.unparse(node.func.value) != "sys.path"
            ):
                continue
            evaluator = Evaluator(file, node, Configs(file.submission))
            arguments = [evaluator.value(a) for a in node.args]
            values = arguments[-1:] if node.func.attr != "extend" else (arguments[0] if arguments else [])
            for value in values if isinstance(values, list | tuple) else []:
                if not isinstance(value, str | os.PathLike):
                    continue
                for base in (file.submission, file.path.parent):
                    folder = (base / value).resolve()
                    if folder.is_dir() and folder.is_relative_to(root) and folder not in found:
                        found.append(folder)
                        break
    return found


def called_names(files: list[SourceFile]) -> set[str]:
    """Every name the student's code calls, e.g. `MyAwesomeModel` of `MyAwesomeModel()`."""
    return {called_name(n) for file in files for n in ast.walk(file.tree) if isinstance(n, ast.Call)} - {None}


def trained_class_names(files: list[SourceFile]) -> set[str]:
    """Names of the classes the scripts pass to `Trainer.fit`, directly or through a variable."""
    names: set[str] = set()
    for file in files:
        for node in ast.walk(file.tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "fit"
            ):
                continue
            model = next(
                (k.value for k in node.keywords if k.arg == "model"), node.args[0] if node.args else None
            )
            if isinstance(model, ast.Name):
                functions = file.functions_around(node)
                body = functions[0].body if functions else file.tree.body
                assigned = [
                    value
                    for statement in _statements(body)
                    for target, value in _assignments(statement)
                    if _binds(target, model.id) and isinstance(value, ast.AST)
                ]
                model = assigned[-1] if assigned else None
            name = _constructed_name(model)
            if name:
                names.add(name)
    return names


def _constructed_name(node: ast.AST | None) -> str | None:
    """`Cls(...)`, also behind method chains such as `Cls(...).cuda()` or `.to(device)`."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            node = node.func.value
            continue
        return called_name(node)
    return None


def script_folders(files: list[SourceFile]) -> list[Path]:
    """Folders of the scripts that train: `python folder/train.py` puts them on `sys.path`."""
    found: list[Path] = []
    for file in files:
        main_guard = any(isinstance(s, ast.If) and "__name__" in ast.unparse(s.test) for s in file.tree.body)
        folder = file.path.parent.resolve()
        if (file.trains or main_guard) and folder not in found:
            found.append(folder)
    return found
