"""Checks read from the student's source text with `ast`: nothing is imported or run.

A callback counts only where it reaches a `Trainer`: built inside a `callbacks=` argument,
or held by a variable, a list or a function's return value that ends up in one. Hydra
configs that declare a callback (`_target_: ...ModelCheckpoint`) count when the code passes
callbacks to its trainer.

Everything here is bounded by the size of what it reads, whatever the student wrote: each
file and all of them together are size-capped before they are parsed, the flow of values is
followed in one pass (each node of a tree is walked once, each name resolved once), and a
YAML alias is walked once, however often it is used. The host runs `scan_within_budget`,
which adds a CPU and memory budget for what no cap foresaw (`grader.host.budget`).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.host import budget
from grader.syntax import called_name

# Python's syntax tree takes about 500 times the source's size in memory (a 2 MB list literal
# took 1 GB to parse): the host reads no file larger than any course solution, and no more
# than four such files in all (a course project's sources are well under 200 KB).
MAX_SOURCE_BYTES = 256 * 2**10
MAX_TOTAL_BYTES = 4 * MAX_SOURCE_BYTES
# Distinct nodes of one YAML file (a Hydra config has a few hundred); an alias is one node.
MAX_YAML_NODES = 20_000
LIST_METHODS = ("append", "extend", "insert")
# libyaml where PyYAML has it: composing is then about ten times faster.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    refused: str | None = None  # why the host stopped reading the source at all, for the student
    # "file::Class" -> method name -> the line of its `def`, where a report points at a hook;
    # a class defined twice in a file is its last definition, as Python binds it.
    methods: dict[str, dict[str, int]] = field(default_factory=dict)

    def method_line(self, file: str | None, class_name: str | None, method: str) -> int | None:
        return self.methods.get(f"{file}::{class_name}", {}).get(method)


def _monitor(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "monitor":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else "?"
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value  # EarlyStopping("val_loss")
    return None


def _is_list_method(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in LIST_METHODS


@dataclass
class _Module:
    """One file's tree and what the flow of values needs from it, gathered in one walk."""

    relative: str
    tree: ast.Module
    parents: dict[int, ast.AST] = field(default_factory=dict)
    names: dict[str, list[ast.Name]] = field(default_factory=dict)  # every occurrence of each name
    # id of an assignment's target, or of a list method's receiver -> the values put into it
    receives: dict[int, list[ast.AST]] = field(default_factory=dict)
    sinks: list[ast.AST] = field(default_factory=list)  # `callbacks=...`, `trainer.callbacks.append(...)`
    returns: dict[str, list[ast.AST]] = field(default_factory=dict)  # function name -> its return values

    def __post_init__(self) -> None:
        pending: list[tuple[ast.AST, str | None]] = [(self.tree, None)]
        while pending:
            node, function = pending.pop()
            self._note(node, function)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                function = node.name
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
                pending.append((child, function))

    def _note(self, node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.Name):
            self.names.setdefault(node.id, []).append(node)
        elif isinstance(node, ast.Return) and node.value is not None and function is not None:
            self.returns.setdefault(function, []).append(node.value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self.receives.setdefault(id(target), []).append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            self.receives.setdefault(id(node.target), []).append(node.value)
        elif isinstance(node, ast.Call):
            self.sinks += [k.value for k in node.keywords if k.arg == "callbacks"]
            if _is_list_method(node):
                self.receives.setdefault(id(node.func.value), []).extend(node.args)
                receiver = node.func.value
                if isinstance(receiver, ast.Attribute) and receiver.attr == "callbacks":
                    self.sinks += node.args  # trainer.callbacks.append(cb)

    def flowing_into(self, name: ast.Name, climbed: set[int]) -> Iterator[ast.AST]:
        """Values put into any target or receiver that holds `name`.

        Climbs from `name` to the tree's root and stops at a node climbed before: every value
        above that node has been given already, so each node is climbed once in all.
        """
        node: ast.AST | None = name
        while node is not None and id(node) not in climbed:
            climbed.add(id(node))
            yield from self.receives.get(id(node), [])
            node = self.parents.get(id(node))


def _unwalked(region: ast.AST, walked: set[int]) -> Iterator[ast.AST]:
    """The nodes of `region` that no earlier region's walk reached (whose names and calls are done)."""
    pending = [region]
    while pending:
        node = pending.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        yield node
        pending.extend(ast.iter_child_nodes(node))


def _reaching(modules: list[_Module]) -> set[int]:
    """ids of the expressions whose value ends up in some call's `callbacks=` argument.

    One pass: each node is walked once, each name of each file and each function name is
    resolved once, so chains of assignments or of calls cost what they are long.
    """
    returns: dict[str, list[tuple[_Module, ast.AST]]] = {}
    for module in modules:
        for function, values in module.returns.items():
            returns.setdefault(function, []).extend((module, value) for value in values)
    pending = [(module, sink) for module in modules for sink in module.sinks]
    regions: set[int] = set()
    walked: set[int] = set()
    climbed: set[int] = set()
    flowing: set[tuple[str, str]] = set()  # (file, name)
    called: set[str] = set()
    while pending:
        module, region = pending.pop()
        if id(region) in regions:
            continue
        regions.add(id(region))
        for node in _unwalked(region, walked):
            if isinstance(node, ast.Name) and (module.relative, node.id) not in flowing:
                flowing.add((module.relative, node.id))
                for occurrence in module.names[node.id]:
                    pending += [(module, value) for value in module.flowing_into(occurrence, climbed)]
            elif isinstance(node, ast.Call) and (name := called_name(node)) and name not in called:
                called.add(name)
                pending += returns.get(name, [])
    return regions


def _sites(module: _Module, names: set[str], reaching: set[int]) -> Iterator[tuple[str, CallSite]]:
    """Calls of `names` in the file's order (breadth first), each knowing whether it is inside
    an expression that reaches a `Trainer`."""
    queue = deque([(module.tree, False)])
    while queue:
        node, inside = queue.popleft()
        inside = inside or id(node) in reaching
        if isinstance(node, ast.Call) and called_name(node) in names:
            yield called_name(node), CallSite(module.relative, node.lineno, _monitor(node), inside)
        queue.extend((child, inside) for child in ast.iter_child_nodes(node))


def _methods(module: _Module) -> dict[str, dict[str, int]]:
    """Each class's methods and the lines of their `def`s, the classes in the file's order."""
    classes = sorted(
        (node for node in ast.walk(module.tree) if isinstance(node, ast.ClassDef)), key=lambda c: c.lineno
    )
    return {
        f"{module.relative}::{cls.name}": {
            node.name: node.lineno
            for node in cls.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        for cls in classes
    }


def _yaml_sites(text: str, relative: str, names: set[str]) -> list[tuple[str, CallSite]] | None:
    """Callbacks a Hydra config declares with `_target_`, and their `monitor`; None when it
    holds more than `MAX_YAML_NODES` distinct nodes."""
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError:
        return []
    found: list[tuple[str, CallSite]] = []
    seen: set[int] = set()  # an alias is the node it names: walked once, however often used
    nodes = [root] if root is not None else []
    while nodes:
        node = nodes.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if len(seen) > MAX_YAML_NODES:
            return None
        if isinstance(node, yaml.MappingNode):
            values = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            target = values.get("_target_")
            name = str(target.value).rsplit(".", 1)[-1] if isinstance(target, yaml.ScalarNode) else None
            if name in names:
                monitor = values.get("monitor")
                watched = str(monitor.value) if isinstance(monitor, yaml.ScalarNode) else None
                found.append((name, CallSite(relative, target.start_mark.line + 1, watched)))
            nodes += [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            nodes += node.value
    return found


class _Reader:
    """Reads files up to the per-file and the total cap; what it refuses is unparsable."""

    def __init__(self, folder: Path, facts: SourceFacts) -> None:
        self.folder, self.facts, self.left = folder, facts, MAX_TOTAL_BYTES

    def read(self, path: Path) -> tuple[str, bytes] | None:
        relative = path.relative_to(self.folder).as_posix()
        size = path.stat().st_size
        if size > min(MAX_SOURCE_BYTES, self.left):
            self.facts.unparsable.append(relative)
            return None
        self.left -= size
        return relative, path.read_bytes()


def scan(folder: Path, names: set[str]) -> SourceFacts:
    """Where the submission builds any of `names` (e.g. ModelCheckpoint), what it monitors,
    and whether it reaches a Trainer."""
    facts = SourceFacts(calls={name: [] for name in names})
    reader = _Reader(folder, facts)
    modules = []
    for path in sorted(folder.rglob("*.py")):
        if (read := reader.read(path)) is None:
            continue
        relative, source = read
        try:
            modules.append(_Module(relative, ast.parse(source, filename=relative)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            facts.unparsable.append(relative)
    reaching = _reaching(modules)
    for module in modules:
        facts.methods.update(_methods(module))
        for name, site in _sites(module, names, reaching):
            facts.calls[name].append(site)
    passes_callbacks = bool(reaching)
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        if (read := reader.read(path)) is None:
            continue
        relative, text = read
        sites = _yaml_sites(text.decode("utf-8", errors="replace"), relative, names)
        if sites is None:
            facts.unparsable.append(relative)
        for name, site in sites or []:
            facts.calls[name].append(CallSite(site.file, site.line, site.monitor, passes_callbacks))
    return facts


def scan_within_budget(folder: Path, names: set[str]) -> SourceFacts:
    """`scan` in a child process under the submission's reading budget; past it, nothing is
    credited and `refused` says why."""
    try:
        return budget.run(scan, folder, names)
    except budget.OverBudget as over:
        files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*.py"))
        return SourceFacts(
            calls={name: [] for name in names},
            unparsable=files,
            refused=f"the grader stopped reading your source: {over}",
        )
