"""The kernel's high-water mark of a container's memory: the `docker` backend's recorded peak.

The container's memory cgroup charges every page its processes fault (memfds, tmpfs and shared
memory included) against `mem_limit`, but it goes with the container, and the engine's
statistics come once a second: a run that fills its memory and is killed between two of them
would be recorded below what it held. Where the engine runs on this machine with cgroup v1 and
the cgroupfs driver and the grader is root, each container gets a parent cgroup of its own
(`cgroup_parent`): the kernel charges the container's pages to it too and it outlives the
container, so its `memory.max_usage_in_bytes` is read once the run is over; then it is removed
from every hierarchy the engine made it in. Elsewhere the engine's statistics are all there is.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import docker
import psutil
from docker.errors import DockerException

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "lightning-grader-docker"
REMOVE_ROUNDS = 50


class ContainerCgroup:
    """A parent cgroup for one container, or nothing (`parent` None) where it cannot be read."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.name = f"{PREFIX}-{os.getpid()}-{time.monotonic_ns()}" if readable_here(client) else None

    @property
    def parent(self) -> str | None:
        """The engine's `cgroup_parent`: a path from the root of every hierarchy."""
        return f"/{self.name}" if self.name else None

    def peak_mb(self) -> float | None:
        if not self.name:
            return None
        try:
            peak = int((CGROUP_ROOT / "memory" / self.name / "memory.max_usage_in_bytes").read_text())
            return round(peak / 2**20, 1)
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        """Once the container is removed; the engine lets its own cgroup go asynchronously."""
        if self.name:
            _remove(self.name)


@functools.cache
def readable_here(client: docker.DockerClient) -> bool:
    """Whether the engine's cgroups are this machine's, cgroup v1 with the cgroupfs driver, and
    the grader may read and remove them (root). Removes what a killed grader left, once."""
    if os.geteuid() != 0 or not (CGROUP_ROOT / "memory" / "memory.max_usage_in_bytes").exists():
        return False
    if not client.api.base_url.startswith("http+docker://localhost"):  # the engine's own socket
        return False
    try:
        info = client.info()
    except DockerException:
        return False
    if info.get("CgroupDriver") != "cgroupfs" or str(info.get("CgroupVersion")) != "1":
        return False
    _remove_stale()
    return True


def _remove_stale() -> None:
    """The parents of graders that no longer run (each is named after its grader's pid)."""
    for folder in CGROUP_ROOT.glob(f"memory/{PREFIX}-*-*"):
        owner = folder.name.removeprefix(f"{PREFIX}-").split("-")[0]
        if owner.isdigit() and int(owner) != os.getpid() and not psutil.pid_exists(int(owner)):
            _remove(folder.name, rounds=1)  # one whose container still runs stays


def _remove(name: str, rounds: int = REMOVE_ROUNDS) -> None:
    for _ in range(rounds):
        left = []
        for folder in CGROUP_ROOT.glob(f"*/{name}"):
            try:
                folder.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                left.append(folder)  # the container's own cgroup is still inside
        if not left:
            return
        time.sleep(0.1)
