"""Where the project's shipped folders and the user's caches live."""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The checkout (or installed tree) holding `rubrics/` and `reference/`."""
    return Path(os.environ.get("GRADER_PROJECT_DIR", Path(__file__).resolve().parent.parent))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("GRADER_CACHE_DIR", Path(base) / "lightning-grader"))
