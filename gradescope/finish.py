"""Hand Gradescope a valid results.json, whatever happened to the grader.

Standard library only: it must work even when the grader's own installation is broken.

    python3 finish.py --status N --log grade.log GRADER_RESULTS.json /autograder/results/results.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

MAX_BYTES = 2_000_000
FAILED = (
    "The autograder could not grade this submission{why}. This is not a score for your work: "
    "your instructor can see what happened and will regrade it."
)


def valid(results: object) -> bool:
    """The shape Gradescope requires of the fields the grader writes."""
    if not isinstance(results, dict) or not _number(results.get("score")):
        return False
    tests = results.get("tests", [])
    return isinstance(tests, list) and all(
        isinstance(test, dict)
        and _number(test.get("score", 0))
        and _number(test.get("max_score", 0))
        and isinstance(test.get("name", ""), str)
        for test in tests
    )


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def reason(status: int, log: Path) -> str:
    """The grader's own one-line error, if it printed one."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    if errors:
        return f" ({errors[-1][:300]})"
    return f" (the grader stopped with exit status {status})" if status else ""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--status", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("graded", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    results = None
    try:
        if args.graded.stat().st_size <= MAX_BYTES:
            results = json.loads(args.graded.read_text())
    except (OSError, ValueError):
        results = None
    if not valid(results):
        results = {"score": 0, "output": FAILED.format(why=reason(args.status, args.log)), "tests": []}
    args.target.write_text(json.dumps(results, indent=2))
    print(f"results.json: score {results['score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
