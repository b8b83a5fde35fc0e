"""Checks read from the student's source text with `ast`: nothing is imported or run."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CallSite:
    file: str
    line: int
    monitor: str | None  # None: not given; "?" when not a literal

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class SourceFacts:
    calls: dict[str, list[CallSite]] = field(default_factory=dict)
    unparsable: list[str] = field(default_factory=list)


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _monitor(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "monitor":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else "?"
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value  # EarlyStopping("val_loss")
    return None


def scan(folder: Path, names: set[str]) -> SourceFacts:
    """Where the submission calls any of `names` (e.g. ModelCheckpoint), and what it monitors."""
    facts = SourceFacts(calls={name: [] for name in names})
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).as_posix()
        try:
            tree = ast.parse(path.read_bytes(), filename=relative)
        except (SyntaxError, ValueError):
            facts.unparsable.append(relative)
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in names:
                site = CallSite(relative, node.lineno, _monitor(node))
                facts.calls[_called_name(node)].append(site)
    return facts
