"""`<out>/lms/`: each LMS gradebook's own import file, from every result and the roster.

| file | follows | student key | grade column |
|---|---|---|---|
| `canvas.csv` | Canvas's "How do I import grades in the Gradebook?" and its gradebook exporter | `ID`, `SIS User ID`, `SIS Login ID` | `<Assignment> (<id>)`, after a `Points Possible` row |
| `moodle.csv` | MoodleDocs "Grade import" (CSV, map from `Email address` or `ID number`) | `ID number` or `Email address` | `<Item>`, `<Item> (Feedback)` |
| `blackboard.csv` | Blackboard Learn "Uploading or Downloading Grade Center Items for Working Offline" (every value quoted) | `Username` | `<Column> \\|<Column ID>` |
| `brightspace.csv` | D2L Brightspace "Importing grades" | `OrgDefinedId` (or `Username`), `#`-prefixed | `<Item> Points Grade`, `End-of-Line Indicator` |
| `unmatched.csv` | this grader | | `no student`, `no submission`, `not exported` (no value in the key column), each with why |

The roster of `--roster` is kept in `roster.json`, so that any later run into the same
`--out` exports again. A platform's roster gets that platform's file; a plain roster gets
each one its columns allow. A student without a gradable submission gets an empty cell,
never 0, and is listed in `unmatched.csv`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from grader.host.lms.matching import Matching, match
from grader.host.lms.roster import GradeItem, Roster, RosterStudent
from grader.host.publish.common import number, plain_text, spreadsheet_cell
from grader.host.publish.feedback import first_to_fix
from grader.host.results import GradeResult, Student
from grader.rubric.models import Rubric

FOLDER = "lms"
ROSTER_FILE = "roster.json"
UNMATCHED_FILE = "unmatched.csv"
ASSIGNMENT_WITH_ID = re.compile(r"^(?P<name>.*\S)\s*\((?P<id>[^()]+)\)$")


def lms_folder(out: Path) -> Path:
    return out / FOLDER


def save_roster(roster: Roster, out: Path) -> None:
    folder = lms_folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ROSTER_FILE).write_text(roster.model_dump_json(indent=2) + "\n", encoding="utf-8")


def saved_roster(out: Path) -> Roster | None:
    """The roster an earlier run kept in `out`, if any."""
    try:
        return Roster.model_validate_json((lms_folder(out) / ROSTER_FILE).read_bytes())
    except (OSError, ValidationError):
        return None


# A `;` then a formula's start: where a spreadsheet of a `;` locale starts a cell. A quote keeps a
# `;` in the row's first value, but the importers' quote of a later value is no quote to it.
SEMICOLON_FORMULA = re.compile(r";(\s*)(?=[=+\-@])")


def cell(text: str | None) -> str:
    """Text a student or the roster controls, as a cell a spreadsheet shows and never runs."""
    flat = plain_text(text or "").replace("\n", " ").replace("\t", " ")
    return spreadsheet_cell(SEMICOLON_FORMULA.sub(r";\1'", flat))


@dataclass(frozen=True)
class Item:
    """Where the grades go: the gradebook column's name and id, and its points."""

    name: str
    id: str | None
    points: float  # the roster's column's points possible where it gives them, else the rubric's
    found: GradeItem | None  # the roster's own column for it, header as exported

    def grade(self, result: GradeResult) -> str:
        """The score as the column counts it: scaled to the column's points possible where the
        gradebook gives it other points than the rubric (85 of 100 is 8.5 in a 10-point column)."""
        if self.points == result.max_score or result.max_score <= 0:
            return number(result.score)
        return number(round(result.score * self.points / result.max_score, 4))


def assignment_item(roster: Roster, rubric: Rubric) -> Item:
    """`--lms-assignment "M14 (12345)"`, or the rubric's title, or else the one column of the roster
    named after the rubric's id; without an id, the id of the roster's column of that name, when
    the roster has exactly one."""
    wanted = roster.assignment or rubric.title
    given = ASSIGNMENT_WITH_ID.match(wanted)
    name, item_id = (given["name"], given["id"]) if given else (wanted, None)
    same = [i for i in roster.items if (item_id and i.id == item_id) or i.name.casefold() == name.casefold()]
    if not same and roster.assignment is None:
        # Unnamed, the roster's one column named after the rubric's id ("M14 Lightning" for m14).
        named = re.compile(rf"\b{re.escape(rubric.id)}\b", re.IGNORECASE)
        same = [i for i in roster.items if named.search(i.name)]
    found = same[0] if len(same) == 1 else None
    if found:
        name, item_id = found.name, item_id or found.id
    points = found.points if found and found.points else rubric.max_score
    return Item(name, item_id, points, found)


