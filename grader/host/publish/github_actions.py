"""Talking to a GitHub Actions runner without letting student text speak for us.

The runner treats a log line as a workflow command when it starts with `::` after leading
whitespace (`::add-mask::`, `::stop-commands::`, ...) or contains `##[` anywhere (the old
syntax). Anything printed that came from a student (their output, or grader messages that
quote it) goes through `neutralise` first; outputs go through the `$GITHUB_OUTPUT` file.
"""

from __future__ import annotations

import os
import uuid

from grader.host.publish.common import plain_text


def neutralise(text: str) -> str:
    """`text` with no line that the runner would read as a workflow command.

    Control and format characters go first (`plain_text`): they could hide a `::` from us.
    """
    text = plain_text(text)
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.lstrip()
        if body.startswith("::"):
            line = line[: len(line) - len(body)] + ": :" + body[2:]
        lines.append(line)
    return "".join(lines).replace("##[", "# #[")


def set_output(name: str, value: str) -> None:
    """Append a step output to `$GITHUB_OUTPUT` (if set), between fresh random delimiters."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
    if delimiter in value:
        raise ValueError("output value contains its delimiter")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(markdown: str) -> None:
    """Add Markdown to the job summary page when `$GITHUB_STEP_SUMMARY` is set."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown)
