"""The `grade` command."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from grader.host.apparmor import ProfileRefused, bwrap_binary, install_profile
from grader.host.batch import (
    BatchHooks,
    OtherRubric,
    earlier_results,
    grade_batch,
    gradebook,
    plan_workers,
    with_threads,
)
from grader.host.doctor import examine, print_report, refusal_line
from grader.host.grading import GradingContext
from grader.host.lms.download import Download, DownloadError, read_download
from grader.host.lms.layouts import LayoutName
from grader.host.lms.roster import RosterError, read_roster
from grader.host.prepare import write_inputs
from grader.host.prepare.data import (
    DataError,
    Splits,
    batch_secret,
    make_splits,
    with_secret_test_digits,
)
from grader.host.prepare.discovery import Submission, submission_name
from grader.host.prepare.reference import ReferenceUnavailable, measure_reference
from grader.host.publish import FormatName, publish_batch
from grader.host.publish.common import plain_text
from grader.host.publish.feedback import feedback_file, self_check_markdown
from grader.host.publish.lms import exported, platforms, save_roster, saved_roster, scaling_note
from grader.host.results import GradeResult
from grader.paths import default_data_dir
from grader.rubric import RubricError, load_rubric, rubric_schema
from grader.rubric.models import Rubric
from grader.sandbox import Sandbox, SandboxUnavailable, open_sandbox
from grader.sandbox.cluster import ClusterSandbox
from grader.sandbox.local import LocalSandbox

console = Console()
errors = Console(stderr=True)
app = typer.Typer(add_completion=False, rich_markup_mode="rich")


def fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


def shown(student_text: str) -> str:
    """Text a student controls, for a Rich console: no escape codes, no markup."""
    return escape(plain_text(student_text))


def summary_table(results: list[GradeResult]) -> Table:
    table = Table(title="Grades", show_lines=False)
    table.add_column("submission", overflow="fold")
    for column in ("score", "status", "graded class", "accuracy", "seconds"):
        table.add_column(column, justify="right" if column in ("score", "accuracy", "seconds") else "left")
    for r in results:
        accuracy = f"{r.accuracy:.1%}" if r.accuracy is not None else "—"
        style = "green" if r.status == "ok" else "yellow" if r.status == "rejected" else "red"
        table.add_row(
            shown(r.submission),
            f"{r.score:g}/{r.max_score:g}",
            f"[{style}]{r.status}[/]",
            shown(r.graded_class or "—"),
            accuracy,
            f"{r.timings.total_seconds:.1f}",
        )
    return table


def _print_version(requested: bool) -> None:
    if requested:
        console.print(f"lightning-grader {version('lightning-grader')}", highlight=False)
        raise typer.Exit()


@app.command(no_args_is_help=True)
def grade(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A folder of submissions (each entry is one), or one submission (a file, or any path with --self-check)."
        ),
    ] = None,
    rubric: Annotated[
        str, typer.Option("--rubric", "-r", help="Rubric id in rubrics/, or a YAML path.")
    ] = "m14",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where grades.csv, results/ and feedback/ go.")
    ] = Path("grades"),
    self_check: Annotated[
        bool,
        typer.Option("--self-check", help="Grade PATH as one submission and print its feedback."),
    ] = False,
    sandbox: Annotated[
        str,
        typer.Option(
            help="auto (process where it runs warm as root, else docker, else process, else user), "
            "docker, process (bubblewrap), "
            "user (as root: a throwaway uid, for containers without namespaces), or none (no isolation)."
        ),
    ] = "auto",
    data_dir: Annotated[
        Path | None,
        typer.Option(envvar="GRADER_DATA_DIR", help="torchvision MNIST cache folder.", show_default=False),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", envvar="GRADER_OFFLINE", help="Never try to download MNIST."),
    ] = False,
    formats: Annotated[
        list[FormatName] | None,
        typer.Option(
            "--format",
            help=f"Also write {', '.join(FormatName.__members__)} reports (repeatable); summary.html is "
            "always written.",
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Grade only these submissions of the folder (NAME[,NAME]); the gradebook keeps every "
            "other row of --out.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Regrade every submission, also the unchanged ones.")
    ] = False,
    layout: Annotated[
        LayoutName | None,
        typer.Option(
            "--layout",
            help="How PATH names its entries: an LMS's own download (folder or zip), each student's files "
            "grouped as one submission, or plain (each entry one submission). Default: detected from the names.",
            show_default=False,
        ),
    ] = None,
    roster: Annotated[
        Path | None,
        typer.Option(
            "--roster",
            help="The course's students: the LMS's gradebook export as downloaded (Canvas, Moodle, "
            "Blackboard, Brightspace) or a CSV with any of username, email, student_id, sis_id, github, "
            "name, section. Each gradebook's import file goes to OUT/lms/; kept there for later runs.",
            show_default=False,
        ),
    ] = None,
    lms_assignment: Annotated[
        str | None,
        typer.Option(
            "--lms-assignment",
            help='The gradebook column the grades go to, as "Name (id)" (e.g. "M14 (12345)") [default: '
            "the roster's column of the rubric's title, else its one column named after the rubric's id "
            "(M14 Lightning for m14)].",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Submissions graded at once, each in its own sandbox [default: one per core, as memory allows].",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Run each submission on a Dask cluster: its scheduler's address (tcp://HOST:8786), "
            "or `local` for one on this machine. Each worker runs the --sandbox backend; scoring stays here.",
            show_default=False,
        ),
    ] = None,
    private: Annotated[
        list[Path] | None,
        typer.Option(
            "--private",
            help="A folder no student code may read, besides --out and PATH (repeatable). "
            "The user sandbox takes others' permissions from it and checks before every run.",
            show_default=False,
        ),
    ] = None,
    print_schema: Annotated[
        bool, typer.Option("--rubric-schema", help="Print the rubric JSON Schema and exit.")
    ] = False,
    doctor: Annotated[
        bool,
        typer.Option(
            "--doctor",
            help="Say which sandboxes work on this machine, which one auto picks, and for each refused one "
            "the cause and the fix; exit 1 when none isolates.",
        ),
    ] = False,
    install_apparmor_profile: Annotated[
        bool,
        typer.Option(
            "--install-apparmor-profile",
            help="As root, where AppArmor refuses bubblewrap user namespaces (Ubuntu 24.04 and later): "
            "write /etc/apparmor.d/lightning-grader-bwrap, which allows them to bwrap, and load it.",
        ),
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Grade PyTorch Lightning submissions against a rubric, each in its own sandbox."""
    if print_schema:
        console.out(rubric_schema())
        return
    if doctor:
        report = examine()
        print_report(report, console)
        raise typer.Exit(0 if report.isolated else 1)
    if install_apparmor_profile:
        try:
            installed = install_profile(bwrap_binary())
        except ProfileRefused as error:
            raise fail(str(error)) from None
        console.print(
            f"Installed and loaded {installed}: bubblewrap may create user namespaces. "
            "`grade --doctor` checks the sandboxes again.",
            highlight=False,
        )
        return
    if path is None:
        raise fail("give a folder of submissions, or one submission with --self-check")
    if not path.exists():
        raise fail(f"no such file or folder: {path}")
    try:
        loaded = load_rubric(rubric)
        backend = open_cluster(cluster, sandbox) if cluster else open_backend(sandbox, self_check)
        splits = make_splits(loaded.data, data_dir or default_data_dir(), download=not offline)
        splits = with_secret_test_digits(splits, batch_secret(out))
    except (RubricError, DataError) as error:
        raise fail(str(error)) from None
    except SandboxUnavailable as error:
        refused = fail(str(error))
        if not cluster:  # a cluster's workers are other machines
            errors.print(f"[bold]why:[/] {escape(refusal_line(sandbox))}", highlight=False, soft_wrap=True)
        raise refused from None
    if caveat := backend.caveat():
        errors.print(f"[bold yellow]warning:[/] {caveat}", highlight=False)
    download: Download | None = None
    try:  # whatever refuses from here on, the cluster is closed and the unpacked download removed
        # A single file is one submission even without --self-check: a batch of one.
        download = downloaded(path, layout.value if layout else None, self_check)
        submissions = download.submissions
        if not submissions:
            raise fail(f"no submissions in {path} (folders, .py, .ipynb or .zip files)")
        if only:
            submissions = chosen(submissions, only, path)
        try:
            earlier_results(out, loaded)
        except OtherRubric as error:
            raise fail(str(error)) from None
        use_roster(roster, lms_assignment, out)
        if isinstance(backend, ClusterSandbox):
            slots, threads = backend.slots(loaded.limits.threads)
            jobs, loaded = jobs or slots, with_threads(loaded, threads)
        else:
            jobs, loaded = plan_workers(loaded, len(submissions), jobs)
        run_batch(
            loaded,
            splits,
            backend,
            submissions,
            out,
            jobs,
            force,
            self_check,
            formats,
            private=(out, path, *download.private, *([roster] if roster else []), *(private or [])),
        )
    finally:
        if isinstance(backend, ClusterSandbox):
            backend.close()
        if download is not None:
            download.close()


