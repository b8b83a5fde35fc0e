"""The trusted host side: CLI, discovery, staging, data, scoring and reports.

Nothing here imports student code; it reads only what the sandbox wrote, validated.
"""
