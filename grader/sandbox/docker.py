"""The `docker` backend: one fresh container per submission, from the grading image.

The container has no network, a read-only root file system, no capabilities, a non-root
user, and hard limits on memory (no extra swap), CPU, processes and file size. The
submission and inputs are mounted read-only; the output directory is the only writable
mount and the only thing that comes back. The nonce goes in on stdin, never in a file or
an environment variable. The image is built by `.ci/docker-setup.sh` (see `Dockerfile`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import threading
import time
import uuid
from pathlib import Path

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Mount, Ulimit
from docker.utils.socket import frames_iter

import grader
from grader.runner import syscall_filter
from grader.sandbox import disk
from grader.sandbox.base import (
    ALLOWED_ENV,
    SANDBOX_ENV,
    CappedText,
    RunWatch,
    SandboxOutcome,
    SandboxRequest,
    SandboxUnavailable,
    runner_command,
    thread_env,
)
from grader.sandbox.container_cgroup import ContainerCgroup

DEFAULT_IMAGE = "lightning-grader:latest"
IMAGE_PYTHON = "/opt/venv/bin/python"
IMAGE_UID = 10001  # the image's own non-root user (Dockerfile)
SCRATCH = "/tmp"
SCRATCH_MB = 256
LABEL = "lightning-grader.run"
# Stacked on Docker's own seccomp profile, which lets ptrace and io_uring through.
SYSCALL_FILTER = ("--syscall-filter",) if syscall_filter.supported() else ()
RUNNER_LABEL = "lightning-grader.runner"
SUBMISSION, INPUTS, OUTPUT = "/submission", "/input", "/output"
STDOUT, STDERR = 1, 2


def _how_to_fix(image: str) -> str:
    return (
        "run .ci/docker-setup.sh (installs and starts the engine, builds the image), "
        f"or build it with `docker build -t {image} .` in the repository"
    )


def runner_fingerprint() -> str:
    """The sources the runner runs (contract, syntax helpers, runner), hashed as
    .ci/docker-setup.sh labels the image."""
    root = Path(grader.__file__).resolve().parent.parent
    shared = [root / "grader" / name for name in ("contract.py", "syntax.py", "tree.py")]
    files = [*shared, *(root / "grader" / "runner").rglob("*.py")]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix().encode()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def container_env(request: SandboxRequest) -> dict[str, str]:
    # The image sets PATH; the host's would be meaningless inside.
    env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
    env.update(SANDBOX_ENV)
    env.update(thread_env(request.limits.threads))
    env.update(HOME=SCRATCH, TMPDIR=SCRATCH, MPLCONFIGDIR=SCRATCH)
    return env


def container_user(request: SandboxRequest) -> str:
    """The host's own uid, so outputs come back owned by it; as root, the image's user."""
    if os.geteuid() != 0:
        return f"{os.geteuid()}:{os.getegid()}"
    for folder in (request.submission, request.inputs):
        let_others_read(folder)
    os.chown(request.output, IMAGE_UID, IMAGE_UID)
    return f"{IMAGE_UID}:{IMAGE_UID}"


def let_others_read(root: Path) -> None:
    """Adds the read bits the image's user needs (staging folders are often 0700).

    The mounts are read-only, so this gives no write access. Symbolic links are left alone:
    chmod would follow them out of the folder.
    """
    for folder, folders, files in os.walk(root):
        for path in [folder, *(os.path.join(folder, name) for name in folders + files)]:
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                continue
            wanted = mode | stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
            if wanted != mode:
                os.chmod(path, stat.S_IMODE(wanted))


class DockerSandbox:
    name = "docker"

    def __init__(self, image: str | None = None) -> None:
        self.image = image or os.environ.get("GRADER_IMAGE") or DEFAULT_IMAGE
        self._client: docker.DockerClient | None = None

    def check(self) -> None:
        """Raise `SandboxUnavailable`, saying how to fix it, unless engine and image are there."""
        self.client()

    def caveat(self) -> None:
        """Nothing: a container isolates all the threat model lists."""

    def client(self) -> docker.DockerClient:
        """A client of an engine that answers and has the image; else `SandboxUnavailable`."""
        if self._client is not None:
            return self._client
        try:
            client = docker.from_env()
            client.ping()
        except DockerException as error:
            raise SandboxUnavailable(
                f"the docker engine does not answer ({error}); {_how_to_fix(self.image)}"
            ) from error
        try:
            image = client.images.get(self.image)
        except ImageNotFound as error:
            raise SandboxUnavailable(
                f"the grading image {self.image} is missing; {_how_to_fix(self.image)}"
            ) from error
        built_from = (image.labels or {}).get(RUNNER_LABEL)
        if built_from and built_from != runner_fingerprint():
            # Its reports would follow another contract, or another runner's rules.
            raise SandboxUnavailable(
                f"the grading image {self.image} holds another version of the runner than "
                f"this checkout; {_how_to_fix(self.image)}"
            )
        self._client = client
        return client

    def run(self, request: SandboxRequest) -> SandboxOutcome:
        client = self.client()
        name = f"grader-{uuid.uuid4().hex[:16]}"
        cgroup = ContainerCgroup(client)
        # What the run writes into its output counts toward the container's memory limit too.
        with disk.bounded(request.output, request.limits.disk_mb):
            try:
                config = self.container_config(request, cgroup_parent=cgroup.parent)
                container = client.containers.create(name=name, **config)
                outcome = self._supervise(container, request)
                outcome.peak_memory_mb = cgroup.peak_mb() or outcome.peak_memory_mb
                return outcome
            finally:
                # By name: it also catches a container whose create() was interrupted.
                with contextlib.suppress(NotFound):
                    client.api.remove_container(name, force=True)
                cgroup.remove()

    def container_config(self, request: SandboxRequest, cgroup_parent: str | None = None) -> dict:
        limits = request.limits
        file_bytes = limits.max_file_mb * 2**20
        mounts = [
            Mount(SUBMISSION, str(request.submission.resolve()), type="bind", read_only=True),
            Mount(INPUTS, str(request.inputs.resolve()), type="bind", read_only=True),
            Mount(OUTPUT, str(request.output.resolve()), type="bind"),
        ]
        return {
            "image": self.image,
            "command": runner_command(SUBMISSION, INPUTS, OUTPUT, IMAGE_PYTHON, *SYSCALL_FILTER),
            "labels": {LABEL: "1"},
            "hostname": "sandbox",
            "environment": container_env(request),
            "user": container_user(request),
            "working_dir": OUTPUT,
            "stdin_open": True,  # with attach: closed once the host half-closes it
            "mounts": mounts,
            "network_mode": "none",
            "mem_limit": f"{limits.memory_mb}m",
            "memswap_limit": f"{limits.memory_mb}m",
            "nano_cpus": int(limits.threads * 1e9),
            "pids_limit": limits.max_processes,
            "read_only": True,
            "tmpfs": {SCRATCH: f"rw,nosuid,nodev,noexec,size={SCRATCH_MB}m,mode=1777"},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "ulimits": [
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="fsize", soft=file_bytes, hard=file_bytes),
            ],
            # Output comes through the capped attach stream; no log file grows on the host.
            "log_config": LogConfig(type=LogConfig.types.NONE),
            **({"cgroup_parent": cgroup_parent} if cgroup_parent else {}),
        }

    def _supervise(self, container: Container, request: SandboxRequest) -> SandboxOutcome:
        limits = request.limits
        stdout, stderr = CappedText(limits.output_bytes), CappedText(limits.output_bytes)
        stream = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        reader = threading.Thread(target=_drain, args=(stream, stdout, stderr), daemon=True)
        reader.start()
        memory = PeakMemory(container)
        container.start()
        started = time.monotonic()
        memory.start()
        # A thread: a runner that reads less than it is sent must not stall the clock.
        threading.Thread(target=_send_stdin, args=(stream, request.stdin), daemon=True).start()
        outcome = SandboxOutcome(backend=self.name, exit_code=None, wall_seconds=0.0)
        watch = RunWatch(request, lambda: _kill(container))
        watch.start()
        try:
            container.wait(timeout=limits.wall_seconds)
        except requests.exceptions.RequestException:
            if time.monotonic() - started < limits.wall_seconds:
                raise  # the engine failed, not the clock
            outcome.timed_out = True
            _kill(container)
            container.wait(timeout=60)
        outcome.wall_seconds = time.monotonic() - started
        watch.finish(outcome)
        container.reload()
        state = container.attrs["State"]
        outcome.exit_code = state.get("ExitCode")
        outcome.out_of_memory = bool(state.get("OOMKilled"))
        reader.join(timeout=5)
        _raw_socket(stream).close()
        outcome.peak_memory_mb = memory.peak_mb()
        outcome.stdout, outcome.stderr = stdout.text(), stderr.text()
        return outcome


def _kill(container: Container) -> None:
    with contextlib.suppress(APIError):  # it may have just ended by itself
        container.kill()


def _raw_socket(stream) -> socket.socket:
    return getattr(stream, "_sock", stream)


def _send_stdin(stream, data: bytes) -> None:
    raw = _raw_socket(stream)
    try:
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)  # end of stdin: the engine closes the container's
    except OSError:
        pass  # the runner is already gone; its exit code tells


def _drain(stream, stdout: CappedText, stderr: CappedText) -> None:
    sinks = {STDOUT: stdout, STDERR: stderr}
    try:
        for kind, chunk in frames_iter(stream, tty=False):
            if kind in sinks:
                sinks[kind].feed(chunk)
    except (OSError, ValueError):
        pass  # the stream was closed under us


class PeakMemory(threading.Thread):
    """Follows the engine's memory statistics while the container runs: the peak where the
    container's parent cgroup cannot be read (`ContainerCgroup`)."""

    def __init__(self, container: Container) -> None:
        super().__init__(daemon=True)
        self.container = container
        self.peak = 0

    def run(self) -> None:
        try:
            for sample in self.container.stats(stream=True, decode=True):
                memory = sample.get("memory_stats")
                if not memory:
                    break  # no longer running; the engine's stream would go on empty
                # cgroup v1 reports its own peak; v2 only the current usage.
                self.peak = max(self.peak, memory.get("max_usage", 0), memory.get("usage", 0))
        except (DockerException, requests.exceptions.RequestException, ValueError):
            pass

    def peak_mb(self) -> float | None:
        return round(self.peak / 2**20, 1) if self.peak else None
