"""The runner: executes inside the sandbox, next to untrusted student code.

It imports only the standard library, numpy, torch, the student's Lightning package
and `grader.contract`. Everything it writes is treated by the host as untrusted input.
"""
