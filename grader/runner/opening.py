"""What both workers do first: import the submission as its scripts would, pick the graded
class and find how to build it. Deterministic, so the predicting worker finds what the
training worker found."""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.contract import Problem, RunReport, RunSpec
from grader.runner import call_sites, constructing, devices, frameworks, importing, safe_import
from grader.runner.frameworks import Lightning
from grader.runner.problems import problem_from
from grader.runner.stand_ins import StandIns


def quiet_frameworks() -> None:
    """Lightning's banners and warnings would bury the student's own output."""
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _first_import_problem(failed: list[Problem], submission: Path) -> Problem:
    """The failure most likely to have hidden the class: in a file that mentions LightningModule."""
    for problem in failed:
        file = submission / (problem.location or "").rsplit(":", 1)[0]
        if file.is_file() and "LightningModule" in file.read_text(encoding="utf-8", errors="replace"):
            return problem
    return failed[0]


@dataclass(frozen=True)
class Opened:
    """The graded class, the real Lightning it subclasses, and the submission's sources."""

    cls: type
    lightning: Lightning
    sources: constructing.Sources
    cpu: devices.CpuOnly


def open_submission(
    spec: RunSpec, submission: Path, report: RunReport, real: dict[str, Lightning], cpu: devices.CpuOnly
) -> Opened | None:
    """Import the submission and choose the graded class; None (with the reason in `report`) if there is none.

    `real` are the Lightning packages imported before any student code; `cpu` is installed.
    """
    quiet_frameworks()
    roots = importing.import_roots(submission)
    shadowing = frameworks.shadowing_names(roots)
    sources = constructing.Sources(submission, lambda path: importing.package_of(path, roots))
    # After the installed packages: a submission's `pytorch_lightning/`, `torch.py` or `json.py`
    # cannot stand in for the real one; the student's own modules are still found by name.
    extra = call_sites.sys_path_additions(sources.files) + call_sites.script_folders(sources.files)
    sys.path += [str(folder) for folder in dict.fromkeys([*roots, *extra])]
    log = safe_import.ImportLog()
    safe_import.install(submission, log)
    modules = []
    for path in importing.candidate_files(submission):
        try:
            modules.append(importing.import_file(path, roots, log))
        except (Exception, SystemExit) as error:
            log.fail(problem_from(error, submission))  # costs only what depends on it
    report.skipped_code, report.failed_code = log.skipped, log.failed
    report.adaptations += [
        f"`{name}` in your submission has the name of an installed module; the installed `{name}` "
        "was used, so rename yours"
        for name in shadowing
    ]
    trained = call_sites.trained_class_names(sources.files)
    bases = {name: framework.LightningModule for name, framework in real.items()}
    called = call_sites.called_names(sources.files)
    cls, report.discovery = importing.choose_module(
        modules, spec.class_hint, submission, trained, called, bases
    )
    if cls is None:
        if log.failed:
            report.import_problem = _first_import_problem(log.failed, submission)
        return None
    lightning = real[report.discovery.framework]
    quiet_frameworks()
    report.hook_sources = importing.hook_sources(cls, lightning.LightningModule)
    return Opened(cls, lightning, sources, cpu)


def build(
    opened: Opened, spec: RunSpec, report: RunReport, submission: Path, stand_ins: StandIns
) -> tuple[Any, tuple[int, ...] | None] | None:
    """A factory of seeded models (the fit's seed unless told another) and the stand-ins' image
    shape; None when it cannot be built."""
    try:
        factory, report.construct_notes, shape = constructing.model_factory(
            opened.cls, spec.init_kwargs, opened.sources, stand_ins
        )
    except (Exception, SystemExit) as error:
        report.construct_problem = problem_from(error, submission)
        return None

    def make_model(seed: int | None = None) -> Any:
        opened.lightning.seed_everything(spec.fit.seed if seed is None else seed, verbose=False)
        return factory()

    return make_model, shape
