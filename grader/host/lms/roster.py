"""`--roster FILE`: the course's students, read from its LMS's gradebook export as it is.

Which platform exported the file is told by its header:

| platform | header it has | the export |
|---|---|---|
| canvas | `Student`, `ID`, `SIS Login ID`, `Section`, one `<Assignment> (<id>)` each | Gradebook > Export; a `Points Possible` row, maybe a `Manual Posting` row first |
| moodle | `First name`, `Last name`, `ID number`, `Email address`, `<Item> (Real)` | Grades > Export > Plain text file |
| blackboard | `Last Name`, `First Name`, `Username`, `Availability`, `<Column> [Total Pts: ...] \\|<id>` | Grade Center > Work Offline > Download (tab-separated UTF-16 `.xls`, or CSV) |
| brightspace | `OrgDefinedId`, `Username`, `<Item> Points Grade`, `End-of-Line Indicator` | Grades > Export to CSV; values start with `#` |
| plain | any of `username, email, student_id, sis_id, github, name, section` | a CSV the course writes |

Every name and id in a roster is data: it only ever chooses which row a grade lands in.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Platform = Literal["canvas", "moodle", "blackboard", "brightspace", "plain"]
PLATFORM_NAMES: dict[str, str] = {
    "canvas": "Canvas gradebook export",
    "moodle": "Moodle grades export",
    "blackboard": "Blackboard Grade Center download",
    "brightspace": "Brightspace grades export",
    "plain": "plain roster",
}
PLAIN_COLUMNS = ("username", "email", "student_id", "sis_id", "github", "name", "section")
MAX_ROSTER_BYTES = 50 * 2**20  # a class of thousands is a few MB; more is not a gradebook export


class RosterError(Exception):
    """The roster cannot be read: said before grading starts."""


class RosterStudent(BaseModel):
    """One rostered student, with every identifier the roster gives (None where it gives none)."""

    name: str | None = Field(default=None, description="As the roster spells it (Canvas: `Last, First`).")
    first: str | None = None
    last: str | None = None
    lms_id: str | None = Field(default=None, description="The LMS's own user id: Canvas's `ID`.")
    sis_id: str | None = Field(
        default=None,
        description="The institution's id: Canvas SIS User ID, Moodle ID number, Blackboard Student ID, "
        "Brightspace OrgDefinedId, a plain roster's student_id or sis_id.",
    )
    login: str | None = Field(
        default=None, description="Canvas SIS Login ID, Blackboard or Brightspace Username, `username`."
    )
    email: str | None = None
    github: str | None = None
    section: str | None = None

    def label(self) -> str:
        """Who this is, for a person reading a list of them."""
        return self.name or self.login or self.email or self.sis_id or self.github or self.lms_id or "?"


class GradeItem(BaseModel):
    """A gradebook column the roster already has: where a grade can go back to."""

    name: str
    id: str | None = None
    points: float | None = None
    header: str = Field(description="The column's header as the export wrote it.")


class Roster(BaseModel):
    platform: Platform
    source: str = Field(description="The file it was read from.")
    students: list[RosterStudent]
    items: list[GradeItem] = Field(default_factory=list)
    assignment: str | None = Field(default=None, description="`--lms-assignment`, e.g. `M14 (12345)`.")

    def has(self, field: str) -> bool:
        """Whether any student has this identifier: what the roster's columns allow."""
        return any(getattr(s, field) for s in self.students)

    def describe(self) -> str:
        return f"{PLATFORM_NAMES[self.platform]} ({len(self.students)} students)"


