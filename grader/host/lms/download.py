"""An LMS download, folder or zip, read as one submission per student.

The layout (`layouts`) says who handed in each entry; here a student's entries become one
submission: their latest attempt only, their files under the names they handed them in with
(so `model.py` and `train.py` import each other as in their repository), in a private scratch
folder that lives as long as the run. A zip is read through staging's safe extraction, with its
caps. Entries no layout names are never lost: a gradable one is graded as its own submission,
and the run says which.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from grader.host.lms.layouts import LAYOUTS, PLAIN, Handin, Layout, Reading, safe_key
from grader.host.prepare.discovery import (
    SUBMISSION_SUFFIXES,
    Submission,
    discover,
    ignored_patterns,
    submission_name,
)
from grader.host.prepare.staging import StagingError, source_files
from grader.host.prepare.staging import unpack as unpack_safely
from grader.host.results import Student

# A student's listed files: the names they handed in, not every file of a cloned repository.
MAX_LISTED_FILES = 50


class DownloadError(Exception):
    """The download cannot be read as the layout asked for."""


@dataclass
class Download:
    """What a download holds, and why it was read the way it was."""

    layout: str
    reason: str
    submissions: list[Submission]
    warnings: list[str] = field(default_factory=list)
    scratch: tempfile.TemporaryDirectory | None = None  # unpacked and grouped copies; private to the host

    @property
    def folder(self) -> Path | None:
        return Path(self.scratch.name) if self.scratch else None

    @property
    def private(self) -> tuple[Path, ...]:
        """The host's folders of this download that no run may read."""
        return (self.folder,) if self.folder else ()

    def close(self) -> None:
        if self.scratch:
            self.scratch.cleanup()


def listed(folder: Path) -> list[Path]:
    """The entries of a download folder, as `discover` sees them: no hidden files, no ignored ones."""
    patterns = ignored_patterns(folder)
    return [
        path
        for path in sorted(folder.iterdir())
        if not path.name.startswith((".", "_")) and not any(fnmatch.fnmatch(path.name, p) for p in patterns)
    ]


def gradable(entry: Path) -> bool:
    """An entry `discover` would grade as a submission of its own."""
    return entry.is_dir() or entry.suffix in SUBMISSION_SUFFIXES


def fit(layout: Layout, entries: list[Path]) -> tuple[Reading, list[Path]]:
    """The layout's reading, and the gradable entries it does not name."""
    reading = layout.read(entries)
    return reading, [e for e in entries if gradable(e) and e not in reading]


def detect(entries: list[Path]) -> tuple[str, str]:
    """The layout that names every gradable entry, and why; plain when none does."""
    closest: tuple[int, str] = (0, "")
    for layout in LAYOUTS.values():
        if layout.name == PLAIN:
            continue
        reading, unnamed = fit(layout, entries)
        students = sum(handin is not None for handin in reading.values())
        total = len(reading) + len(unnamed)
        if students and not unnamed:
            return layout.name, f"{len(reading)} of {total} entries named {layout.naming}"
        if students > closest[0]:
            closest = (students, f"{layout.name} names {len(reading)} of {total} entries")
    if closest[0]:
        return PLAIN, f"each entry is one submission; {closest[1]}: --layout reads it so"
    return PLAIN, "each entry is one submission: no platform's naming fits its names"


def read_download(path: Path, layout: str | None = None) -> Download:
    """The submissions in `path` (a folder, an LMS zip, or one file), read as `layout` or as detected.

    A zip no layout names, and a file, are one submission, as before; `DownloadError` when a
    layout is asked for and the zip cannot be unpacked."""
    scratch = tempfile.TemporaryDirectory(prefix="grader-download-")
    try:
        download = _read(path, layout, Path(scratch.name))
    except BaseException:
        scratch.cleanup()
        raise
    if download.layout == PLAIN:
        scratch.cleanup()
    else:
        download.scratch = scratch
    return download


def _read(path: Path, asked: str | None, scratch: Path) -> Download:
    if path.is_dir():
        entries = listed(path)
    elif path.suffix == ".zip" and not _named_itself(path, asked):
        try:
            entries = _zip_entries(path, scratch / "unpacked")
        except StagingError as error:
            if asked not in (None, PLAIN):
                raise DownloadError(f"{path.name}: {error}") from None
            entries = []  # staging says why, as for any zip handed in
    else:
        entries = [path]
    name, reason = detect(entries) if asked is None else (asked, "chosen with --layout")
    if name == PLAIN:
        alone = [Submission(submission_name(path), path)] if not path.is_dir() else discover(path)
        if path.suffix == ".zip" and asked is None:
            reason = "the zip is one submission: no platform's naming fits its entries"
        return Download(PLAIN, reason, alone)
    reading, unnamed = fit(LAYOUTS[name], entries)
    if asked is not None:
        reason = (
            f"{reason}; {len(reading)} of {len(reading) + len(unnamed)} entries named {LAYOUTS[name].naming}"
        )
    download = Download(name, reason, [])
    students = _students(reading)
    used: set[str] = set()
    for identity in sorted(students):
        handins = students[identity]
        key = _unique(
            handins[0].key, used, download.warnings, f"{name} student {handins[0].name or identity[0]}"
        )
        download.submissions.append(_submission(name, key, handins, scratch / "students", download.warnings))
    for entry in unnamed:
        key = _unique(submission_name(entry), used, download.warnings, entry.name)
        download.warnings.append(f"{entry.name} is not named as {name} names entries: graded as {key}")
        download.submissions.append(Submission(key, entry))
    skipped = [e.name for e in entries if e not in reading and not gradable(e)]
    if skipped:
        download.warnings.append(
            f"not graded, neither named by {name} nor a submission: {', '.join(skipped)}"
        )
    download.warnings += _shared_ids(name, students)
    return download


