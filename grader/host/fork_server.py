"""The host's fork server: a clean interpreter that imports the readers once and forks one
child per reading (`python -m grader.host.fork_server FD`, started by `grader.host.budget` with
the host's `sys.path`).

It has no threads, holds nothing of any submission and never runs student code: it reads
student-controlled files with the grader's own code, in children it forks. Its only channel is
the socket `FD`, which only the host holds the other end of: each request on it is one byte
with the socket of a new reading attached. The child forked for that reading says its pid on
that socket, takes the request (a function of the grader and its arguments, pickled by the
host), sets its CPU limit, answers, and exits. The server ends when the host closes its end.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import socket
import struct
import sys

# What the readings import, so that no child imports it again (torch takes about 3 s).
PRELOADED = (
    "grader.host.judge.static_checks",
    "grader.host.execute.checkpoint",
    "grader.host.prepare.notebooks",
    "nbformat",
    "nbconvert",
    "torch",
)
HEADER = struct.Struct("!Q")  # the length of every message after the pid
PID = struct.Struct("!i")


def send_message(channel: socket.socket, payload: bytes) -> None:
    channel.sendall(HEADER.pack(len(payload)) + payload)


def receive_exactly(channel: socket.socket, size: int) -> bytes:
    """`size` bytes, or fewer when the other end closed first."""
    chunks, left = [], size
    while left:
        chunk = channel.recv(min(left, 2**20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_message(channel: socket.socket, max_bytes: int) -> bytes | None:
    """One message, or None when the other end closed first; `ValueError` past `max_bytes`."""
    header = receive_exactly(channel, HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    if size > max_bytes:
        raise ValueError(f"a message of {size} bytes, more than {max_bytes}")
    payload = receive_exactly(channel, size)
    return payload if len(payload) == size else None


def _reading(channel: socket.socket) -> None:
    """In the child: one reading, answered as (status, value, CPU seconds); the status is "ok"
    (the value returned), "raise" (the exception), "memory" or "error" (a text)."""
    import resource  # Unix only: the host imports this module for its protocol on any system

    channel.sendall(PID.pack(os.getpid()))
    request = receive_message(channel, 2**30)
    if request is None:
        return
    try:
        function, args, cpu_seconds = pickle.loads(request)  # written by the host
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump the whole process
        outcome = ("ok", function(*args))
    except MemoryError:
        outcome = ("memory", None)
    except Exception as error:
        outcome = ("raise", error)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    try:
        answer = pickle.dumps((*outcome, cpu))
        pickle.loads(answer)  # what the host will do: an exception may pickle and not unpickle
    except Exception:  # then its text
        answer = pickle.dumps(("error", f"{type(outcome[1]).__name__}: {outcome[1]}", cpu))
    send_message(channel, answer)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def serve(control: socket.socket) -> None:
    # Reaped as soon as they end: a reading's CPU time is then the server's children's.
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            return
        if not message:
            return  # the host is gone
        if not fds:
            continue
        channel = socket.socket(fileno=fds[0])
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.close()
            code = 0
            try:
                _reading(channel)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        channel.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's; it closes our socket
    control = socket.socket(fileno=int(sys.argv[1]))
    for name in PRELOADED:
        importlib.import_module(name)
    serve(control)


if __name__ == "__main__":
    main()
