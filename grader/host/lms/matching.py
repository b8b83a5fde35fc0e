"""Which rostered student handed each submission in, or why that cannot be told.

Each submission is tried by one kind of identifier after another, and the first kind that
finds anyone decides: the LMS's own user id, then a login or an email address, then a GitHub
login, then the full name, normalised (case, accents, `Last, First`, Canvas's `lastfirst`).
When that kind finds two students, or two submissions find the same student, nothing is
guessed: they are unmatched, with the reason, and their grades go nowhere.

A submission with no `student` (a plain folder) is known by its name only, which is then
tried as a login, an email address, a GitHub login and a full name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from grader.host.lms.roster import Roster, RosterStudent
from grader.host.results import GradeResult, Student


@dataclass(frozen=True)
class Unmatched:
    result: GradeResult
    reason: str


@dataclass
class Matching:
    """Rostered students (by their place in the roster) with their submission's result; the
    submissions no student was found for; the rostered students without one."""

    matched: dict[int, tuple[GradeResult, str]] = field(default_factory=dict)
    unmatched: list[Unmatched] = field(default_factory=list)
    missing: dict[int, str] = field(default_factory=dict)


def who(result: GradeResult) -> Student:
    return result.student or Student(key=result.submission, platform="plain")


def _folded(value: str | None) -> str | None:
    return value.strip().casefold() if value and value.strip() else None


def name_keys(name: str | None, first: str | None = None, last: str | None = None) -> set[str]:
    """The forms a full name is compared in: its words in any order, and run together last name
    first or first name first (Canvas names a download `lastfirst`)."""
    if not name and not (first or last):
        return set()
    if name and "," in name and not (first or last):
        last, first = name.split(",", 1)
    words = _words(name or f"{first or ''} {last or ''}")
    # Each rotation: where first and last name part is not known, any split of the words may be it.
    keys = {" ".join(sorted(words))} | {"".join(words[i:] + words[:i]) for i in range(len(words))}
    if first or last:
        first_words, last_words = _words(first or ""), _words(last or "")
        keys |= {"".join(last_words + first_words), "".join(first_words + last_words)}
    return {key for key in keys if key}


def _words(text: str) -> list[str]:
    """Lower case, no accents, letters and digits only."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.findall(r"[^\W_]+", plain.casefold())


Probe = Callable[[Student, RosterStudent], bool]


def _same(mine: str | None, theirs: str | None) -> bool:
    return _folded(mine) is not None and _folded(mine) == _folded(theirs)


def _by_lms_id(student: Student, rostered: RosterStudent) -> bool:
    return _same(student.ids.get("user_id"), rostered.lms_id) or _same(
        student.ids.get("sis_id") or student.ids.get("student_id"), rostered.sis_id
    )


def _plain_key(student: Student) -> str | None:
    return student.key if student.platform == "plain" else None


def _by_login(student: Student, rostered: RosterStudent) -> bool:
    login = student.ids.get("username") or student.ids.get("login") or _plain_key(student)
    email = student.ids.get("email") or _plain_key(student)
    return _same(login, rostered.login) or _same(email, rostered.email)


def _by_github(student: Student, rostered: RosterStudent) -> bool:
    return _same(student.ids.get("github") or _plain_key(student), rostered.github)


def _by_name(student: Student, rostered: RosterStudent) -> bool:
    mine = name_keys(student.name or _plain_key(student))
    return bool(mine & name_keys(rostered.name, rostered.first, rostered.last))


PROBES: list[tuple[str, Probe]] = [
    ("LMS id", _by_lms_id),
    ("login or email", _by_login),
    ("GitHub login", _by_github),
    ("full name", _by_name),
]


def find(student: Student, roster: Roster) -> tuple[int | None, str]:
    """The rostered student's place and how they were found, or None and why not."""
    for how, probe in PROBES:
        found = [i for i, rostered in enumerate(roster.students) if probe(student, rostered)]
        if len(found) == 1:
            return found[0], how
        if found:
            names = "; ".join(roster.students[i].label() for i in found)
            return None, f"ambiguous: its {how} fits {len(found)} rostered students ({names})"
    return None, "no rostered student has its id, login, email, GitHub login or name"


def match(results: list[GradeResult], roster: Roster) -> Matching:
    matching = Matching()
    claims: dict[int, list[tuple[GradeResult, str]]] = {}
    for result in results:
        place, how = find(who(result), roster)
        if place is None:
            matching.unmatched.append(Unmatched(result, how))
        else:
            claims.setdefault(place, []).append((result, how))
    for place, claimed in claims.items():
        if len(claimed) == 1:
            matching.matched[place] = claimed[0]
            continue
        names = ", ".join(r.submission for r, _ in claimed)
        matching.missing[place] = f"ambiguous: {len(claimed)} submissions fit this student ({names})"
        for result, how in claimed:
            others = ", ".join(r.submission for r, _ in claimed if r is not result)
            matching.unmatched.append(Unmatched(result, f"ambiguous: {others} fit the same student by {how}"))
    for place in range(len(roster.students)):
        if place not in matching.matched and place not in matching.missing:
            matching.missing[place] = "no submission"
    return matching
