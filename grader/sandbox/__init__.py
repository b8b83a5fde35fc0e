"""Sandbox backends behind one interface: `check()`, then `run(SandboxRequest) -> SandboxOutcome`."""

from collections.abc import Callable

from grader.sandbox.base import Sandbox, SandboxLimits, SandboxOutcome, SandboxRequest, SandboxUnavailable
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.local import LocalSandbox
from grader.sandbox.process import ProcessSandbox
from grader.sandbox.user import UserSandbox

BACKENDS: dict[str, Callable[[], Sandbox]] = {
    "docker": DockerSandbox,
    "process": ProcessSandbox,
    "user": UserSandbox,
    "none": LocalSandbox,
}
# Strongest first: `user` contains a run by permissions alone, for where the kernel refuses
# namespaces. `none` is never chosen automatically: it does not isolate anything.
AUTOMATIC = ("docker", "process", "user")


def open_sandbox(name: str) -> Sandbox:
    """A backend that can run here, or `SandboxUnavailable` saying how to get one."""
    if name == "auto":
        reasons = []
        for candidate in AUTOMATIC:
            try:
                return open_sandbox(candidate)
            except SandboxUnavailable as error:
                reasons.append(f"{candidate}: {error}")
        raise SandboxUnavailable(
            "no isolating sandbox works here (" + "; ".join(reasons) + "); fix one of them, "
            "or pass --sandbox none to run code you trust without isolation"
        )
    if name not in BACKENDS:
        raise SandboxUnavailable(f"unknown sandbox {name!r}; choose auto, {', '.join(BACKENDS)}")
    sandbox = BACKENDS[name]()
    sandbox.check()
    return sandbox


__all__ = [
    "BACKENDS",
    "Sandbox",
    "SandboxLimits",
    "SandboxOutcome",
    "SandboxRequest",
    "SandboxUnavailable",
    "open_sandbox",
]
