"""Jupyter notebooks as plain Python, with IPython's own syntax neutralised line for line.

`!pip install …`, `%matplotlib inline`, `x = !ls`, `model?` and cell magics such as `%%time`
are not Python. Each such line becomes a `pass` (or `x = None`) with the original text as a
comment, so every other line keeps its place and feedback can point into the right cell.
Cells that only time or capture their body (`%%time`, `%%capture`, …) keep the body as code;
other cell magics (`%%bash`, `%%writefile`, …) are commented out whole. A cell that already
parses is left untouched.

Only the code is read: outputs and attachments are dropped before nbformat sees the notebook.
The host parses each cell, so each is size-capped first, as a file is (one 4 MB cell took it
2.7 GB): a code cell over `MAX_CELL_BYTES` is not graded (it becomes one comment, and the
notes say so), and a notebook whose other cells hold more than `MAX_CODE_BYTES` of code is
refused, as a `.py` over 2 MB is.
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
# A syntax tree takes about 500 times its source in memory: the host's cap for a file.
MAX_CELL_BYTES = 256 * 2**10
MAX_CODE_BYTES = 2 * 2**20  # all code cells together, the cap of a `.py` handed in


@dataclass
class Converted:
    source: str
    neutralised: list[tuple[int, int, str]] = field(default_factory=list)  # (code cell, line, text)
    too_large: list[tuple[int, int]] = field(default_factory=list)  # (code cell, bytes): not graded


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


def _code_only(notebook: Path) -> str:
    """The notebook's JSON without the cells' outputs and attachments, which the grader never
    reads: nbformat validates every output and nbconvert walks them all (350,000 tiny ones in
    19 MB took the host 100 s)."""
    content = json.loads(notebook.read_bytes())
    worksheets = (content.get("worksheets") or []) if isinstance(content, dict) else []
    for holder in [content, *worksheets]:  # version 4 holds cells; version 3, worksheets of cells
        for cell in (holder.get("cells") or []) if isinstance(holder, dict) else []:
            if isinstance(cell, dict):
                cell.pop("attachments", None)
                if "outputs" in cell:
                    cell["outputs"] = []
    return json.dumps(content)


def to_python(notebook: Path) -> Converted:
    """The notebook as a script, as `jupyter nbconvert --to script` writes it."""
    import nbformat
    from nbconvert import PythonExporter

    try:
        node = nbformat.reads(_code_only(notebook), as_version=4)
        cells = [cell for cell in node.cells if cell.cell_type == "code"]
    except (json.JSONDecodeError, ValueError, KeyError, AttributeError, TypeError, RecursionError) as error:
        raise NotebookError(f"{notebook.name} is not a readable notebook: {error}") from None
    if not all(isinstance(cell.source, str) for cell in cells):
        raise NotebookError(f"{notebook.name} is not a readable notebook: a code cell holds no text")
    sizes = [len(cell.source.encode()) for cell in cells]
    code = sum(size for size in sizes if size <= MAX_CELL_BYTES)  # the cells the host parses
    if code > MAX_CODE_BYTES:
        raise NotebookError(
            f"{notebook.name} holds {code / 2**20:.1f} MB of code, more than the {MAX_CODE_BYTES // 2**20} MB "
            "of any solution of this exercise"
        )
    converted = Converted("")
    for number, (cell, size) in enumerate(zip(cells, sizes, strict=True), 1):
        if size > MAX_CELL_BYTES:
            converted.too_large.append((number, size))
            cell.source = (
                f"# code cell {number} was not graded: {_megabytes(size)} of code, over one cell's cap"
            )
            continue
        cell.source, changed = neutralise(cell.source)
        converted.neutralised += [(number, line, text) for line, text in changed]
    try:
        converted.source, _ = PythonExporter().from_notebook_node(node)
    except (ValueError, KeyError) as error:
        raise NotebookError(f"{notebook.name} cannot be converted: {error}") from None
    return converted


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def too_large_note(name: str, converted: Converted) -> str | None:
    if not converted.too_large:
        return None
    cells = ", ".join(f"code cell {cell} ({_megabytes(size)})" for cell, size in converted.too_large)
    return (
        f"{name}: {cells} not graded: the grader reads no cell over {MAX_CELL_BYTES // 2**10} KB "
        "(move data into a file the code loads)"
    )


def neutralised_note(name: str, converted: Converted) -> str | None:
    if not converted.neutralised:
        return None
    shown = "; ".join(
        f"{name}, code cell {cell}, line {line} `{text[:60]}`"
        for cell, line, text in converted.neutralised[:MAX_SHOWN]
    )
    more = len(converted.neutralised) - MAX_SHOWN
    return f"IPython commands were not run: {shown}{f'; and {more} more' if more > 0 else ''}"
