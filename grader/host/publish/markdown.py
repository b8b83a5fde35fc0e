"""Markdown around student text, so that the text renders as itself and as nothing else.

Feedback, the job summary and the self-check screen are Markdown, and much of what they show
is the student's: exception messages, class, file and metric names, printed output, notes
and anything else the runner reports. Read as Markdown, such text could close the code span
it is quoted in and go on with a live image, a link, raw HTML, or a URL that a renderer
links by itself (GitHub links `www.` and e-mail addresses, markdown-it's linkify even
`model.py`). Every writer builds its Markdown from these helpers:

- `code(text)`: a code span that no text can close: its backtick run is longer than any in
  the text (CommonMark's rule), padded with a space where the text starts or ends with one;
- `inert(text)`: prose whose punctuation that opens something (links, images, HTML, entities,
  emphasis, block markers) is backslash-escaped, and whose words a renderer would link
  (URLs, `www.`, e-mail addresses, domain-like names) are code spans;
- `render(message)`: a grader message, which quotes values in backticks: each code span in
  it stays code, re-fenced with `code`, and the rest is `inert`. Safety comes from what is
  written, not from finding the spans: a backtick in a value quoted with a single backtick
  only moves the line between code and prose, and both are inert;
- `fenced(text)`: a fenced block that no line of the text can close.

Everything is made one line (but `fenced`): a line break could start an HTML block or a
heading. Control and format characters go first (`plain_text`), since dropping them later
could join two backtick runs into one that closes the span.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from grader.host.publish.common import plain_text

BACKTICK_RUN = re.compile(r"`+")
# Characters that open an inline construct: escapes, code, emphasis, links and images, raw
# HTML and autolinks, entities, table cells, strikethrough, GitHub's math and issue links.
ACTIVE = re.compile(r"[\\`*_\[\]<>&!|~$#]")
# What opens a block at the start of a line (`#`, `>` are escaped anywhere): a list item, a
# setext underline, a numbered item; its punctuation gets the backslash.
BLOCK_START = re.compile(r"^(\d*)([-+=.)])")
# A word that some renderer links by itself: a scheme or protocol-relative URL, `www.`, an
# e-mail address, or a name.tld as linkify-it's fuzzy links read it (a top-level domain has
# two letters at least). Fullwidth and ideographic full stops count as dots.
DOT = "[.\u3002\uff0e\uff61]"
LINKABLE = re.compile(rf"//|@|www{DOT}|[^\W_]{DOT}[^\W\d_]{{2}}", re.IGNORECASE)
# Punctuation around a linkable word that stays prose: "(see model.py:12)." quotes `model.py:12`.
LEADING, TRAILING = "([{<\"'", ".,;:!?)]}>\"'"


def one_line(text: str) -> str:
    """Text as one line: it cannot add a line of its own (a fake "Score: 100 / 100")."""
    return " ".join(text.split())


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in BACKTICK_RUN.findall(text)), default=0)


def code(text: str, *, cell: bool = False) -> str:
    """`text` as a code span it cannot close; `cell`: inside a GFM table cell."""
    return _span(" ".join(plain_text(text).splitlines()), cell)


def _span(text: str, cell: bool) -> str:
    """`code` on text that is plain and one line already."""
    fence = "`" * (_longest_backtick_run(text) + 1)
    # CommonMark strips one space from each end when both ends have one: a padded text keeps
    # its own, and a backtick at an end stays apart from the fence.
    if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text:
        text = f" {text} "
    if cell:
        text = text.replace("|", "\\|")  # GFM splits cells before it sees code spans
    return f"{fence}{text}{fence}"


def _escaped(text: str) -> str:
    return ACTIVE.sub(r"\\\g<0>", text)


def _word(word: str, cell: bool) -> str:
    core = word.lstrip(LEADING)
    lead = word[: len(word) - len(core)]
    trail = core[len(core.rstrip(TRAILING)) :]
    core = core[: len(core) - len(trail)]
    if LINKABLE.search(core):
        return _escaped(lead) + _span(core, cell) + _escaped(trail)
    return _escaped(word)  # the punctuation around a word is no part of a link: "www." alone links nowhere


def _joined(pieces: Iterable[str]) -> str:
    """Markdown pieces in a row, a space between two that would touch with backticks: a span's
    closing fence and the next one's opening would run together into one longer run, which
    closes neither span and leaves what follows live (a link after `` `a` `` `` `@` ``)."""
    out = ""
    for piece in pieces:
        if out.endswith("`") and piece.startswith("`"):
            out += " "
        out += piece
    return out


def _prose(text: str, cell: bool) -> str:
    """Prose between code spans: its spaces stay as they are."""
    return _joined(_word(word, cell) for word in re.split(r"(\s+)", text))


def _line(markdown: str) -> str:
    """A line that cannot start a block: a list item, a setext underline, a numbered item."""
    return BLOCK_START.sub(lambda m: m[1] + "\\" + m[2], markdown, count=1)


def inert(text: str, *, cell: bool = False) -> str:
    """`text` as prose that renders as its own characters, on one line."""
    return _line(_prose(one_line(plain_text(text)), cell))


def _spans(text: str) -> Iterator[tuple[bool, str]]:
    """`(is_code, piece)` in order: a code span runs from a backtick run to the next run of the
    same length (CommonMark); a run that no run closes is prose, as are backslashes."""
    runs = list(BACKTICK_RUN.finditer(text))
    by_width: defaultdict[int, list[int]] = defaultdict(list)  # run indices, in order
    for index, run in enumerate(runs):
        by_width[len(run.group())].append(index)
    position, index = 0, 0
    while index < len(runs):
        opening = runs[index]
        same = by_width[len(opening.group())]
        after = bisect.bisect_right(same, index)
        if after == len(same):
            index += 1
            continue
        closing = same[after]
        yield False, text[position : opening.start()]
        content = text[opening.end() : runs[closing].start()]
        if len(content) > 1 and content[0] == content[-1] == " " and content.strip(" "):
            content = content[1:-1]
        yield True, content
        position, index = runs[closing].end(), closing + 1
    yield False, text[position:]


def render(message: str, *, cell: bool = False) -> str:
    """A grader message as one line of Markdown: its code spans as code, the rest as prose."""
    text = one_line(plain_text(message))
    return _line(
        _joined(
            (_span(piece, cell) if is_code else _prose(piece, cell)) if piece.strip() else piece
            for is_code, piece in _spans(text)
        )
    )


def fenced(text: str, info: str = "text") -> str:
    """`text` in a fenced code block whose fence is longer than any backtick run in it."""
    text = plain_text(text).rstrip("\n")
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"
