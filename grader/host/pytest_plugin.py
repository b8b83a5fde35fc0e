"""`pytest --rubric m14`: the rubric as tests, next to the student's own.

Registered through the `pytest11` entry point. With `--rubric`, pytest grades the project it
runs in (its root folder) once, with `grade --self-check` in a child process, so the grader's
host never shares a process with the student's tests, and reports one test per rubric
criterion, named after the criterion's id: it passes at full points, and fails with the
grader's message and its fix. The summary shows the points. `--sandbox` chooses the sandbox
as for `grade`; `--junitxml` then gives a per-criterion report.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

STASH_KEY = pytest.StashKey["Grading"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lightning-grader", "grade this project against a rubric")
    group.addoption(
        "--rubric",
        dest="grader_rubric",
        default=None,
        help="Grade the project against this rubric (id or YAML path): one test per criterion.",
    )
    group.addoption(
        "--sandbox",
        dest="grader_sandbox",
        default="auto",
        help="The sandbox the grading runs in, as for `grade` (default: auto).",
    )


class Grading:
    """One `grade --self-check` of the project, run when the first criterion's test runs."""

    def __init__(self, project: Path, rubric: str, sandbox: str, out: Path) -> None:
        self.project, self.rubric, self.sandbox, self.out = project, rubric, sandbox, out
        self._done = False
        self.result = None  # GradeResult, once graded
        self.error = ""

    def graded(self):
        if not self._done:
            self._done = True
            self._grade()
        return self.result

    def _grade(self) -> None:
        from grader.host.prepare.discovery import submission_name
        from grader.host.publish.common import read_results

        command = [sys.executable, "-m", "grader", str(self.project), "--self-check"]
        command += ["--rubric", self.rubric, "--sandbox", self.sandbox, "--out", str(self.out)]
        ran = subprocess.run(command, capture_output=True, text=True)
        self.result = (
            read_results(self.out).get(submission_name(self.project)) if ran.returncode == 0 else None
        )
        if self.result is None:
            lines = [line for line in (ran.stderr + ran.stdout).splitlines() if line.strip()]
            self.error = "\n".join(lines[-15:]) or f"grade exited with status {ran.returncode}"


class CriterionItem(pytest.Item):
    def __init__(self, *, criterion_id: str, grading: Grading, **kwargs) -> None:
        super().__init__(**kwargs)
        self.criterion_id, self.grading = criterion_id, grading

    def runtest(self) -> None:
        result = self.grading.graded()
        if result is None:
            raise CriterionFailed(f"the grader could not grade this project:\n{self.grading.error}")
        criterion = next(c for c in result.criteria if c.id == self.criterion_id)
        if not criterion.passed:
            text = f"{criterion.points:g} / {criterion.max_points:g}: {criterion.message}"
            if criterion.hint:
                text += f"\nFix: {criterion.hint}"
            raise CriterionFailed(text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, CriterionFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.grading.project, None, f"rubric criterion {self.criterion_id}"


class CriterionFailed(Exception):
    """A criterion below full points: the grader's message and fix are the whole report."""


class RubricCollector(pytest.Collector):
    def __init__(self, *, rubric_ids: list[str], grading: Grading, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rubric_ids, self.grading = rubric_ids, grading

    def collect(self) -> list[pytest.Item]:
        return [
            CriterionItem.from_parent(self, name=criterion, criterion_id=criterion, grading=self.grading)
            for criterion in self.rubric_ids
        ]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    rubric = config.getoption("grader_rubric")
    if not rubric:
        return
    from grader.rubric import RubricError, load_rubric

    try:
        loaded = load_rubric(rubric)
    except RubricError as error:
        raise pytest.UsageError(f"--rubric: {error}") from None
    # pytest's cache keeps the self-check's files; the reference's accuracy is cached for the
    # machine's secret in the grader's cache, so it trains once per machine whatever --out is.
    cache = getattr(config, "cache", None)
    out = cache.mkdir("lightning-grader") if cache else Path(tempfile.mkdtemp(prefix="lightning-grader-"))
    grading = Grading(config.rootpath, rubric, config.getoption("grader_sandbox"), out)
    config.stash[STASH_KEY] = grading
    name = f"rubric-{loaded.id}"
    collector = RubricCollector.from_parent(
        session, name=name, nodeid=name, rubric_ids=[c.id for c in loaded.criteria], grading=grading
    )
    items.extend(collector.collect())


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    grading = config.stash.get(STASH_KEY, None)
    result = grading.result if grading else None
    if result is None:
        return
    terminalreporter.write_sep(
        "=", f"lightning-grader: {result.score:g} / {result.max_score:g} ({result.rubric})"
    )
    for criterion in result.criteria:
        terminalreporter.write_line(f"{criterion.points:>5g} / {criterion.max_points:<3g} {criterion.id}")
