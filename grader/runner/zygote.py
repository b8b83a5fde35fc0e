"""The warm parent of both workers: `python -m grader.runner.zygote`, started by the supervisor.

Importing torch and Lightning costs about 5 s and 0.9 GB, which each worker would otherwise pay
again. This process imports them once, before any student code exists in the sandbox, and then
forks a fresh child for each worker the supervisor asks for. A child runs `train.main` or
`predict.main` on a copy of this memory: what student code changes there (modules, patches,
environment) dies with the child, and the next child starts from the untouched original.

It holds nothing secret (no key, no digits), is unreadable to the workers (no ptrace, no
/proc/<pid>/mem), and only ever runs the two worker entry points.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import traceback

from grader.runner import launch, predict, train
from grader.runner.frameworks import import_trusted

ENTRY_POINTS = {"grader.runner.train": train.main, "grader.runner.predict": predict.main}


def child(request: launch.WorkerRequest, channel: int, control: socket.socket) -> int:
    """In the fresh child: shed everything of the zygote's but the channel, then run the worker."""
    control.close()
    os.setsid()  # its own session, so that the supervisor can end it and all it starts
    launch.set_dumpable(True)  # inherited from the zygote; the worker's own /proc must work
    gc.unfreeze()
    return ENTRY_POINTS[request.module]([*request.arguments, "--channel", str(channel)])


def serve(control: socket.socket) -> None:
    """One request at a time: fork its worker, say its pid, wait for it, say how it ended."""
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, launch.MAX_MESSAGE_BYTES, 1)
        except OSError:
            return
        if not message:
            return
        request = launch.WorkerRequest.model_validate_json(message)
        (channel,) = fds
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = child(request, channel, control)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(channel)
        control.sendall(launch.WorkerEvent(pid=pid).model_dump_json().encode())
        _, status = os.waitpid(pid, 0)
        control.sendall(
            launch.WorkerEvent(exit_code=os.waitstatus_to_exitcode(status)).model_dump_json().encode()
        )


def main() -> int:
    launch.set_dumpable(False)
    control = socket.socket(fileno=int(sys.argv[1]))
    import_trusted()
    # Freezing what the imports made keeps the garbage collector of each child from writing to
    # (and so copying) every page of it.
    gc.freeze()
    control.sendall(launch.WorkerEvent(ready=True).model_dump_json().encode())
    serve(control)
    return 0


if __name__ == "__main__":
    sys.exit(main())
