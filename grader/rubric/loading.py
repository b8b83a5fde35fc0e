"""Find a rubric by id or path and refuse a broken one with file, field and reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from grader.paths import shipped_dir
from grader.rubric.models import Rubric


class RubricError(Exception):
    """A rubric that cannot be used; the message names the file, field and reason."""


def rubric_dirs() -> list[Path]:
    extra = os.environ.get("GRADER_RUBRICS_DIR")
    return [Path(extra)] if extra else [shipped_dir("rubrics")]


def resolve_rubric(id_or_path: str) -> Path:
    candidate = Path(id_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise RubricError(f"rubric file not found: {candidate}")
        return candidate
    for folder in rubric_dirs():
        for suffix in (".yaml", ".yml"):
            path = folder / f"{id_or_path}{suffix}"
            if path.is_file():
                return path
    known = sorted(p.stem for d in rubric_dirs() if d.is_dir() for p in d.glob("*.y*ml"))
    raise RubricError(f"unknown rubric {id_or_path!r}; known: {', '.join(known) or 'none'}")


def load_rubric(id_or_path: str) -> Rubric:
    path = resolve_rubric(id_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RubricError(f"{path}: not valid YAML: {error}") from None
    try:
        return Rubric.model_validate(raw)
    except ValidationError as error:
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise RubricError(f"{path}: {reasons}") from None


def rubric_schema() -> str:
    return json.dumps(Rubric.model_json_schema(), indent=2)
