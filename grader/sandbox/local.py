"""The `none` backend: a plain child process. For trusted local use only.

It still enforces the wall clock and a memory budget (the process tree's memory and the
shared memory it makes: `grader.sandbox.memory`), cuts output, and hides the grader's
environment; it does not isolate the file system or the network.
"""

from __future__ import annotations

import os
import resource
import subprocess

from grader.sandbox.base import SandboxOutcome, SandboxRequest, process_env, runner_command
from grader.sandbox.supervise import supervise


def _limit_resources(max_file_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    size = max_file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


UNISOLATED = (
    "--sandbox none runs student code as you, with your files, environment and network. "
    "Use it only for code you trust."
)


class LocalSandbox:
    name = "none"

    def __init__(self, caveat: str = UNISOLATED) -> None:
        self._caveat = caveat

    def check(self) -> None:
        """A plain child process runs everywhere."""

    def caveat(self) -> str:
        return self._caveat

    def run(self, request: SandboxRequest) -> SandboxOutcome:
        command = runner_command(str(request.submission), str(request.inputs), str(request.output))
        max_file_mb = request.limits.max_file_mb
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=request.output,
            env=process_env(request),
            start_new_session=True,
            preexec_fn=lambda: _limit_resources(max_file_mb),
        )
        # The run is the user's: its shared memory is what the user's uid made while it lasts.
        return supervise(process, request, self.name, memory_owner=os.getuid())
