"""The runner: executes inside the sandbox, next to untrusted student code.

`__main__` is the supervisor: it imports only the standard library and `grader.contract`,
holds the report's key and never runs student code. `train` and `predict` are the workers
that do; they import numpy, torch, the real Lightning packages and `grader.contract`, and
send their evidence to the supervisor (`channel`). The host treats all of it as untrusted input.
"""
