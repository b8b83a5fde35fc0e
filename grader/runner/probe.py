"""The probing worker: `python -m grader.runner.probe`, the first of the supervisor's workers.

A fresh process that imports the submission, finds and builds the graded class and calls its
hooks once, then ends: the training worker without its fit (`train.main(fit=False)`). The
training worker after it does all of that again before fitting, and the supervisor holds the
two reports against each other. What a report says of the class and its hooks is written in a
process that runs student code, so it counts only as what two fresh processes both found:
code that writes one worker's messages itself, or stalls that worker once they are written,
shows as a disagreement or as a report that never got confirmed.
"""

from __future__ import annotations

import sys

from grader.runner import train


def main(argv: list[str] | None = None) -> int:
    return train.main(argv, fit=False)


if __name__ == "__main__":
    sys.exit(main())
