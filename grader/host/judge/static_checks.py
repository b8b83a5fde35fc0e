"""Checks read from the student's source text with `ast`: nothing is imported or run.

A callback counts only where it reaches a `Trainer`: built inside a `callbacks=` argument,
or held by a variable, a list or a function's return value that ends up in one. Hydra
configs that declare a callback (`_target_: ...ModelCheckpoint`) count when the code passes
callbacks to its trainer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.syntax import called_name

# Python's syntax tree takes about 500 times the source's size in memory (a 2 MB list literal
# took 1 GB to parse): the host reads no file larger than any course solution.
MAX_SOURCE_BYTES = 256 * 2**10
LIST_METHODS = ("append", "extend", "insert")


@dataclass(frozen=True)
class CallSite:
    file: str
    line: int
    monitor: str | None  # None: not given; "?" when not a literal
    reaches_trainer: bool = True

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class SourceFacts:
    calls: dict[str, list[CallSite]] = field(default_factory=dict)
    unparsable: list[str] = field(default_factory=list)


def _monitor(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "monitor":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else "?"
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value  # EarlyStopping("val_loss")
    return None


@dataclass
class _Module:
    relative: str
    tree: ast.Module
    parents: dict[int, ast.AST] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while id(node) in self.parents:
            node = self.parents[id(node)]
            yield node


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _reaching(modules: list[_Module]) -> set[int]:
    """ids of the expressions whose value ends up in some call's `callbacks=` argument."""
    returns: dict[str, list[ast.AST]] = {}
    for module in modules:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                returns.setdefault(node.name, []).extend(
                    r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None
                )
    regions: set[int] = set()
    flowing: dict[str, set[str]] = {m.relative: set() for m in modules}
    pending: list[tuple[_Module, ast.AST]] = []
    for module in modules:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                pending += [(module, k.value) for k in node.keywords if k.arg == "callbacks"]
                # trainer.callbacks.append(cb)
                func = node.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr in LIST_METHODS
                    and isinstance(func.value, ast.Attribute)
                    and func.value.attr == "callbacks"
                ):
                    pending += [(module, a) for a in node.args]
    while pending:
        module, region = pending.pop()
        if id(region) in regions:
            continue
        regions.add(id(region))
        for call in (n for n in ast.walk(region) if isinstance(n, ast.Call)):
            pending += [(module, value) for value in returns.get(called_name(call) or "", [])]
        new = _names(region) - flowing[module.relative]
        if not new:
            continue
        flowing[module.relative] |= new
        for node in ast.walk(module.tree):
            pending += _flows_into(module, node, new)
    return regions


def _flows_into(module: _Module, node: ast.AST, names: set[str]) -> list[tuple[_Module, ast.AST]]:
    """Expressions whose value a statement puts into one of `names`."""
    if isinstance(node, ast.Assign) and any(_names(t) & names for t in node.targets):
        return [(module, node.value)]
    if (
        isinstance(node, ast.AnnAssign | ast.AugAssign)
        and node.value is not None
        and _names(node.target) & names
    ):
        return [(module, node.value)]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LIST_METHODS
        and _names(node.func.value) & names
    ):
        return [(module, argument) for argument in node.args]
    return []


def _yaml_sites(path: Path, relative: str, names: set[str]) -> Iterator[tuple[str, CallSite]]:
    """Callbacks a Hydra config declares with `_target_`, and their `monitor`."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError:
        return
    nodes = [root] if root is not None else []
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.MappingNode):
            values = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            target = values.get("_target_")
            name = str(target.value).rsplit(".", 1)[-1] if isinstance(target, yaml.ScalarNode) else None
            if name in names:
                monitor = values.get("monitor")
                watched = str(monitor.value) if isinstance(monitor, yaml.ScalarNode) else None
                yield name, CallSite(relative, target.start_mark.line + 1, watched)
            nodes += [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            nodes += node.value


def scan(folder: Path, names: set[str]) -> SourceFacts:
    """Where the submission builds any of `names` (e.g. ModelCheckpoint), what it monitors,
    and whether it reaches a Trainer."""
    facts = SourceFacts(calls={name: [] for name in names})
    modules = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).as_posix()
        try:
            if path.stat().st_size > MAX_SOURCE_BYTES:
                raise ValueError("too large to read")
            modules.append(_Module(relative, ast.parse(path.read_bytes(), filename=relative)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            facts.unparsable.append(relative)
    reaching = _reaching(modules)
    for module in modules:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and called_name(node) in names:
                reaches = id(node) in reaching or any(id(a) in reaching for a in module.ancestors(node))
                site = CallSite(module.relative, node.lineno, _monitor(node), reaches)
                facts.calls[called_name(node)].append(site)
    passes_callbacks = bool(reaching)
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        if path.stat().st_size <= MAX_SOURCE_BYTES:
            for name, site in _yaml_sites(path, path.relative_to(folder).as_posix(), names):
                facts.calls[name].append(CallSite(site.file, site.line, site.monitor, passes_callbacks))
    return facts