def use_roster(roster: Path | None, assignment: str | None, out: Path) -> None:
    """`--roster` read, before any grading, and kept in `out`, where a later run without it finds it."""
    kept = saved_roster(out)
    if roster is not None:
        try:
            read = read_roster(roster)
        except RosterError as error:
            raise fail(str(error)) from None
        kept = read.model_copy(update={"assignment": assignment or (kept.assignment if kept else None)})
    elif kept is None:
        if assignment:
            raise fail(f"--lms-assignment needs a --roster: {out} keeps none yet")
        return
    elif assignment:
        kept = kept.model_copy(update={"assignment": assignment})
    save_roster(kept, out)
    console.print(
        f"Roster: {shown(kept.source)}, a {kept.describe()}. Exports for the LMS: "
        f"{', '.join(platforms(kept)) or 'none (no column any gradebook imports by)'}, in {out / 'lms'}.",
        highlight=False,
    )


def downloaded(path: Path, layout: str | None, self_check: bool) -> Download:
    """PATH's submissions, read as its LMS names them; the layout and why, as the run's first lines."""
    if self_check:
        return Download("plain", "--self-check", [Submission(submission_name(path), path)])
    try:
        download = read_download(path, layout)
    except DownloadError as error:
        raise fail(str(error)) from None
    console.print(f"Layout: {download.layout} ({shown(download.reason)})", highlight=False)
    for warning in download.warnings:
        errors.print(f"[bold yellow]note:[/] {shown(warning)}", highlight=False)
    return download


