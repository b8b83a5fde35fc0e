"""Sandbox backends behind one interface: `check()`, then `run(SandboxRequest) -> SandboxOutcome`."""

import contextlib
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
# namespaces. `none` is never chosen automatically: it does not isolate anything. Before them
# all comes `process` where it runs warm with cgroups of each run's own: then it has what Docker
# has (namespaces, no capabilities, a syscall filter, memory and CPU limits the kernel keeps) and
# forks every worker from one warm zygote, where a container imports torch for each submission.
# A user's warm runs without cgroups come after Docker: their memory limit is only polled.
AUTOMATIC = ("docker", "process", "user")


def open_sandbox(name: str) -> Sandbox:
    """A backend that can run here, or `SandboxUnavailable` saying how to get one."""
    if name == "auto":
        with contextlib.suppress(SandboxUnavailable):
            process = open_sandbox("process")
            if process.runs_like_docker():
                return process
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
