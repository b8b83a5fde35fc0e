"""Rubric models (pydantic) and their YAML loading."""

from grader.rubric.loading import RubricError, load_rubric, rubric_schema
from grader.rubric.models import Criterion, Rubric

__all__ = ["Criterion", "Rubric", "RubricError", "load_rubric", "rubric_schema"]
