"""How each platform names the entries of its submissions download, read back as who handed in what.

One registry, `LAYOUTS`, one entry per platform: the CLI's `--layout` choices, detection and the
README's table all come from it. A layout reads the entries of a download (files and folders)
into `Handin`s: who, by the platform's own ids, and the file's original name. Which entries are
one student's submission, and which attempt is kept, is `download`'s concern.

Every part of a name that the platform writes anchors the match; the parts a student controls
(the original file name, a display name) only ever fill the slot between two anchors, so no file
name can change whose submission it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

# A key is a file name in results/ and feedback/: safe characters only, and short.
MAX_KEY_CHARS = 80
# A Blackboard receipt names the student in its first lines; the student's own text comes later.
RECEIPT_HEAD_BYTES = 4096


@dataclass(frozen=True)
class Handin:
    """One entry of a download, as its platform names it."""

    entry: Path
    identity: tuple[str, ...]  # who, by what the platform says: one identity is one student
    key: str  # the student's key in the gradebook, before two students are told apart
    original: str | None = None  # the file's name as handed in; None: a folder of files as handed in
    name: str | None = None
    ids: dict[str, str] = field(default_factory=dict)
    late: bool = False
    attempt: str = ""  # orders one student's attempts (the greatest is the latest); "" where there is one
    resubmission: int = 0  # Canvas's `-N` on a file handed in again: 0 for the first
    receipt: bool = False  # the platform's own file about an attempt, not the student's


# A layout's reading of a download's entries: the entries it names, each a student's hand-in or
# (None) a file of the platform's own that belongs to nobody, such as Brightspace's index.html.
Reading = dict[Path, Handin | None]


@dataclass(frozen=True)
class Layout:
    name: str
    naming: str  # the naming it reads, for the run's first line
    documentation: str  # the page that documents (or shows) the naming
    read: Callable[[list[Path]], Reading]


def safe_key(text: str, empty: str = "student") -> str:
    """`text` as a file name: letters, digits, `.`, `_` and `-`, never a path; `empty` when none is left."""
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:MAX_KEY_CHARS].strip("._-")
    return key or empty


def _shared_start(names: list[str], separator: str) -> str:
    """What all `names` start with, up to and with its last `separator` (a lone name: up to its last)."""
    first, last = min(names), max(names)
    length = 0
    while first != last and length < min(len(first), len(last)) and first[length] == last[length]:
        length += 1
    shared = first if first == last else first[:length]
    return shared[: shared.rfind(separator) + 1]


# Canvas: lastfirst_[LATE_]<user id>_<submission id>_<original name>; a file handed in again
# gets `-N` before its extension.
CANVAS = re.compile(
    r"(?P<name>[^_]+)_(?:(?P<late>LATE)_)?(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<original>.+)"
)
RESUBMITTED = re.compile(r"(?P<stem>.+)-(?P<number>\d+)(?P<suffix>\.[^.]+)?")


def read_canvas(entries: list[Path]) -> Reading:
    found: Reading = {}
    for entry in entries:
        match = CANVAS.fullmatch(entry.name)
        if match is None or entry.is_dir():
            continue
        original, number = match["original"], 0
        if again := RESUBMITTED.fullmatch(original):
            original, number = again["stem"] + (again["suffix"] or ""), int(again["number"])
        found[entry] = Handin(
            entry,
            identity=(match["name"], match["user_id"]),
            key=safe_key(f"{match['name']}_{match['user_id']}"),
            original=original,
            name=match["name"],
            ids={"user_id": match["user_id"], "submission_id": match["submission_id"]},
            late=match["late"] is not None,
            resubmission=number,
        )
    return found


# Moodle: a folder per student and plugin, `Full Name_<participant id>_assignsubmission_<plugin>_`
# (the name is anchored at the end: it may hold anything); without folders, each file is
# `Full Name_<participant id>_assignsubmission_<plugin>_<original name>`.
MOODLE_FOLDER = re.compile(r"(?P<name>.+)_(?P<participant_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_")
MOODLE_FILE = re.compile(
    r"(?P<name>.+?)_(?P<participant_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<original>.+)"
)


def read_moodle(entries: list[Path]) -> Reading:
    found: Reading = {}
    for entry in entries:
        folder = entry.is_dir()
        match = (MOODLE_FOLDER if folder else MOODLE_FILE).fullmatch(entry.name)
        if match is None:
            continue
        found[entry] = Handin(
            entry,
            identity=(match["name"], match["participant_id"]),
            key=safe_key(f"{match['name']}_{match['participant_id']}"),
            original=None if folder else match["original"],
            name=match["name"],
            ids={"participant_id": match["participant_id"]},
        )
    return found


# Blackboard: <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original name>, and a
# receipt <assignment>_<username>_attempt_<time>.txt per attempt.
BLACKBOARD = re.compile(
    r"(?P<head>.+?)_attempt_(?P<time>\d{4}(?:-\d{2}){5})(?:_(?P<original>.+)|(?P<receipt>\.txt))"
)
RECEIPT_NAME = re.compile(r"^Name: (?P<name>.+) \((?P<username>[^()\s]+)\)\s*$", re.MULTILINE)


def _receipt_name(receipt: Path) -> tuple[str, str] | None:
    """(name, username) from the receipt's own first `Name:` line, above anything the student wrote."""
    try:
        with receipt.open("rb") as file:
            head = file.read(RECEIPT_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    match = RECEIPT_NAME.search(head)
    return (match["name"], match["username"]) if match else None


def read_blackboard(entries: list[Path]) -> Reading:
    matches = {e: m for e in entries if not e.is_dir() and (m := BLACKBOARD.fullmatch(e.name))}
    if not matches:
        return {}
    # The assignment's name starts every entry; the username is what follows it. A receipt, when
    # it names the username, says where the one ends and the other begins.
    shared = _shared_start([m["head"] for m in matches.values()], "_")
    usernames, names = {}, {}
    for entry, match in matches.items():
        if match["receipt"] and (said := _receipt_name(entry)) and match["head"].endswith("_" + said[1]):
            usernames[match["head"]], names[match["head"]] = said[1], said[0]
    found: Reading = {}
    for entry, match in matches.items():
        head = match["head"]
        username = usernames.get(head) or head[len(shared) :] or head
        found[entry] = Handin(
            entry,
            identity=(username,),
            key=safe_key(username),
            original=match["original"],
            name=names.get(head),
            ids={"username": username, "attempt": match["time"]},
            attempt=match["time"],
            receipt=match["receipt"] is not None,
        )
    return found


# Brightspace: <submission id>-<file id> - <Last>, <First>- <Mon d, yyyy hmm AM> - <original name>,
# or a folder of the same name without the file; and the download's own index.html.
BRIGHTSPACE = re.compile(
    r"(?P<submission_id>\d+)(?:-(?P<file_id>\d+))? - (?P<name>.+?)- "
    r"(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}) (?P<hour>\d{1,2})(?P<minute>\d{2}) "
    r"(?P<half>[AP]M)(?: - (?P<original>.+))?"
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BRIGHTSPACE_INDEX = "index.html"


def _brightspace_time(match: re.Match) -> str | None:
    """The submission's time as YYYY-MM-DD-HH-MM, which sorts; None for no real date."""
    if match["month"] not in MONTHS or not 1 <= int(match["hour"]) <= 12 or int(match["minute"]) > 59:
        return None
    hour = int(match["hour"]) % 12 + (12 if match["half"] == "PM" else 0)
    month = MONTHS.index(match["month"]) + 1
    return f"{match['year']}-{month:02d}-{int(match['day']):02d}-{hour:02d}-{match['minute']}"


def read_brightspace(entries: list[Path]) -> Reading:
    found: Reading = {}
    for entry in entries:
        if entry.name == BRIGHTSPACE_INDEX and entry.is_file():
            found[entry] = None
            continue
        match = BRIGHTSPACE.fullmatch(entry.name)
        if match is None or (time := _brightspace_time(match)) is None:
            continue
        if entry.is_dir() == (match["original"] is not None):
            continue  # a file names what it holds; a folder holds files under their own names
        found[entry] = Handin(
            entry,
            identity=(match["name"],),
            key=safe_key(match["name"]),
            original=match["original"],
            name=match["name"],
            ids={"submission_id": match["submission_id"]},
            attempt=f"{time}_{int(match['submission_id']):012d}",
        )
    return found


# GitHub Classroom: one clone per student, <assignment prefix>-<login>.
GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")


# `gh classroom clone student-repos` clones into `<assignment>-submissions/`.
CLONES_FOLDER = "-submissions"


def read_github(entries: list[Path]) -> Reading:
    folders = [e for e in entries if e.is_dir() and "-" in e.name]
    if not folders:
        return {}
    parent = folders[0].parent.name
    if parent.endswith(CLONES_FOLDER) and len(parent) > len(CLONES_FOLDER):
        shared = parent[: -len(CLONES_FOLDER)] + "-"  # the assignment, as the clone folder names it
    elif len(folders) > 1:
        # Else what every clone's name shares, up to its last hyphen; a lone clone has no prefix to
        # tell from its login (`hw1-jane-doe`), and is graded as its folder.
        shared = _shared_start([f.name for f in folders], "-")
    else:
        return {}
    found: Reading = {}
    for folder in folders:
        login = folder.name[len(shared) :]
        if shared and folder.name.startswith(shared) and GITHUB_LOGIN.fullmatch(login):
            found[folder] = Handin(
                folder,
                identity=(login.lower(),),  # GitHub logins ignore case
                key=safe_key(login),
                ids={"github": login, "repository": folder.name},
            )
    return found


def read_plain(entries: list[Path]) -> Reading:
    return {}  # each entry is a submission of its own, named by its file or folder (`discover`)


PLAIN = "plain"
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout(
            "canvas",
            "lastfirst_<user id>_<submission id>_<file>",
            "https://github.com/TimHanneman/Canvas_submission_sort (README: the LATE field and the "
            "resubmission number before the extension)",
            read_canvas,
        ),
        Layout(
            "moodle",
            "Full Name_<participant id>_assignsubmission_<plugin>_",
            "https://github.com/moodle/moodle/commit/381bb721538cbba98ac84447a6da22fdb4dc94a2 "
            "(mod/assign: 'Download submissions in folders', files not renamed)",
            read_moodle,
        ),
        Layout(
            "blackboard",
            "<assignment>_<username>_attempt_<time>_<file>",
            "https://github.com/kwurst/bb-file-cleanup (README: Grade Center file names and receipts)",
            read_blackboard,
        ),
        Layout(
            "brightspace",
            "<submission id>-<file id> - <Last>, <First>- <date> - <file>",
            "D2L Brightspace Assignments, 'Download' of submissions (no page in the stored corpus)",
            read_brightspace,
        ),
        Layout(
            "github",
            "<assignment prefix>-<login>",
            "https://github.com/github/gh-classroom/issues/29 (gh classroom clone student-repos: "
            "<assignment>-<login> folders)",
            read_github,
        ),
        Layout(PLAIN, "one submission per entry", "this README: Grading a class", read_plain),
    )
}


def _check(layouts: dict[str, Layout]) -> None:
    """Each layout is a platform name the gradebook exports can key on, documented, and readable."""
    for name, layout in layouts.items():
        if not re.fullmatch(r"[a-z]+", name) or not layout.naming or not layout.documentation:
            raise RuntimeError(f"layout {name!r} needs a lower-case name, its naming and its documentation")
        if not callable(layout.read):
            raise RuntimeError(f"layout {name!r} has no reader")
    if PLAIN not in layouts:
        raise RuntimeError("the plain layout (one submission per entry) must exist")


_check(LAYOUTS)
# The choices of the CLI's --layout (typer takes an Enum); each member's value is its name.
LayoutName = Enum("LayoutName", {name: name for name in LAYOUTS}, type=str)
