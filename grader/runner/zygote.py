"""The warm parent of the workers: torch and Lightning imported once, a fresh child per worker.

Importing torch and Lightning costs about 5 s and 0.9 GB, which each worker would otherwise pay
again. A zygote imports them before any student code exists, then forks a fresh child for each
worker a supervisor asks for. The child runs `train.main` or `predict.main` on a copy of this
memory: what student code changes there (modules, patches, environment) dies with the child,
and the next child starts from the untouched original. A zygote holds nothing secret (no key,
no digits; its environment is the sandbox's) and only ever runs the two worker entry points.

It runs in one of two places:
- `--control FD`: inside the sandbox, started by the supervisor for its workers (Docker, the
  `none` backend, or bubblewrap where the host's zygote cannot join the sandbox). It is unreadable to the workers (no
  ptrace, no /proc/<pid>/mem).
- `--serve FD`: on the host, started once per grading process by the `process` backend (as
  root or as a user), so that no submission pays for the imports. The host hands it each run's
  control socket; each child joins that run's sandbox (`entering.join`), and the worker it forks
  there takes the run's uid and limits and drops every capability (`entering.become`). The
  sandbox's processes cannot see it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from grader.runner import entering, launch, predict, probe, train
from grader.runner.frameworks import import_trusted

ENTRY_POINTS = {
    "grader.runner.probe": probe.main,
    "grader.runner.train": train.main,
    "grader.runner.predict": predict.main,
}
STDIO_FDS = (1, 2)


def run_worker(request: launch.WorkerRequest, fds: list[int]) -> int:
    """In the worker: take the supervisor's stdio, environment and folder, then run the entry point."""
    channel, *stdio = fds
    for source, target in zip(stdio, STDIO_FDS, strict=True):
        os.dup2(source, target)
        os.close(source)
    # Nothing else of the zygote's (its sockets to other runs' supervisors, say) stays open.
    os.closerange(3, channel)
    os.closerange(channel + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    os.environ.clear()
    os.environ.update(request.environment)
    os.chdir(request.cwd)
    os.setsid()  # its own session, so that a supervisor that is not PID 1 can end it and all it starts
    launch.set_dumpable(True)  # the worker's own /proc must work
    gc.unfreeze()
    return ENTRY_POINTS[request.module]([*request.arguments, "--channel", str(channel)])


def finish(run: Callable[..., int], *args: object) -> None:
    """Run a forked process's work and leave, whatever happens: never back into the zygote's loop."""
    code = 1
    try:
        code = run(*args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def send(control: socket.socket, event: launch.WorkerEvent) -> None:
    with contextlib.suppress(OSError):  # the supervisor may be gone already
        control.sendall(event.model_dump_json().encode())


@dataclass(frozen=True)
class Received:
    request: launch.WorkerRequest
    fds: list[int]
    sender: entering.Peer | None


def receive(control: socket.socket) -> Received | None:
    try:
        message, fds, sender = entering.receive_with_credentials(
            control, launch.MAX_MESSAGE_BYTES, launch.REQUEST_FDS
        )
    except OSError:
        return None
    if not message or len(fds) != launch.REQUEST_FDS:
        for fd in fds:
            os.close(fd)
        return None
    return Received(launch.WorkerRequest.model_validate_json(message), fds, sender)


def fork_worker(
    received: Received,
    control: socket.socket,
    become: Callable[[], None] = lambda: None,
    shown_pid: Callable[[int], int] = lambda pid: pid,
) -> None:
    """Fork the worker (which first runs `become`), say its pid, wait for it, say how it ended."""
    pid = os.fork()
    if pid == 0:
        control.close()
        become()
        finish(run_worker, received.request, received.fds)
    for fd in received.fds:
        os.close(fd)
    send(control, launch.WorkerEvent(pid=shown_pid(pid)))
    _, status = os.waitpid(pid, 0)
    send(control, launch.WorkerEvent(exit_code=os.waitstatus_to_exitcode(status)))


# ----------------------------------------------------------------- inside the sandbox


def serve_one_sandbox(control: socket.socket) -> None:
    """One request at a time, from the supervisor that started this zygote."""
    while (received := receive(control)) is not None:
        fork_worker(received, control)


# ----------------------------------------------------------------- on the host


def enter_and_run(received: Received, control: socket.socket) -> int:
    """In the zygote's child: join the requesting supervisor's sandbox and fork the worker inside."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the zygote ignores it; this process waits
    peer = received.sender
    host_proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    as_root = os.geteuid() == 0
    try:
        # As root, only a run's throwaway uid; as a user, only the user's own sandboxes.
        if peer is None or peer.uid == 0 or (not as_root and peer.uid != os.getuid()):
            raise PermissionError("the request came without its sender's credentials, or from another user")
        entering.join(peer)
    except OSError:
        send(control, launch.WorkerEvent())  # no worker: the supervisor starts a fresh one itself
        raise
    fork_worker(
        received,
        control,
        become=lambda: entering.become(peer, received.request.limits, as_root),
        shown_pid=lambda pid: entering.pid_inside(pid, host_proc),
    )
    return 0


def serve_many_sandboxes(host: socket.socket) -> None:
    """The host sends each run's control socket; each supervisor then sends its requests."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the children that enter sandboxes reap themselves
    selector = selectors.DefaultSelector()
    selector.register(host, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            control = key.fileobj
            if control is host:
                message, fds, _, _ = socket.recv_fds(host, launch.MAX_MESSAGE_BYTES, 1)
                if not message or not fds:
                    return  # the host is gone: so is the batch
                selector.register(socket.socket(fileno=fds[0]), selectors.EVENT_READ)
                continue
            received = receive(control)
            if received is None:
                selector.unregister(control)
                control.close()
                continue
            if os.fork() == 0:
                for other in list(selector.get_map().values()):
                    if other.fileobj is not control:
                        other.fileobj.close()
                finish(enter_and_run, received, control)
            for fd in received.fds:
                os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runner.zygote")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--control", type=int, help="inside the sandbox: the supervisor's socket")
    mode.add_argument("--serve", type=int, help="on the host: the socket the host sends runs on")
    args = parser.parse_args(argv)
    launch.set_dumpable(False)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import_trusted()
    # Freezing what the imports made keeps the garbage collector of each child from writing to
    # (and so copying) every page of it.
    gc.freeze()
    if args.serve is not None:
        host = socket.socket(fileno=args.serve)
        send(host, launch.WorkerEvent(ready=True))
        serve_many_sandboxes(host)
    else:
        control = socket.socket(fileno=args.control)
        send(control, launch.WorkerEvent(ready=True))
        serve_one_sandbox(control)
    return 0


if __name__ == "__main__":
    sys.exit(main())
