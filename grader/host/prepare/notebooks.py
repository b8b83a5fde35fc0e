"""Jupyter notebooks as plain Python, with IPython's own syntax neutralised line for line.

`!pip install …`, `%matplotlib inline`, `x = !ls`, `model?` and cell magics such as `%%time`
are not Python. Each such line becomes a `pass` (or `x = None`) with the original text as a
comment, so every other line keeps its place and feedback can point into the right cell.
Cells that only time or capture their body (`%%time`, `%%capture`, …) keep the body as code;
other cell magics (`%%bash`, `%%writefile`, …) are commented out whole. A cell that already
parses is left untouched.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

# Cell magics whose body is ordinary Python that runs as it is.
PYTHON_BODY_MAGICS = {"time", "timeit", "capture", "prun", "memit", "debug", "skip"}
SHELL_OR_MAGIC = re.compile(r"^(?P<indent>\s*)[!%]")
ASSIGNED_MAGIC = re.compile(r"^(?P<indent>\s*)(?P<target>[\w.,\s\[\]]+?)\s*=\s*[!%]")
HELP = re.compile(r"^(?P<indent>\s*)(\?{1,2}[\w.]+|[\w.\[\]()'\"]+\?{1,2})\s*$")
MAX_SHOWN = 5


@dataclass
class Converted:
    source: str
    neutralised: list[tuple[int, int, str]] = field(default_factory=list)  # (code cell, line, text)


class NotebookError(Exception):
    """The file is not a notebook nbconvert can read."""


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def _comment(line: str, indent: str, replacement: str = "pass") -> str:
    return f"{indent}{replacement}  # not run by the grader: {line.strip()}"


def neutralise(cell: str) -> tuple[str, list[tuple[int, str]]]:
    """The cell with IPython syntax turned into Python, and the (line, text) it changed."""
    if _parses(cell):
        return cell, []
    lines = cell.split("\n")
    changed: list[tuple[int, str]] = []
    first = lines[0].strip()
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        changed.append((1, first))
        if magic in PYTHON_BODY_MAGICS:
            lines[0] = _comment(lines[0], "")
        else:
            return "\n".join(f"# {line}" for line in lines), changed
    for index, line in enumerate(lines):
        if index == 0 and first.startswith("%%"):
            continue
        if (match := ASSIGNED_MAGIC.match(line)) and "==" not in line.split("=", 1)[0]:
            lines[index] = _comment(line, match["indent"], f"{match['target'].strip()} = None")
        elif (match := SHELL_OR_MAGIC.match(line)) or (match := HELP.match(line)):
            lines[index] = _comment(line, match["indent"])
        else:
            continue
        changed.append((index + 1, line.strip()))
    return "\n".join(lines), changed


def to_python(notebook: Path) -> Converted:
    """The notebook as a script, as `jupyter nbconvert --to script` writes it."""
    import nbformat
    from nbconvert import PythonExporter

    try:
        node = nbformat.read(notebook, as_version=4)
    except (json.JSONDecodeError, ValueError, KeyError, AttributeError) as error:
        raise NotebookError(f"{notebook.name} is not a readable notebook: {error}") from None
    neutralised = []
    code_cell = 0
    for cell in node.cells:
        if cell.cell_type != "code":
            continue
        code_cell += 1
        cell.source, changed = neutralise(cell.source)
        neutralised += [(code_cell, line, text) for line, text in changed]
    try:
        source, _ = PythonExporter().from_notebook_node(node)
    except (ValueError, KeyError) as error:
        raise NotebookError(f"{notebook.name} cannot be converted: {error}") from None
    return Converted(source, neutralised)


def neutralised_note(name: str, converted: Converted) -> str | None:
    if not converted.neutralised:
        return None
    shown = "; ".join(
        f"{name}, code cell {cell}, line {line} `{text[:60]}`"
        for cell, line, text in converted.neutralised[:MAX_SHOWN]
    )
    more = len(converted.neutralised) - MAX_SHOWN
    return f"IPython commands were not run: {shown}{f'; and {more} more' if more > 0 else ''}"
