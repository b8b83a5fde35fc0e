"""GitHub annotations for the action: one per criterion below full points, at the student's code.

`::error` for a criterion with no points, `::warning` for partial points, titled
`<criterion> (<points>/<max>)`, at the criterion's `file` and `line` (relative to the
submission) joined to where the submission sits in the repository (the action's `path`
input), since GitHub places annotations by paths from the repository root. A criterion
without a location, or a hidden one, is annotated without a file. Every text goes through
`workflow_command`, so nothing the student wrote can end the command or start another.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from grader.host.publish.common import number
from grader.host.publish.feedback import HIDDEN_MESSAGE
from grader.host.publish.github_actions import workflow_command
from grader.host.results import CriterionResult, GradeResult


def submission_root(workspace: Path, path: str) -> str:
    """Where the submission's own paths start, relative to the repository root: `path` itself
    for a folder, the folder holding it for a single file or notebook."""
    relative = posixpath.normpath(path.replace("\\", "/") or ".")
    if (workspace / relative).is_file():
        relative = posixpath.dirname(relative) or "."
    return relative


def repository_path(root: str, file: str) -> str | None:
    """`file` of the submission as a path from the repository root; None when it would leave the
    repository (an absolute path or `..`: not a place GitHub could show)."""
    joined = posixpath.normpath(posixpath.join(root, file.replace("\\", "/")))
    if posixpath.isabs(file) or joined == ".." or joined.startswith("../") or posixpath.isabs(joined):
        return None
    return joined


def _message(criterion: CriterionResult) -> str:
    if criterion.hidden:
        return HIDDEN_MESSAGE
    return f"{criterion.message}\nFix: {criterion.hint}" if criterion.hint else criterion.message


def annotation(criterion: CriterionResult, root: str) -> str:
    properties = {}
    if criterion.file and not criterion.hidden:
        where = repository_path(root, criterion.file)
        if where:
            properties["file"] = where
            if criterion.line and criterion.line > 0:
                properties["line"] = str(criterion.line)
    properties["title"] = f"{criterion.id} ({number(criterion.points)}/{number(criterion.max_points)})"
    level = "warning" if criterion.points > 0 else "error"
    return workflow_command(level, properties, _message(criterion))


def annotations(result: GradeResult, root: str) -> list[str]:
    return [annotation(c, root) for c in result.criteria if not c.passed]
