"""Import the submission's files without running their top-level training code.

Each top-level statement of a student file is judged from its syntax tree: imports,
definitions and simple constants run; anything else (a `trainer.fit(...)`, `wandb.init()`,
a training loop, a notebook's last cell) is skipped unless a class or a function that a
class uses needs a name it defines. Statements that run and fail are recorded and passed
over, so one missing data file does not hide the model. `if __name__ == "__main__":`
blocks never run.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import symtable
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from grader.contract import Problem
from grader.runner.problems import problem_from

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAX_SNIPPET = 80


@dataclass
class ImportLog:
    """What the loader passed over, for the student's feedback."""

    skipped: list[str] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)

    def fail(self, problem: Problem) -> None:
        """Record a failure once: a module imported under two names fails twice alike."""
        if problem not in self.failed:
            self.failed.append(problem)


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _global_uses(node: ast.stmt) -> set[str]:
    """Module-level names a statement reads; for a def, only its free globals, not its locals."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    module = symtable.symtable(ast.unparse(node), "<definition>", "exec")
    names = {s.get_name() for s in module.get_symbols() if s.is_referenced()}  # decorators, bases
    scopes = list(module.get_children())
    while scopes:
        scope = scopes.pop()
        scopes.extend(scope.get_children())
        names |= {s.get_name() for s in scope.get_symbols() if s.is_global()}
    return names


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
    return "__name__" in names


def _is_plain(node: ast.stmt) -> bool:
    """Runs unconditionally: definitions, docstrings, constants, guarded imports."""
    if isinstance(node, DEFINITIONS):
        return True
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant)
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return node.value is not None and not any(
            isinstance(n, ast.Call | ast.Await | ast.Yield | ast.NamedExpr) for n in ast.walk(node.value)
        )
    if isinstance(node, ast.Try):  # try: import x / except ImportError: ...
        body = node.body + [s for h in node.handlers for s in h.body] + node.orelse
        return all(isinstance(s, ast.Import | ast.ImportFrom | ast.Pass | ast.Assign) for s in body)
    return isinstance(node, ast.Pass)


def plan(tree: ast.Module) -> list[tuple[ast.stmt, bool]]:
    """Each top-level statement with whether it runs."""
    statements = [s for s in tree.body if not _is_main_guard(s)]
    runs = {id(s): _is_plain(s) for s in statements}
    needed: set[str] = set()
    for statement in statements:
        if isinstance(statement, ast.ClassDef):
            needed |= _global_uses(statement)
    # Pull in what the classes depend on, through functions and other statements.
    changed = True
    while changed:
        changed = False
        for statement in statements:
            if not (_defined_names(statement) & needed):
                continue
            if not runs[id(statement)]:
                runs[id(statement)] = True
                changed = True
            new = _global_uses(statement) - needed
            if new:
                needed |= new
                changed = True
    return [(s, runs[id(s)]) for s in tree.body if not _is_main_guard(s)]


def _snippet(source: str, node: ast.stmt) -> str:
    text = (ast.get_source_segment(source, node) or "").strip().splitlines()
    first = text[0] if text else type(node).__name__
    return first if len(first) <= MAX_SNIPPET else first[: MAX_SNIPPET - 1] + "…"


class SafeLoader(importlib.machinery.SourceFileLoader):
    """Executes a student file statement by statement, following `plan`."""

    def __init__(self, fullname: str, path: str, root: Path, log: ImportLog) -> None:
        super().__init__(fullname, path)
        self.root, self.log = root, log

    def exec_module(self, module: ModuleType) -> None:
        path = Path(self.path)
        source = path.read_text(encoding="utf-8", errors="replace")
        tree = ast.parse(source, filename=str(path))
        relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        for statement, runs in plan(tree):
            where = f"{relative}:{statement.lineno}"
            if not runs:
                skipped = f"{where} `{_snippet(source, statement)}`"
                if skipped not in self.log.skipped:
                    self.log.skipped.append(skipped)
                continue
            code = compile(ast.Module(body=[statement], type_ignores=[]), str(path), "exec")
            try:
                exec(code, module.__dict__)
            except (Exception, SystemExit) as error:
                self.log.fail(problem_from(error, self.root))


class SubmissionFinder(importlib.abc.MetaPathFinder):
    """Routes every import of a file inside the submission through `SafeLoader`."""

    def __init__(self, root: Path, log: ImportLog) -> None:
        self.root, self.log = root.resolve(), log

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return spec
        if not Path(spec.origin).resolve().is_relative_to(self.root):
            return spec
        spec.loader = SafeLoader(fullname, spec.origin, self.root, self.log)
        return spec


def install(root: Path, log: ImportLog) -> None:
    sys.meta_path.insert(0, SubmissionFinder(root, log))
    sys.argv = ["submission"]  # top-level argparse must not see the runner's arguments