def scaling_note(out: Path, rubric: Rubric) -> str | None:
    """What the run says when the exported scores are scaled to the gradebook column's points."""
    roster = saved_roster(out)
    if roster is None:
        return None
    item = assignment_item(roster, rubric)
    if item.points == rubric.max_score:
        return None
    example = number(round(rubric.max_score * 0.85, 4))
    return (
        f"LMS: the gradebook column {item.found.header if item.found else item.name} is worth "
        f"{number(item.points)} points, the rubric {number(rubric.max_score)}: the exports scale every "
        f"score to the column ({example} / {number(rubric.max_score)} is exported as "
        f"{number(round(item.points * 0.85, 4))})."
    )


# What each platform's import needs of a student; the first the roster has is used.
KEYS: dict[str, tuple[str, ...]] = {
    "canvas": ("lms_id", "sis_id", "login"),
    "moodle": ("sis_id", "email"),
    "blackboard": ("login",),
    "brightspace": ("sis_id", "login"),
}


def platforms(roster: Roster) -> list[str]:
    """The exports this roster makes sense for: its own platform's, or each one a plain roster's
    columns allow."""
    if roster.platform != "plain":
        return [roster.platform]
    return [name for name, keys in KEYS.items() if any(roster.has(key) for key in keys)]


# The column each import keys its rows by, per identifier; Canvas's import takes them all.
KEY_COLUMNS: dict[str, dict[str, str]] = {
    "canvas": {"lms_id": "ID", "sis_id": "SIS User ID", "login": "SIS Login ID"},
    "moodle": {"sis_id": "ID number", "email": "Email address"},
    "blackboard": {"login": "Username"},
    "brightspace": {"sis_id": "OrgDefinedId", "login": "Username"},
}


def keyed(student: RosterStudent, roster: Roster, platform: str) -> bool:
    """Whether the platform's import can find this student's row: Canvas by any of its ids, the
    others by the one column they key by."""
    if platform == "canvas":
        return any(getattr(student, key) for key in KEYS["canvas"])
    return bool(getattr(student, key_field(roster, platform)))


def key_field(roster: Roster, platform: str) -> str:
    """Moodle maps users by one column: the ID number only where every student has one."""
    keys = [key for key in KEYS[platform] if roster.has(key)]
    if platform == "moodle" and len(keys) > 1 and not all(s.sis_id for s in roster.students):
        return "email"
    return keys[0]


@dataclass(frozen=True)
class Graded:
    """A rostered student, with the result to export, or why none is."""

    student: RosterStudent
    result: GradeResult | None
    reason: str


def gradebook_rows(roster: Roster, matching: Matching) -> list[Graded]:
    rows = []
    for place, student in enumerate(roster.students):
        result, _ = matching.matched.get(place, (None, ""))
        if result is not None and result.status == "grader_error":
            rows.append(Graded(student, None, f"{result.submission}: grader error, not exported; regrade it"))
        elif result is not None:
            rows.append(Graded(student, result, ""))
        else:
            rows.append(Graded(student, None, matching.missing.get(place, "no submission")))
    return rows


def summary_line(result: GradeResult) -> str:
    """The feedback's summary, in one line: the score, the status, and the first thing to fix."""
    line = f"{number(result.score)} / {number(result.max_score)} ({result.status})"
    if result.status != "ok" and result.status_reason:
        return f"{line}: {result.status_reason}"
    fix = first_to_fix(result)
    if fix:
        return f"{line}. First to fix: {fix.id}: {fix.message}"
    return f"{line}. Full marks." if result.score >= result.max_score else line


def quoted_writer(handle: TextIO) -> Any:
    """Every value in quotes, as Blackboard's import asks and Canvas's, Moodle's and Brightspace's
    (RFC 4180 CSV) accept: a spreadsheet that splits on `;` (the list separator of many locales)
    keeps a quoted first value whole; `cell()` guards the `;` of the others."""
    return csv.writer(handle, quoting=csv.QUOTE_ALL)


def write_canvas(rows: list[Graded], roster: Roster, item: Item, path: Path) -> None:
    header = f"{item.name} ({item.id})" if item.id else item.name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = quoted_writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", cell(header)])
        # As Canvas's own export writes it; its importer finds the row by `Points Possible`.
        writer.writerow(["    Points Possible", "", "", "", "", number(item.points)])
        for row in rows:
            s = row.student
            if not keyed(s, roster, "canvas"):
                continue  # no id Canvas can match: unmatched.csv lists it when graded
            grade = item.grade(row.result) if row.result else ""
            writer.writerow(
                [cell(s.name), cell(s.lms_id), cell(s.sis_id), cell(s.login), cell(s.section), grade]
            )


def write_moodle(rows: list[Graded], roster: Roster, item: Item, path: Path) -> None:
    key = key_field(roster, "moodle")
    identifier = KEY_COLUMNS["moodle"][key]
    base = item.found.header.removesuffix(" (Real)") if item.found else item.name
    grade_header = item.found.header if item.found else item.name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = quoted_writer(handle)
        writer.writerow([identifier, cell(grade_header), cell(f"{base} (Feedback)")])
        for row in rows:
            if row.result and getattr(row.student, key):
                writer.writerow(
                    [
                        cell(getattr(row.student, key)),
                        item.grade(row.result),
                        cell(summary_line(row.result)),
                    ]
                )


