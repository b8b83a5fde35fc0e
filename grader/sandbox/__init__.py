"""Sandbox backends behind one interface (`Sandbox.run(SandboxRequest) -> SandboxOutcome`)."""

from grader.sandbox.base import Sandbox, SandboxLimits, SandboxOutcome, SandboxRequest
from grader.sandbox.local import LocalSandbox

BACKENDS = {"none": LocalSandbox}


def open_sandbox(name: str) -> Sandbox:
    return BACKENDS[name]()


__all__ = [
    "BACKENDS",
    "Sandbox",
    "SandboxLimits",
    "SandboxOutcome",
    "SandboxRequest",
    "open_sandbox",
]
