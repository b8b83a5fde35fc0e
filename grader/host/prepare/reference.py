"""The reference solution's accuracy under the rubric's budget, trained once and cached.

The cache key covers the rubric, the reference's files, the grader's version and the exact
digits (their source and the secret that perturbed the held-out ones), so a change to any
of them retrains it. A student's self-checks share the machine's secret, so on one machine
the reference trains once per rubric; a batch's own secret trains it once per batch.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

from grader.host.grading import GradingContext, Reference, grade
from grader.host.prepare.discovery import Submission
from grader.host.publish.common import grader_version
from grader.paths import cache_dir, shipped_dir, write_atomically
from grader.rubric.models import Rubric

# How long the m14 reference takes to train and grade on 2 cores in the process sandbox,
# measured here: the estimate shown before this machine has trained it once.
TYPICAL_TRAINING_SECONDS = 40


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
    digest.update(grader_version().encode())
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _cache_file(context: GradingContext) -> Path:
    key = cache_key(context, reference_folder(context))
    return cache_dir() / "reference" / f"{context.rubric.id}-{key}.json"


def cached_reference(context: GradingContext) -> Reference | None:
    """The reference as this machine measured it for these digits, or None: it must train."""
    try:
        known = json.loads(_cache_file(context).read_text())
        return Reference(float(known["accuracy"]), known.get("seconds"))
    except (OSError, ValueError, KeyError, TypeError):  # absent, or a damaged file: train again
        return None


def training_estimate(rubric: Rubric) -> float:
    """Seconds the reference is likely to take here: its last training on this machine for
    this rubric (with other digits), else the figure measured for the m14 reference."""
    timed = []
    for path in (cache_dir() / "reference").glob("*.json"):
        try:
            known = json.loads(path.read_text())
            if known.get("rubric") == rubric.id and known.get("wall_seconds"):
                timed.append((path.stat().st_mtime, float(known["wall_seconds"])))
        except (OSError, ValueError, TypeError):
            continue
    return max(timed)[1] if timed else TYPICAL_TRAINING_SECONDS


def measure_reference(context: GradingContext) -> Reference:
    """The reference's accuracy and run time on this machine, trained now or read from the cache."""
    if (known := cached_reference(context)) is not None:
        return known
    folder = reference_folder(context)
    started = time.perf_counter()
    result = grade(Submission("reference", folder), context)
    if result.accuracy is None:
        raise ReferenceUnavailable(
            f"the reference solution in {folder} did not produce predictions: "
            f"{result.status_reason or result.status}"
        )
    reference = Reference(result.accuracy, result.timings.sandbox_seconds)
    entry = {
        **asdict(reference),
        "rubric": context.rubric.id,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "source": context.splits.source,
    }
    write_atomically(_cache_file(context), json.dumps(entry))
    return reference