def write_blackboard(rows: list[Graded], roster: Roster, item: Item, path: Path) -> None:
    if item.found and item.found.id == item.id and roster.platform == "blackboard":
        header = item.found.header
    else:
        header = f"{item.name} |{item.id}" if item.id else item.name  # no id: Blackboard adds a column
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = quoted_writer(handle)
        writer.writerow(["Username", cell(header)])
        for row in rows:
            if row.result and row.student.login:
                writer.writerow([cell(row.student.login), item.grade(row.result)])


def write_brightspace(rows: list[Graded], roster: Roster, item: Item, path: Path) -> None:
    key = key_field(roster, "brightspace")
    identifier = KEY_COLUMNS["brightspace"][key]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = quoted_writer(handle)
        writer.writerow([identifier, cell(f"{item.name} Points Grade"), "End-of-Line Indicator"])
        for row in rows:
            if row.result and getattr(row.student, key):
                # `#` keeps an id such as 00246 text in Excel; Brightspace's import drops it.
                writer.writerow([f"#{plain_text(getattr(row.student, key))}", item.grade(row.result), "#"])


WRITERS: dict[str, Callable[[list[Graded], Roster, Item, Path], None]] = {
    "canvas": write_canvas,
    "moodle": write_moodle,
    "blackboard": write_blackboard,
    "brightspace": write_brightspace,
}
UNMATCHED_HEADER = [
    "kind",
    "submission",
    "name",
    "lms_id",
    "sis_id",
    "login",
    "email",
    "github",
    "section",
    "reason",
]


def left_out(rows: list[Graded], roster: Roster, chosen: list[str]) -> list[Graded]:
    """Graded students an import cannot take: the roster gives no value in the column it keys by."""
    found = []
    for platform in chosen:
        if platform == "canvas":
            needed = " or ".join(KEY_COLUMNS["canvas"].values())
        else:
            needed = KEY_COLUMNS[platform][key_field(roster, platform)]
        reason = f"graded, but left out of {platform}.csv: the roster gives no {needed}"
        found += [
            Graded(r.student, r.result, reason)
            for r in rows
            if r.result and not keyed(r.student, roster, platform)
        ]
    return found


def download_ids(student: Student | None) -> list[str | None]:
    """A submission's own ids, as the download gave them, in unmatched.csv's columns: what to look
    the student up by in the LMS (Canvas's user_id is its `ID`)."""
    if student is None:
        return [None] * 6
    ids = student.ids
    lms_id = ids.get("user_id") if student.platform == "canvas" else None
    return [
        lms_id,
        ids.get("sis_id") or ids.get("student_id"),
        ids.get("username") or ids.get("login"),
        ids.get("email"),
        ids.get("github"),
        None,  # no download says a section
    ]


def write_unmatched(rows: list[Graded], matching: Matching, left: list[Graded], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = quoted_writer(handle)
        writer.writerow(UNMATCHED_HEADER)
        for unmatched in sorted(matching.unmatched, key=lambda u: u.result.submission):
            student = unmatched.result.student
            writer.writerow(
                ["no student", cell(unmatched.result.submission), cell(student.name if student else "")]
                + [cell(f) for f in download_ids(student)]
                + [cell(unmatched.reason)]
            )
        for kind, row in [("no submission", r) for r in rows if r.result is None] + [
            ("not exported", r) for r in left
        ]:
            s = row.student
            fields = (s.name, s.lms_id, s.sis_id, s.login, s.email, s.github, s.section)
            submission = row.result.submission if row.result else ""
            writer.writerow([kind, cell(submission)] + [cell(f) for f in fields] + [cell(row.reason)])


def write_lms(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    """The exports for the roster kept in `out`; nothing without one."""
    roster = saved_roster(out)
    if roster is None:
        return
    folder = lms_folder(out)
    matching = match(results, roster)
    rows = gradebook_rows(roster, matching)
    item = assignment_item(roster, rubric)
    chosen = platforms(roster)
    for name in WRITERS.keys() - set(chosen):
        (folder / f"{name}.csv").unlink(missing_ok=True)  # of an earlier roster: no longer true
    for name in chosen:
        partial = folder / f"{name}.partial"
        WRITERS[name](rows, roster, item, partial)
        partial.replace(folder / f"{name}.csv")
    partial = folder / "unmatched.partial"
    write_unmatched(rows, matching, left_out(rows, roster, chosen), partial)
    partial.replace(folder / UNMATCHED_FILE)


def exported(out: Path) -> tuple[list[str], int]:
    """The export files in `out/lms/`, and the rows of `unmatched.csv`: what the run says it wrote."""
    folder = lms_folder(out)
    files = sorted(p.name for p in folder.glob("*.csv") if p.name != UNMATCHED_FILE)
    try:
        with (folder / UNMATCHED_FILE).open(newline="", encoding="utf-8") as handle:
            unmatched = max(0, sum(1 for _ in csv.reader(handle)) - 1)
    except OSError:
        unmatched = 0
    return files, unmatched
