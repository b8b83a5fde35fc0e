"""Import the submission's own modules and pick the LightningModule to grade."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
import textwrap
from pathlib import Path
from types import ModuleType

from grader.contract import Discovery, Framework, HookSource
from grader.runner.safe_import import ImportLog, SafeLoader

IGNORED_DIRS = {"tests", "test", "docs", "notebooks", "scripts", "__pycache__"}
IGNORED_FILES = {"setup.py", "conftest.py", "noxfile.py", "tasks.py"}


def import_roots(submission: Path) -> list[Path]:
    """Folders put on sys.path: the submission itself and a `src/` layout if there is one."""
    roots = [submission]
    if (submission / "src").is_dir():
        roots.insert(0, submission / "src")
    return roots


def candidate_files(submission: Path) -> list[Path]:
    """Files that define at least one class; only those are imported."""
    found = []
    for path in sorted(submission.rglob("*.py")):
        relative = path.relative_to(submission)
        if path.name in IGNORED_FILES or path.name.startswith("test_"):
            continue
        if IGNORED_DIRS.intersection(relative.parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError:
            found.append(path)  # importing it reports the error where the student wrote it
            continue
        if any(isinstance(node, ast.ClassDef) for node in tree.body):
            found.append(path)
    return found


def module_names(path: Path, roots: list[Path]) -> list[str]:
    """Dotted names the file could be imported by, one per import root that holds it."""
    names = []
    for root in roots:
        try:
            relative = path.relative_to(root).with_suffix("")
        except ValueError:
            continue
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            names.append(".".join(parts))
    return names


def package_of(path: Path, roots: list[Path]) -> str | None:
    """The package a file's relative imports resolve in (None outside any package)."""
    names = module_names(path, roots)
    if not names:
        return None
    return names[0] if path.name == "__init__.py" else names[0].rpartition(".")[0] or None


def _resolves_to(name: str, path: Path) -> bool:
    """Whether importing `name` gives this file, not a same-named module elsewhere on the path."""
    try:
        spec = importlib.util.find_spec(name)
    except (Exception, SystemExit):
        return False
    return bool(spec and spec.origin) and Path(spec.origin).resolve() == path.resolve()


def import_file(path: Path, roots: list[Path], log: ImportLog) -> ModuleType:
    for name in module_names(path, roots):
        if _resolves_to(name, path):
            return importlib.import_module(name)
    # A file name that is no identifier ("lab 1.py"), or one another package shadows (a
    # top-level `models/` next to `src/models/`), still imports under an alias of its own.
    relative = path.relative_to(roots[-1]).with_suffix("").as_posix()
    alias = "submission_" + "".join(c if c.isalnum() else "_" for c in relative)
    loader = SafeLoader(alias, str(path), roots[-1], log)
    spec = importlib.util.spec_from_file_location(alias, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    loader.exec_module(module)
    return module


def choose_module(
    modules: list[ModuleType],
    hint: str | None,
    submission: Path,
    trained: set[str],
    called: set[str],
    bases: dict[Framework, type],
) -> tuple[type | None, Discovery]:
    """The class to grade; `trained` are the class names the scripts pass to `Trainer.fit`,
    `called` every name they call, `bases` the real `LightningModule` classes."""
    own = _own_classes(modules)
    candidates = [c for c in own if any(issubclass(c, b) for b in bases.values())]
    concrete = [c for c in candidates if not inspect.isabstract(c)]
    torch_module = getattr(sys.modules.get("torch.nn"), "Module", None)
    plain = [c.__name__ for c in own if torch_module and issubclass(c, torch_module) and c not in candidates]
    discovery = Discovery(candidates=[c.__name__ for c in concrete], plain_modules=plain)
    if not concrete:
        discovery.reason = "no class defined by the submission subclasses the real LightningModule"
        return None, discovery
    framework = {c: next(name for name, base in bases.items() if issubclass(c, base)) for c in concrete}
    chosen, discovery.reason = _pick(concrete, hint, trained, called, lambda c: bases[framework[c]])
    discovery.class_name = chosen.__name__
    discovery.framework = framework[chosen]
    source_file = Path(inspect.getsourcefile(chosen)).resolve()
    discovery.file = source_file.relative_to(submission.resolve()).as_posix()
    discovery.line = inspect.getsourcelines(chosen)[1]
    return chosen, discovery


def _own_classes(modules: list[ModuleType]) -> list[type]:
    """Classes defined by the submission's modules, not imported into them."""
    names = {m.__name__ for m in modules}
    seen: dict[int, type] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ in names:
                seen.setdefault(id(value), value)
    return list(seen.values())


def _pick(
    concrete: list[type], hint: str | None, trained: set[str], called: set[str], base_of
) -> tuple[type, str]:
    """The class the student trains: passed to `Trainer.fit`, else one that defines the
    training hooks (a wrapper, not the backbone it wraps), then the rubric's name, then the
    one their code instantiates, then the first that no other class extends."""
    if len(concrete) == 1:
        return concrete[0], f"{concrete[0].__name__} is the only LightningModule defined"
    names = ", ".join(c.__name__ for c in concrete)
    concrete = sorted(concrete, key=lambda c: (inspect.getsourcefile(c) or "", inspect.getsourcelines(c)[1]))
    fitted = [c for c in concrete if c.__name__ in trained]
    if fitted:
        return fitted[0], f"of {names}, {fitted[0].__name__} is the one your code passes to `Trainer.fit`"
    training = [c for c in concrete if overrides(c, base_of(c), "training_step")]
    pool = training or concrete
    hinted = [c for c in pool if hint and c.__name__ == hint]
    if hinted:
        return hinted[0], f"of {names}, {hint} is the class name the rubric asks for"
    # A class that another candidate extends is a base, not the model that was meant.
    leaves = [c for c in pool if not any(o is not c and issubclass(o, c) for o in pool)]
    instantiated = [c for c in leaves if c.__name__ in called]
    if instantiated:
        return instantiated[0], f"of {names}, {instantiated[0].__name__} is the one your code instantiates"
    what = "that defines `training_step` and " if training and len(training) < len(concrete) else ""
    return leaves[0], f"of {names}, {leaves[0].__name__} is the first one {what}no other class extends"


HOOKS = ("training_step", "validation_step", "configure_optimizers")


def _logged_names(function: object) -> list[str]:
    """Names passed to `self.log(...)` or as keys of `self.log_dict({...})`."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return []
    names = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        first = node.args[0]
        if node.func.attr == "log" and isinstance(first, ast.Constant):
            names.append(str(first.value))
        elif node.func.attr == "log_dict" and isinstance(first, ast.Dict):
            names += [str(k.value) for k in first.keys if isinstance(k, ast.Constant)]
    return sorted(set(names))


def overrides(cls: type, base: type, hook: str) -> bool:
    """Whether the class (or a parent of its own) defines `hook` rather than Lightning's default."""
    return getattr(cls, hook, None) is not getattr(base, hook, None)


def hook_sources(cls: type, base: type) -> dict[str, HookSource]:
    """What the class's hooks look like in source, judged without running them."""
    found = {}
    for hook in HOOKS:
        defined = overrides(cls, base, hook)
        found[hook] = HookSource(defined=defined, logged=_logged_names(getattr(cls, hook)) if defined else [])
    return found