def chosen(submissions: list[Submission], only: str, path: Path) -> list[Submission]:
    """The submissions `--only` names, or a refusal that says which names are not there."""
    names = [name.strip() for name in only.split(",") if name.strip()]
    by_name = {s.name: s for s in submissions}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise fail(f"--only: no submission named {', '.join(missing)} in {path}")
    return [by_name[name] for name in dict.fromkeys(names)]


def ci_variable(environ: Mapping[str, str]) -> str | None:
    """`CI` or `GITHUB_ACTIONS`, whichever is set: a runner grading someone's code, not a student's
    own machine."""
    return next((name for name in ("CI", "GITHUB_ACTIONS") if environ.get(name)), None)


def open_backend(name: str, self_check: bool) -> Sandbox:
    """The sandbox asked for. A student checking their own code with `--self-check` needs no
    protection from it: where no sandbox works, that one submission runs without one. Not in CI,
    where the code is a student's graded on someone else's runner: there it refuses as a batch does."""
    try:
        return open_sandbox(name)
    except SandboxUnavailable as error:
        if name != "auto" or not self_check:
            raise
        if variable := ci_variable(os.environ):
            raise SandboxUnavailable(
                f"{error} (--self-check runs without a sandbox only on a student's own machine, "
                f"not in CI: {variable} is set)"
            ) from None
    return LocalSandbox(
        caveat="No sandbox here (no Docker, no bubblewrap): checking your own code without "
        "isolation, as you, on your own machine."
    )


