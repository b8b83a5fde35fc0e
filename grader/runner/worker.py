"""What both workers do before any student code: read the spec, import the real libraries,
redirect `.cuda()`, and arm the tripwire that reports to the supervisor."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grader.contract import SPEC_FILE, RunSpec
from grader.runner import devices, frameworks, tripwire
from grader.runner.channel import Channel


@dataclass(frozen=True)
class Worker:
    spec: RunSpec
    submission: Path
    channel: Channel
    real: dict[str, Any]  # frameworks.Lightning by name, imported before any student code
    cpu: devices.CpuOnly


def arguments(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True, help="holds the spec")
    parser.add_argument("--work", type=Path, required=True, help="what the supervisor hands this worker")
    parser.add_argument("--channel", type=int, required=True, help="the pipe to the supervisor")
    parser.add_argument("--supervisor", type=int, required=True, help="its pid, for the tripwire")
    return parser


def start(args: argparse.Namespace) -> Worker:
    spec = RunSpec.model_validate_json((args.input / SPEC_FILE).read_text(encoding="utf-8"))
    channel = Channel(args.channel)
    torch.set_num_threads(spec.fit.threads)
    real = frameworks.import_trusted()
    submission = args.submission.resolve()
    cpu = devices.CpuOnly(torch, submission)
    cpu.install()  # before the tripwire's snapshot: these are the grader's own patches
    # Signals to the supervisor or to this worker's parent (the zygote) are the tripwire's.
    wire = tripwire.install(
        channel.suspect, frameworks.classes(real), {args.supervisor, os.getppid()}, args.channel
    )
    channel.guard_with(wire.replaced)
    return Worker(spec, submission, channel, real, cpu)
