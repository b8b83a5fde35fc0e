"""Sandbox backends behind one interface (`Sandbox.run(SandboxRequest) -> SandboxOutcome`)."""

from grader.sandbox.base import Sandbox, SandboxLimits, SandboxOutcome, SandboxRequest, SandboxUnavailable
from grader.sandbox.local import LocalSandbox

BACKENDS = {"none": LocalSandbox}


def open_sandbox(name: str) -> Sandbox:
    if name not in BACKENDS:
        raise SandboxUnavailable(f"unknown sandbox {name!r}; choose from {', '.join(BACKENDS)}")
    return BACKENDS[name]()


__all__ = [
    "BACKENDS",
    "Sandbox",
    "SandboxLimits",
    "SandboxOutcome",
    "SandboxRequest",
    "open_sandbox",
]