def open_cluster(address: str, sandbox: str) -> ClusterSandbox:
    cluster = ClusterSandbox(address, sandbox)
    try:
        cluster.check()
    except SandboxUnavailable:
        cluster.close()
        raise
    return cluster


def run_batch(
    loaded: Rubric,
    splits: Splits,
    backend: Sandbox,
    submissions: list[Submission],
    out: Path,
    jobs: int,
    force: bool,
    self_check: bool,
    formats: list[FormatName] | None,
    private: tuple[Path, ...] = (),
) -> None:
    """The reference, then every submission under a progress bar, then the reports.

    `private`: the host's folders no run may read (results, the submissions' originals)."""
    with tempfile.TemporaryDirectory(prefix="grader-") as workdir:
        inputs = write_inputs(loaded, splits, Path(workdir) / "inputs")
        context = GradingContext(loaded, splits, backend, Path(workdir), inputs, private=private)
        with console.status("Training the reference solution (cached after the first run)…"):
            try:
                context = replace(context, reference=measure_reference(context))
            except ReferenceUnavailable as error:
                raise fail(str(error)) from None
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[running]} running"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=self_check,
        )
        watcher = ProgressHooks(progress, len(submissions))
        try:
            with progress:
                results = grade_batch(
                    submissions, context, out, hooks=watcher, force=force or self_check, jobs=jobs
                )
        except KeyboardInterrupt:
            errors.print(
                f"[bold yellow]Stopped:[/] {watcher.published} of {len(submissions)} results are written "
                f"in {out}. Run the same command again to grade the rest.",
                highlight=False,
            )
            raise typer.Exit(130) from None

    # The batch's reports are the class's: every result of this rubric in --out, this run's over earlier ones.
    everyone = gradebook(earlier_results(out, loaded), results)
    written = publish_batch([f.value for f in formats or []], everyone, loaded, out)
    reports = [name for name in written if name != "lms"]  # the LMS exports get their own line below
    faults = [r.submission for r in results if r.status == "grader_error"]
    if self_check:
        console.print(Markdown(self_check_markdown(results[0], feedback_file(out, results[0].submission))))
    else:
        console.print(summary_table(results))
    console.print(
        f"Sandbox: {backend.name}. Data: {splits.source}. Wrote {out / 'grades.csv'}, results/, "
        f"feedback/ and the {', '.join(reports)} report(s) in {out}.",
        highlight=False,
    )
    if saved_roster(out):
        files, unmatched = exported(out)
        console.print(
            f"LMS: wrote {', '.join(files) or 'no export'} in {out / 'lms'}; unmatched.csv lists "
            f"{unmatched} submission(s) or student(s) that could not be paired.",
            highlight=False,
        )
        if note := scaling_note(out, loaded):
            console.print(shown(note), highlight=False)
    if faults:
        errors.print(
            f"[bold yellow]{len(faults)} submission(s) hit a grader error, not a fault of theirs:[/] "
            f"{', '.join(faults)}. Their results say what failed; regrade them once it is fixed.",
            highlight=False,
        )


class ProgressHooks(BatchHooks):
    """The progress bar: finished, running, and the time left at the pace so far."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("Grading", total=total, running=0)
        self.running = self.published = 0
        self.lock = threading.Lock()

    def started(self, submission: Submission) -> None:
        with self.lock:
            self.running += 1
            self.progress.update(self.task, running=self.running)

    def graded(self, result: GradeResult, kept: bool) -> None:
        again = " — unchanged, earlier result kept" if kept else ""
        self.progress.console.print(
            f"{shown(result.submission)}: {result.score:g}/{result.max_score:g} ({result.status}){again}",
            highlight=False,
        )
        with self.lock:
            self.published += 1
            if not kept:
                self.running -= 1
            self.progress.update(self.task, advance=1, running=self.running)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds, so sandboxes remove their containers and scratch


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    app()