def read_roster(path: Path) -> Roster:
    """The roster in `path`, whichever platform exported it; RosterError says why not."""
    try:
        size = path.stat().st_size
        if size > MAX_ROSTER_BYTES:
            raise RosterError(f"roster {path} is {size // 2**20} MB, more than a gradebook export")
        rows = _rows(_text(path.read_bytes()))
    except OSError as error:
        raise RosterError(f"cannot read roster {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RosterError(f"roster {path} is not a CSV: not text in UTF-8, UTF-16 or Windows-1252") from None
    except csv.Error as error:
        raise RosterError(f"roster {path} is not a CSV or tab-separated text file: {error}") from None
    rows = [[cell.strip() for cell in row] for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise RosterError(f"roster {path} is empty")
    header = rows[0]
    platform = detect(header)
    if platform is None:
        raise RosterError(
            f"cannot tell which gradebook export roster {path} is: its first row names none of the "
            f"columns of a Canvas, Moodle, Blackboard or Brightspace export, nor any of "
            f"{', '.join(PLAIN_COLUMNS)}"
        )
    columns = {name.casefold(): index for index, name in reversed(list(enumerate(header)))}
    students = [s for s in (READERS[platform](Row(row, columns)) for row in rows[1:]) if s is not None]
    if not students:
        raise RosterError(f"roster {path} ({PLATFORM_NAMES[platform]}) lists no students")
    return Roster(
        platform=platform, source=path.name, students=students, items=_items(platform, rows, columns)
    )


def _text(data: bytes) -> str:
    """Decoded as its byte-order mark says (Blackboard's download is UTF-16), else UTF-8, else
    Windows-1252 (a CSV saved by Excel)."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _rows(text: str) -> list[list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = max("\t,;", key=first.count)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def detect(header: list[str]) -> Platform | None:
    names = {name.strip().casefold() for name in header}
    if "orgdefinedid" in names or "end-of-line indicator" in names:
        return "brightspace"
    if {"id", "sis login id"} <= names and ({"student", "section"} & names):
        return "canvas"
    if {"last name", "first name", "username"} <= names and (
        {"availability", "last access", "student id"} & names or any("|" in n for n in names)
    ):
        return "blackboard"
    if {"email address", "id number"} <= names or {"email address", "first name", "last name"} <= names:
        return "moodle"
    if names & set(PLAIN_COLUMNS):
        return "plain"
    return None


class Row:
    """One roster row, its cells by column name (case-insensitive); missing or empty cells are None."""

    def __init__(self, cells: list[str], columns: dict[str, int]) -> None:
        self.cells, self.columns = cells, columns

    def get(self, *names: str) -> str | None:
        for name in names:
            index = self.columns.get(name)
            if index is not None and index < len(self.cells) and self.cells[index]:
                return self.cells[index]
        return None


def _named(row: Row, **identifiers: str | None) -> RosterStudent:
    """A student from a roster that names them in `First name` and `Last name` columns."""
    first, last = row.get("first name"), row.get("last name")
    full = " ".join(part for part in (first, last) if part) or None
    return RosterStudent(name=full, first=first, last=last, **identifiers)


def is_points_row(cells: list[str], columns: dict[str, int]) -> bool:
    """Canvas's `Points Possible` row: that cell exactly, and no user id."""
    first = cells[0].strip() if cells else ""
    return first.casefold() == "points possible" and Row(cells, columns).get("id") is None


def _canvas(row: Row) -> RosterStudent | None:
    lms_id = row.get("id")
    if lms_id is None:
        # The `Points Possible` row, and the `Manual Posting` (or `Muted`) row that says which
        # grades are hidden: no one's. A student's name never decides it ("Points Possible, Eve").
        return None
    last, first = row.get("lastname"), row.get("firstname")
    name = row.get("student") or (f"{last}, {first}" if last and first else last or first)
    if name in ("Student, Test", "Test Student"):
        return None  # Canvas's Student View account, which every course has
    if name and "," in name and not (first or last):
        last, first = (part.strip() for part in name.split(",", 1))
    return RosterStudent(
        name=name,
        first=first,
        last=last,
        lms_id=lms_id,
        sis_id=row.get("sis user id"),
        login=row.get("sis login id"),
        section=row.get("section"),
    )


def _moodle(row: Row) -> RosterStudent | None:
    email, sis_id = row.get("email address"), row.get("id number")
    if not (email or sis_id):
        return None
    return _named(
        row, sis_id=sis_id, login=row.get("username"), email=email, section=row.get("group", "groups")
    )


def _blackboard(row: Row) -> RosterStudent | None:
    login = row.get("username")
    if login is None:
        return None
    return _named(
        row,
        sis_id=row.get("student id"),
        login=login,
        email=row.get("email"),
        section=row.get("child course id"),
    )


def _hashless(value: str | None) -> str | None:
    """Brightspace writes `#` before ids so that Excel keeps them text; it is not part of the id."""
    return (value.removeprefix("#") or None) if value else None


def _brightspace(row: Row) -> RosterStudent | None:
    sis_id, login = _hashless(row.get("orgdefinedid")), _hashless(row.get("username"))
    if not (sis_id or login):
        return None
    return _named(
        row,
        sis_id=sis_id,
        login=login,
        email=row.get("email"),
        section=row.get("section membership", "section"),
    )


def _plain(row: Row) -> RosterStudent | None:
    student = RosterStudent(
        name=row.get("name"),
        sis_id=row.get("sis_id", "student_id"),
        login=row.get("username"),
        email=row.get("email"),
        github=row.get("github"),
        section=row.get("section"),
    )
    identified = any((student.name, student.sis_id, student.login, student.email, student.github))
    return student if identified else None


READERS: dict[str, Callable[[Row], RosterStudent | None]] = {
    "canvas": _canvas,
    "moodle": _moodle,
    "blackboard": _blackboard,
    "brightspace": _brightspace,
    "plain": _plain,
}

# A gradebook column's header, per platform: the item's name, id and points where it gives them.
CANVAS_ITEM = re.compile(r"^(?P<name>.+?) \((?P<id>\d+)\)$")
MOODLE_ITEM = re.compile(r"^(?:[^:]+: )?(?P<name>.+?) \(Real\)$")  # `Assignment: M14 (Real)`
BLACKBOARD_ITEM = re.compile(r"^(?P<name>.+?) \[Total Pts: (?P<points>[\d.]+)[^\]]*\] \|(?P<id>\d+)$")
BRIGHTSPACE_ITEM = re.compile(r"^(?P<name>.+?) Points Grade(?: <[^>]*MaxPoints:(?P<points>[\d.]+)[^>]*>)?$")
ITEMS = {
    "canvas": CANVAS_ITEM,
    "moodle": MOODLE_ITEM,
    "blackboard": BLACKBOARD_ITEM,
    "brightspace": BRIGHTSPACE_ITEM,
}


def _items(platform: str, rows: list[list[str]], columns: dict[str, int]) -> list[GradeItem]:
    pattern = ITEMS.get(platform)
    if pattern is None:
        return []
    header = rows[0]
    points_row = next((row for row in rows[1:3] if is_points_row(row, columns)), [])
    items = []
    for index, cell in enumerate(header):
        found = pattern.match(cell)
        if not found:
            continue
        parts = found.groupdict()
        points = parts.get("points") or (points_row[index] if index < len(points_row) else None)
        items.append(GradeItem(name=parts["name"], id=parts.get("id"), points=_number(points), header=cell))
    return items


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None  # `(read only)`
