"""Talking to a GitHub Actions runner without letting student text speak for us.

The runner treats a log line as a workflow command when it starts with `::` after leading
whitespace (`::add-mask::`, `::stop-commands::`, ...) or contains `##[` anywhere (the old
syntax). Anything printed that came from a student (their output, or grader messages that
quote it) goes through `neutralise` first; outputs go through the `$GITHUB_OUTPUT` file; the
grader's own commands (annotations) are built by `workflow_command`, which escapes what they carry.
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


def escape_data(text: str) -> str:
    """A workflow command's message as GitHub's toolkit escapes it: the runner decodes these back."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also no `:` or `,`, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, properties: dict[str, str], message: str) -> str:
    """`::command key=value,...::message`, one line whatever the texts hold.

    The texts lose their control characters and escape sequences first (`plain_text`), and the
    old syntax's `##[` as `neutralise` drops it; the escaping then keeps a newline, `:` or `,`
    in them from ending the command or starting another."""

    def text(value: str) -> str:
        return plain_text(value).replace("##[", "# #[")

    given = ",".join(f"{key}={escape_property(text(value))}" for key, value in properties.items())
    return f"::{command}{' ' + given if given else ''}::{escape_data(text(message))}"


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