def _zip_entries(archive: Path, folder: Path) -> list[Path]:
    """A download zip's entries: its top level, as the platform wrote it. Staging reads a zip of one
    folder from inside that folder (a student's project zip); a download is read so only when no
    platform names that folder, or one student's entries would name the students."""
    inner = unpack_safely(archive, folder)
    top = listed(folder)
    if inner == folder or any(layout.read(top).get(entry) for layout in LAYOUTS.values() for entry in top):
        return top
    return listed(inner)


def _named_itself(archive: Path, asked: str | None) -> bool:
    """A zip named as a download names a student's hand-in (`doejane_12345_67890_project.zip`): it is
    that student's, whatever its entries are named; only a zip the platform named itself is a download."""
    candidates = [LAYOUTS[asked]] if asked not in (None, PLAIN) else list(LAYOUTS.values())
    return any(layout.read([archive]).get(archive) for layout in candidates)


def _students(reading: Reading) -> dict[tuple[str, ...], list[Handin]]:
    students: dict[tuple[str, ...], list[Handin]] = defaultdict(list)
    for handin in reading.values():
        if handin is not None:
            students[handin.identity].append(handin)
    return students


def _unique(key: str, used: set[str], warnings: list[str], who: str) -> str:
    """`key`, or `key_2`, `key_3`…: two students never share a row, whatever their names say."""
    unique, number = key, 2
    while unique in used:
        unique, number = f"{key}_{number}", number + 1
    if unique != key:
        warnings.append(f"{who} has the key {key} of another entry: graded apart as {unique}")
    used.add(unique)
    return unique


def _shared_ids(layout: str, students: dict[tuple[str, ...], list[Handin]]) -> list[str]:
    """Two students claiming one platform id: graded apart, and said, since one of them is not who they say."""
    claims: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    for identity, handins in students.items():
        for handin in handins:
            for kind, value in handin.ids.items():
                if kind in ("user_id", "participant_id"):
                    claims[(kind, value)].add(identity)
    return [
        f"{len(who)} entries claim {layout} {kind} {value} under different names: graded apart; "
        "check who handed them in"
        for (kind, value), who in sorted(claims.items())
        if len(who) > 1
    ]


def _submission(
    layout: str, key: str, handins: list[Handin], students: Path, warnings: list[str]
) -> Submission:
    """One student's latest attempt, as one submission with the files' own names."""
    attempts = sorted({h.attempt for h in handins})
    latest = [h for h in handins if h.attempt == attempts[-1]]
    if len(attempts) > 1 and layout == "brightspace":
        # Brightspace names a hand-in by display name only: two students of one name look alike.
        warnings.append(
            f"{key}: {len(attempts)} hand-ins under the same name; the latest is graded as one student's. "
            "If they are two students of one name, grade their files apart"
        )
    elif len(attempts) > 1:
        warnings.append(f"{key}: the latest of {len(attempts)} attempts is graded ({attempts[-1]})")
    files = _latest_files([h for h in latest if h.original is not None and not h.receipt])
    folders = [h.entry for h in latest if h.original is None and not h.receipt]
    resubmission = max(h.resubmission for h in handins)
    ids = {k: v for h in sorted(latest, key=lambda h: h.entry.name) for k, v in h.ids.items()}
    if len(folders) == 1 and not files:
        path = _lone_zip(folders[0]) or folders[0]
        names = sorted(p.name for p in folders[0].iterdir() if not p.name.startswith("."))
    else:
        path = students / key
        names = _gather(files, folders, path, warnings)
        path = _lone_zip(path) or path
    student = Student(
        key=key,
        platform=layout,
        name=next((h.name for h in latest if h.name), None),
        ids=ids,
        late=any(h.late for h in latest),
        attempt=len(attempts) if attempts != [""] else (resubmission + 1 if resubmission else None),
        files=names[:MAX_LISTED_FILES],
    )
    return Submission(key, path, student)


def _latest_files(handins: list[Handin]) -> dict[str, Handin]:
    """Each original name once: Canvas's `model-1.py` is `model.py` handed in again, and wins."""
    by_name: dict[str, Handin] = {}
    for handin in sorted(handins, key=lambda h: (h.resubmission, h.entry.name)):
        by_name[_plain_name(handin.original or "")] = handin
    return by_name


def _plain_name(original: str) -> str:
    """The handed-in name as one file name in the student's folder, never a path out of it."""
    if original in ("", ".", "..") or any(c in original for c in "/\\\0"):
        return safe_key(original, empty="file")
    return original


def _gather(files: dict[str, Handin], folders: list[Path], target: Path, warnings: list[str]) -> list[str]:
    """Copy a student's files under their own names, and their folders' sources, into `target`."""
    target.mkdir(parents=True)
    for name, handin in files.items():
        if handin.entry.is_file() and not handin.entry.is_symlink():
            shutil.copyfile(handin.entry, target / name)
    for folder in folders:
        try:
            for source, relative in source_files(folder):
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
        except StagingError as error:
            warnings.append(f"{folder.name}: not read ({error})")
        for archive in folder.glob("*.zip"):
            if archive.is_file() and not archive.is_symlink():
                shutil.copyfile(archive, target / archive.name)
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())


def _lone_zip(folder: Path) -> Path | None:
    """The one zip a student handed in, which staging unpacks as it does any zip."""
    children = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(children) == 1 and children[0].suffix == ".zip" and children[0].is_file():
        return None if children[0].is_symlink() else children[0]
    return None
