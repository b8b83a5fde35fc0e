"""The `process` backend's warm zygote: torch and Lightning imported once per grading process.

Where runs are warm (`ProcessSandbox.runs_warm`: as root with run cgroups, or as a user whose
zygote can join a run's user namespaces), the backend starts one
`python -m grader.runner.zygote --serve` for all the runs of a batch. Each run's supervisor
gets a socket to it (passed into bubblewrap), and every worker is forked from it into that
run's sandbox (see `grader.runner.zygote` and `entering`), so no submission pays the 5 s of
imports. It runs with the sandbox's environment, never the host's, and holds nothing of any
submission. Elsewhere, or when it cannot start, each supervisor starts a zygote of its own
inside its sandbox instead.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import socket
import subprocess
import threading

from grader.runner.launch import MAX_MESSAGE_BYTES, WorkerEvent, start_zygote
from grader.sandbox.base import SANDBOX_ENV, SANDBOX_PATH, thread_env

READY_SECONDS = 120


class WarmZygote:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._host: socket.socket | None = None
        self._failed = False

    def connect(self) -> socket.socket | None:
        """A new run's end of a control socket, to pass into its sandbox; None without a zygote."""
        with self._lock:
            if not self._running():
                return None
            run_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            # Each request then carries its sender's pid and ids, checked by the kernel: the
            # zygote joins that process's sandbox, never one a request names.
            zygote_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            try:
                socket.send_fds(self._host, [b"run"], [zygote_end.fileno()])
            except OSError:
                run_end.close()
                self._failed = True
                return None
            finally:
                zygote_end.close()
            return run_end

    def start_soon(self) -> None:
        """Start it in the background, so that its imports overlap the host's own start."""
        if self._process is None and not self._failed:
            threading.Thread(target=self._start_locked, daemon=True).start()

    def _start_locked(self) -> None:
        with self._lock:
            self._running()

    def _running(self) -> bool:
        if self._failed:
            return False
        if self._process is not None and self._process.poll() is None:
            return True
        host, self._process = start_zygote(
            "serve",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": SANDBOX_PATH, **SANDBOX_ENV, **thread_env(1)},
            cwd="/",
        )
        host.settimeout(READY_SECONDS)
        try:
            ready = WorkerEvent.model_validate_json(host.recv(MAX_MESSAGE_BYTES)).ready
        except (OSError, ValueError):
            ready = False
        host.settimeout(None)
        if not ready:
            self._failed = True
            host.close()
            self.stop()
            return False
        self._host = host
        return True

    def stop(self) -> None:
        if self._host is not None:
            self._host.close()
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()


@functools.cache
def warm_zygote() -> WarmZygote:
    """One per grading process: its memory is the same for every run."""
    zygote = WarmZygote()
    atexit.register(zygote.stop)
    return zygote
