"""Step 2, execute: run the runner in the sandbox and read back what it wrote, trusting nothing.

The report is read size-capped, validated and checked against the HMAC keyed with a fresh
nonce that only the runner's supervisor received (on stdin, with the digits); the
checkpoint is opened weights-only.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from grader.contract import MAX_REPORT_BYTES, REPORT_FILE, RunReport, SignedReport, signature
from grader.host.execute.checkpoint import CheckpointFacts, inspect_checkpoint
from grader.host.prepare import digits_bundle
from grader.host.prepare.staging import Staged
from grader.sandbox import SandboxOutcome, SandboxRequest

if TYPE_CHECKING:
    from grader.host.grading import GradingContext


@dataclass(frozen=True)
class Execution:
    outcome: SandboxOutcome
    report: RunReport | None  # None: missing, oversized, malformed or forged
    checkpoint: CheckpointFacts | None  # None: the fit was never reached
    report_refused: bool = False  # a report file was there, but not one the runner signed


def read_report(output: Path, nonce: str) -> RunReport | None:
    """The runner's report, or None when it is missing, oversized, malformed or forged."""
    path = output / REPORT_FILE
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_REPORT_BYTES:
        return None
    try:
        signed = SignedReport.model_validate_json(path.read_bytes())
        if not hmac.compare_digest(signed.signature, signature(signed.payload, nonce)):
            return None
        return RunReport.model_validate_json(signed.payload)
    except ValidationError:
        return None


@functools.lru_cache(maxsize=2)
def _digits(bundle: Path, changed_ns: int) -> bytes:
    """Read once per batch (every submission gets the same digits), again if rewritten."""
    return bundle.read_bytes()


def runner_stdin(nonce: str, inputs: Path) -> bytes:
    """The nonce, then the digits: nothing the sandbox holds on disk."""
    bundle = digits_bundle(inputs)
    return f"{nonce}\n".encode() + _digits(bundle, bundle.stat().st_mtime_ns)


def execute(staged: Staged, context: GradingContext) -> Execution:
    output = staged.folder.parent / "output"
    nonce = secrets.token_hex(16)
    stdin = runner_stdin(nonce, context.inputs)
    request = SandboxRequest(
        staged.folder, context.inputs, output, stdin, context.limits, context.stopping, context.private
    )
    outcome = context.sandbox.run(request)
    report = read_report(output, nonce)
    fitted = report is not None and report.stage in ("fitted", "done")
    checkpoint = (
        inspect_checkpoint(output, report.fit.checkpoint.best_model_path, report.state_dict_shapes)
        if fitted
        else None
    )
    path = output / REPORT_FILE
    refused = report is None and (path.exists() or path.is_symlink())
    return Execution(outcome, report, checkpoint, refused)
