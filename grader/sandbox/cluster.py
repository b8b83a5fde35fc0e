"""The `--cluster` backend: each run goes to a worker of a Dask distributed cluster, which runs it
in a sandbox backend of its own (`process` or `docker`).

The host keeps everything else: discovery, staging, the held-out labels and the scoring. A
worker receives what a local sandbox would (the staged submission, the spec, and on stdin the
nonce and the digits without test labels) and sends back the run's outcome and its output
folder, which the host then reads as it reads a local run's: size-capped, validated, signed.

Dask re-runs the task of a worker that is lost, on another worker; each run is one task and
its result is taken once, so a submission is never lost nor graded twice.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from pydantic import BaseModel

from grader import tree
from grader.sandbox.base import (
    SandboxLimits,
    SandboxOutcome,
    SandboxRequest,
    SandboxUnavailable,
    available_cores,
)
from grader.sandbox.local import UNISOLATED

LOCAL = "local"
CONNECT_SECONDS = 30
POLL_SECONDS = 0.5
# The output may hold up to `disk_mb`; the archive's own headers come on top.
ARCHIVE_SLACK_BYTES = 2**20


class ShippedRun(BaseModel):
    """A `SandboxRequest`, as it travels to a worker."""

    submission: bytes  # tar archives
    inputs: bytes
    stdin: bytes
    limits: SandboxLimits


class ShippedOutcome(BaseModel):
    """What comes back from the worker: the outcome, and the output folder as a tar archive."""

    outcome: SandboxOutcome
    output: bytes


def pack(folder: Path, limit_bytes: int | None = None) -> bytes:
    """Files, folders and symlinks below `folder`, never followed, as a tar archive; files that
    would take it past `limit_bytes` are left out (the run was stopped for them already)."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for entry in tree.entries(folder, too_deep="skip"):
            info = tarfile.TarInfo("/".join(entry.parts))
            info.mode = stat.S_IMODE(entry.info.st_mode)
            info.mtime = int(entry.info.st_mtime)
            if stat.S_ISDIR(entry.info.st_mode):
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif stat.S_ISLNK(entry.info.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(entry.name, dir_fd=entry.dir_fd)
                archive.addfile(info)
            elif stat.S_ISREG(entry.info.st_mode):
                if limit_bytes is not None and total + entry.size > limit_bytes:
                    continue
                total += entry.size
                with contextlib.suppress(OSError):
                    data = entry.read_bytes()
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _safe_member(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """The `data` filter, skipping what it refuses instead of failing the whole run for it."""
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None


def unpack(archive: bytes, folder: Path) -> None:
    """Extract what stays inside `folder`: no links out of it, no devices, no set-uid bits."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as opened:
        opened.extractall(folder, filter=_safe_member)


def run_on_worker(backend: str, shipped: ShippedRun) -> ShippedOutcome:
    """On a worker: the run in its own sandbox, in a scratch folder removed afterwards."""
    from grader.sandbox import open_sandbox  # the worker's own backends, opened where they run

    limits = shipped.limits
    with tempfile.TemporaryDirectory(prefix="grader-cluster-") as scratch:
        root = Path(scratch)
        unpack(shipped.submission, root / "submission")
        unpack(shipped.inputs, root / "input")
        output = root / "output"
        output.mkdir()
        request = SandboxRequest(root / "submission", root / "input", output, shipped.stdin, limits)
        outcome = open_sandbox(backend).run(request)
        archive = pack(output, limits.disk_mb * 2**20)
        tree.remove(output)  # as the runner's uid it may hold what TemporaryDirectory cannot remove
    return ShippedOutcome(outcome=outcome, output=archive)


def check_worker(backend: str) -> str | None:
    """On a worker: why the backend cannot run there, or None."""
    from grader.sandbox import open_sandbox

    try:
        open_sandbox(backend)
    except SandboxUnavailable as error:
        return str(error)
    return None


class ClusterSandbox:
    """Runs each request on a Dask cluster's worker, in that worker's `backend`."""

    def __init__(self, address: str, backend: str) -> None:
        self.address, self.backend = address, backend
        self.name = f"{backend} on the Dask cluster {address}"
        self._client = None
        self._cluster = None

    def client(self):
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError as error:
                raise SandboxUnavailable(
                    "--cluster needs Dask's distributed: pip install 'lightning-grader[cluster]'"
                ) from error
            try:
                if self.address == LOCAL:
                    self._cluster = LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None)
                    self._client = Client(self._cluster)
                else:
                    self._client = Client(self.address, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as error:
                raise SandboxUnavailable(
                    f"cannot reach the Dask scheduler at {self.address}: {error}"
                ) from error
        return self._client

    def check(self) -> None:
        client = self.client()
        problems = {
            worker: problem for worker, problem in client.run(check_worker, self.backend).items() if problem
        }
        if not client.scheduler_info()["workers"]:
            raise SandboxUnavailable(f"the Dask cluster at {self.address} has no workers")
        if problems:
            listed = "; ".join(f"{worker}: {problem}" for worker, problem in sorted(problems.items()))
            raise SandboxUnavailable(f"the {self.backend} sandbox does not run on every worker ({listed})")

    def caveat(self) -> str | None:
        """As far as the host can tell from here: `none` on the workers isolates nothing."""
        return UNISOLATED if self.backend == "none" else None

    def slots(self, threads_per_run: int) -> tuple[int, int]:
        """How many runs the cluster takes at once (its workers' threads), and the threads each
        run gets: never more than its machine's cores shared among all the runs it holds, as
        OpenMP's spinning threads make oversubscribed fits many times slower."""
        client = self.client()
        workers = client.scheduler_info()["workers"]
        cores = client.run(available_cores)
        runs_on: dict[str, int] = {}
        for info in workers.values():
            runs_on[info["host"]] = runs_on.get(info["host"], 0) + info["nthreads"]
        share = min(max(1, cores[address] // runs_on[info["host"]]) for address, info in workers.items())
        return sum(runs_on.values()), max(1, min(threads_per_run, share))

    def run(self, request: SandboxRequest) -> SandboxOutcome:
        client = self.client()
        shipped = ShippedRun(
            submission=pack(request.submission),
            inputs=pack(request.inputs),
            stdin=request.stdin,
            limits=request.limits,
        )
        key = f"grade-{uuid.uuid4().hex}"  # one task per run: taken once, whatever Dask retries
        future = client.submit(run_on_worker, self.backend, shipped, key=key, pure=False)
        started = time.monotonic()
        while True:
            if request.stop.is_set():
                future.cancel()
                return SandboxOutcome(
                    backend=self.name,
                    exit_code=None,
                    wall_seconds=time.monotonic() - started,
                    interrupted=True,
                )
            with contextlib.suppress(TimeoutError):
                returned = future.result(timeout=POLL_SECONDS)
                break
        came_back = ShippedOutcome.model_validate(returned)
        outcome = came_back.outcome
        if len(came_back.output) > request.limits.disk_mb * 2**20 + ARCHIVE_SLACK_BYTES:
            outcome.output_exceeded = True
        else:
            unpack(came_back.output, request.output)
        outcome.backend = self.name
        return outcome

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
