"""Student code written for a GPU, run on the CPU that grading has."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

MAX_LISTED = 5


class CpuOnly:
    """`.cuda()` and `.to("cuda")` in a student's code run on the CPU: grading has no GPU.

    Where the student's code asked for the GPU is recorded for the feedback.
    """

    def __init__(self, torch: Any, submission: Path) -> None:
        self.torch, self.submission = torch, str(submission)
        self.places: list[str] = []

    def install(self) -> None:
        torch = self.torch
        for owner in (torch.Tensor, torch.nn.Module):
            real_to = owner.to
            owner.cuda = self._cuda()
            owner.to = self._to(real_to)

    def _record(self, what: str) -> None:
        frame = sys._getframe(2)
        while frame and not frame.f_code.co_filename.startswith(self.submission):
            frame = frame.f_back
        if frame:
            relative = os.path.relpath(frame.f_code.co_filename, self.submission)
            place = f"`{what}` at {relative}:{frame.f_lineno}"
            if place not in self.places:
                self.places.append(place)

    def _cuda(self) -> Any:
        def cuda(module_or_tensor: Any, *args: Any, **kwargs: Any) -> Any:
            self._record(".cuda()")
            return module_or_tensor

        return cuda

    def _to(self, real_to: Any) -> Any:
        torch = self.torch

        def is_gpu(value: Any) -> bool:
            return (isinstance(value, str) and value.startswith("cuda")) or (
                isinstance(value, torch.device) and value.type == "cuda"
            )

        def to(module_or_tensor: Any, *args: Any, **kwargs: Any) -> Any:
            if any(map(is_gpu, args)) or is_gpu(kwargs.get("device")):
                self._record('.to("cuda")')
                args = tuple("cpu" if is_gpu(a) else a for a in args)
                kwargs = {k: ("cpu" if is_gpu(v) else v) for k, v in kwargs.items()}
            return real_to(module_or_tensor, *args, **kwargs)

        return to

    def note(self) -> list[str]:
        if not self.places:
            return []
        shown = ", ".join(self.places[:MAX_LISTED])
        return [f"GPU calls ran on the CPU, which grading uses: {shown}"]
