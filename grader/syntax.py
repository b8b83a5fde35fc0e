"""Reading Python source as syntax trees, for both sides: nothing here imports or runs it."""

from __future__ import annotations

import ast


def called_name(call: ast.Call) -> str | None:
    """`f` of `f(...)` and of `a.b.f(...)`; None for anything else called."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None
