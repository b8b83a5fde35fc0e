"""The leaderboard a rubric may ask for: each submission's values, their ranking, and pseudonyms.

Only a submission graded to the end (`ok`) with nothing suspected and every value known is
ranked: a crash has no accuracy, and a run whose report looks forged waits for its review.
Pseudonyms are an HMAC of the submission's name keyed with the batch's secret (owner-only,
in `--out`), read as an adjective, an animal and a number: the same every time the class is
rebuilt, and no student can work out whose row is whose from the names.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from grader.host.results import GradeResult
from grader.rubric.models import Leaderboard, LeaderboardColumn

ADJECTIVES = (
    "amber", "brave", "calm", "clever", "crisp", "daring", "eager", "fancy",
    "gentle", "golden", "happy", "jolly", "keen", "lively", "lucky", "mellow",
    "merry", "nimble", "noble", "plucky", "proud", "quick", "quiet", "rapid",
    "shiny", "silent", "sly", "steady", "sunny", "swift", "tidy", "witty",
)  # fmt: skip
ANIMALS = (
    "badger", "beaver", "bison", "crane", "dingo", "eagle", "falcon", "ferret",
    "gecko", "heron", "ibex", "jackal", "koala", "lemur", "lynx", "marten",
    "moose", "newt", "ocelot", "otter", "panda", "puffin", "quail", "raven",
    "seal", "shrew", "stoat", "tapir", "toucan", "viper", "walrus", "yak",
)  # fmt: skip


def value(result: GradeResult, column: LeaderboardColumn) -> float | None:
    return {
        "accuracy": result.accuracy,
        "score": result.score,
        "fit_seconds": result.timings.fit_seconds,
        "sandbox_seconds": result.timings.sandbox_seconds,
    }[column.value]


def values(result: GradeResult, board: Leaderboard) -> list[float] | None:
    """The submission's value in each column, or None when it is not ranked."""
    if result.status != "ok" or result.tampering:
        return None
    found = [value(result, column) for column in board.columns]
    return None if any(v is None for v in found) else found


def pseudonym(submission: str, secret: int) -> str:
    digest = hmac.new(secret.to_bytes(8, "big"), submission.encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(digest[2:4], "big") % 1000
    return f"{ADJECTIVES[digest[0] % len(ADJECTIVES)]}-{ANIMALS[digest[1] % len(ANIMALS)]}-{number:03d}"


@dataclass(frozen=True)
class Standing:
    rank: int
    pseudonym: str
    values: list[float]


def standings(results: list[GradeResult], board: Leaderboard, secret: int) -> list[Standing]:
    """The top `board.top` ranked submissions, best first; equal values share a rank."""
    ranked = [(r, found) for r in results if (found := values(r, board)) is not None]

    def key(entry: tuple[GradeResult, list[float]]) -> tuple:
        signed = [v if c.order == "asc" else -v for c, v in zip(board.columns, entry[1], strict=True)]
        return (*signed, pseudonym(entry[0].submission, secret))  # a tie shows in a fixed order

    ranked.sort(key=key)
    top, previous = [], None
    for place, (result, found) in enumerate(ranked[: board.top], start=1):
        rank = top[-1].rank if found == previous else place
        top.append(Standing(rank, pseudonym(result.submission, secret), found))
        previous = found
    return top
