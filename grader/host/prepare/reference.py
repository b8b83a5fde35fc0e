"""The reference solution's accuracy under the rubric's budget, trained once and cached.

The cache key covers the rubric, the reference's files and the exact digits, so a change
to any of them retrains it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from grader.host.grading import GradingContext, Reference, grade
from grader.host.prepare.discovery import Submission
from grader.paths import cache_dir, shipped_dir


class ReferenceUnavailable(Exception):
    """The reference solution is missing or did not train."""


def reference_folder(context: GradingContext) -> Path:
    folder = shipped_dir("reference") / (context.rubric.reference or context.rubric.id)
    if not folder.is_dir():
        raise ReferenceUnavailable(f"no reference solution at {folder}")
    return folder


def cache_key(context: GradingContext, folder: Path) -> str:
    digest = hashlib.sha256(context.rubric.model_dump_json().encode())
    digest.update(context.splits.fingerprint.encode())
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def measure_reference(context: GradingContext) -> Reference:
    """The reference's accuracy and run time on this machine, trained now or read from the cache."""
    folder = reference_folder(context)
    cached = cache_dir() / "reference" / f"{context.rubric.id}-{cache_key(context, folder)}.json"
    if cached.is_file():
        known = json.loads(cached.read_text())
        return Reference(float(known["accuracy"]), known.get("seconds"))
    result = grade(Submission("reference", folder), context)
    if result.accuracy is None:
        raise ReferenceUnavailable(
            f"the reference solution in {folder} did not produce predictions: "
            f"{result.status_reason or result.status}"
        )
    reference = Reference(result.accuracy, result.timings.sandbox_seconds)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps({**asdict(reference), "source": context.splits.source}))
    return reference
