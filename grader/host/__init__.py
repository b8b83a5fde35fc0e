"""The trusted host side: the `grade` CLI and the four steps of grading a submission.

`prepare/` (discovery, staging, digits, reference), `execute/` (the sandbox run and what it
wrote), `judge/` (status, points, the source), `publish/` (every file the grader writes).
Nothing here imports student code; it reads only what the sandbox wrote, validated.
"""
