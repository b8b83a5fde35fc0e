"""Entry point inside the sandbox: `python -m grader.runner --submission S --input I --output O`.

This process is the runner's supervisor; it never imports student code (nor torch). It reads
the host's nonce and digits on stdin, makes itself unreadable to the other processes of the
sandbox, and runs two workers one after the other, each a fresh child of the zygote
(`grader.runner.zygote`, which imported torch and Lightning once for both):
- the training worker (`grader.runner.train`) gets the training and validation digits;
- once it and everything it started are gone and the files it wrote are wiped, the
  predicting worker (`grader.runner.predict`) gets the held-out images and the trained weights.
Workers send their evidence over a pipe. Only the supervisor holds the key that signs the
report, and it adds what it saw of them itself (`RunReport.tampering`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from grader import tree
from grader.contract import (
    CHECKPOINT_DIR,
    MAX_REPORT_BYTES,
    REPORT_FILE,
    RUNNER_STAGES,
    SHARED_SCRATCH,
    TEST_IMAGES_FILE,
    VALIDATION_FILES,
    WEIGHTS_FILE,
    Discovery,
    OptimizerProbe,
    Prediction,
    Problem,
    RunReport,
    SignedReport,
    Stage,
    StepProbe,
    WorkerMessage,
    signature,
)
from grader.runner import launch, syscall_filter

WORK_DIR = ".grader-work"
TRAINING_FILES = ("train_x.npy", "train_y.npy", "val_x.npy", "val_y.npy")
# A report's fields that a later message may not change once their stage was reported.
SETTLED_AT = {
    "found": ("discovery", "hook_sources"),
    "probed": ("input_layout", "training_step", "validation_step", "configure_optimizers"),
    "fitted": ("fit",),
}
AGREED_BEFORE_FIT = ("found", "probed")
STRAGGLER_GRACE_SECONDS = 2.0
FIT_TIME_SLACK_SECONDS = 1.0


def order_of(stage: str) -> int:
    return RUNNER_STAGES.index(stage)


def _problem_kind(probe: StepProbe | OptimizerProbe) -> str | None:
    return probe.problem.kind if probe.problem else None


def _essence(field: str, value: object) -> object:
    """What two processes must both find of a report's field: what does not hold a memory address
    or a timing (an error's message may print an object's address)."""
    if isinstance(value, Discovery):
        return (value.framework, value.class_name, value.file, value.line)
    if isinstance(value, dict):  # hook sources
        return {name: (hook.defined, sorted(hook.logged)) for name, hook in value.items()}
    if isinstance(value, StepProbe):
        return (
            value.defined,
            value.ok,
            value.loss_is_scalar,
            value.loss_requires_grad,
            sorted(value.logged),
            _problem_kind(value),
        )
    if isinstance(value, OptimizerProbe):
        return (value.ok, _problem_kind(value))
    return value


class Signer:
    """Writes the signed report, and notices when anything else wrote that file."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self._key = path, key
        self._written: bytes | None = None

    def tampered(self) -> bool:
        current = self.path.read_bytes() if self.path.is_file() and not self.path.is_symlink() else None
        return current != self._written

    def write(self, report: RunReport) -> None:
        """Replace the report; on a full disk (the student's files) the last one written stays."""
        payload = report.model_dump_json()
        signed = SignedReport(payload=payload, signature=signature(payload, self._key)).model_dump_json()
        partial = self.path.with_name(f"{REPORT_FILE}.partial")
        try:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            partial.write_text(signed, encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        self._written = signed.encode()


class Watch:
    """What one worker said, checked as it arrives."""

    def __init__(
        self,
        report: RunReport,
        allowed: set[str],
        name: str,
        suspicions: list[str],
        last_stage: Stage = "fitted",
    ) -> None:
        self.report, self.allowed, self.name, self.last_stage = report, allowed, name, last_stage
        # What the probing worker, a fresh process before this one, found: this worker must agree.
        self.reference: RunReport | None = None
        self.suspicions = suspicions  # shared by both workers' watches
        self.prediction: Prediction | None = None
        self.ended = False
        self._settled: dict[str, str] = {}
        # When each stage's first report arrived, by this process's clock: the report's timings
        # are these, never what the worker says of itself.
        self._started = time.monotonic()
        self.arrived: dict[str, float] = {}

    def suspect(self, text: str) -> None:
        if text not in self.suspicions:
            self.suspicions.append(text)

    def take(self, line: bytes) -> bool:
        """Take one message; True when the report changed."""
        if self.ended:
            self.suspect(f"the {self.name} sent messages after its last one")
            return False
        try:
            message = WorkerMessage.model_validate_json(line)
        except ValidationError:
            self.suspect(f"the {self.name}'s channel carried a message the grader never sends")
            return False
        if message.kind not in self.allowed:
            self.suspect(f"the {self.name} sent a `{message.kind}` message, which it never does")
            return False
        if message.kind == "suspicion" and message.suspicion:
            self.suspect(message.suspicion)
        elif message.kind == "prediction":
            if self.prediction is not None:
                self.suspect(f"the {self.name} answered twice, which it never does")
                return False
            self.prediction = message.prediction
        elif message.kind == "end":
            self.ended = True
        elif message.kind == "report" and message.report is not None:
            self._merge(message.report)
            return True
        return False

    def _merge(self, new: RunReport) -> None:
        order = order_of
        if order(new.stage) < order(self.report.stage):
            self.suspect(f"the report went back from stage `{self.report.stage}` to `{new.stage}`")
        elif order(new.stage) > order(self.report.stage) + 1:
            # A worker reports every stage it reaches, one after the other.
            self.suspect(f"the report jumped from stage `{self.report.stage}` to `{new.stage}`")
        if order(new.stage) > order(self.last_stage):
            self.suspect(f"the {self.name} reported stage `{new.stage}`, which it never reaches")
        self.arrived.setdefault(new.stage, round(time.monotonic() - self._started, 3))
        self._check_fit_time(new)
        self._check_reference(new)
        for stage, fields in SETTLED_AT.items():
            if order(new.stage) < order(stage):
                continue
            for field in fields:
                value = getattr(new, field)
                dumped = value.model_dump_json() if hasattr(value, "model_dump_json") else repr(value)
                if self._settled.setdefault(field, dumped) != dumped:
                    self.suspect(f"the report's `{field}` changed after the {self.name} had reported it")
                    setattr(new, field, getattr(self.report, field))
        new.tampering = []
        new.timings = dict(self.arrived)
        self.report = new

    def _check_reference(self, new: RunReport) -> None:
        """What this worker found must be what the probing worker found, stage by stage."""
        if self.reference is None or order_of(new.stage) > order_of("probed"):
            return
        if order_of(new.stage) > order_of(self.reference.stage):
            self.suspect(
                f"the {self.name} reached stage `{new.stage}`, where a fresh process before it stopped "
                f"at `{self.reference.stage}`"
            )
            return
        for stage, fields in SETTLED_AT.items():
            if order_of(new.stage) < order_of(stage) or stage not in AGREED_BEFORE_FIT:
                continue
            for field in fields:
                if _essence(field, getattr(new, field)) != _essence(field, getattr(self.reference, field)):
                    self.suspect(
                        f"the {self.name} reported `{field}` otherwise than a fresh process before it found it"
                    )

    def _check_fit_time(self, new: RunReport) -> None:
        """A fit cannot have taken longer than the time between its stages' reports."""
        if new.stage != "fitted" or new.fit.seconds is None or "probed" not in self.arrived:
            return
        observed = time.monotonic() - self._started - self.arrived["probed"]
        if new.fit.seconds > observed + FIT_TIME_SLACK_SECONDS:
            self.suspect(
                f"the fit is reported to have taken {new.fit.seconds:.1f} s, but only {observed:.1f} s "
                "passed between its reports"
            )


def _read_lines(
    pipe: io.BufferedReader, take: Callable[[bytes], None], oversized: Callable[[], None]
) -> None:
    while True:
        line = pipe.readline(MAX_REPORT_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_REPORT_BYTES:
            oversized()
            while line and not line.endswith(b"\n"):  # skip the rest of it
                line = pipe.readline(MAX_REPORT_BYTES)
            continue
        take(line)


def run_worker(
    zygote: launch.Zygote,
    module: launch.WorkerModule,
    arguments: list[str],
    watch: Watch,
    on_report: Callable[[], None],
    own_uid: bool,
) -> int:
    """Run one worker to its end, feed its messages to `watch`; its exit code (128+N for signal N).

    `own_uid`: the host gave this run a uid of its own (see `launch.stop_stragglers`)."""
    read_end, write_end = os.pipe()
    arguments = [*arguments, "--supervisor", str(os.getpid())]
    started = launch.start_worker(zygote, module, arguments, write_end)
    os.close(write_end)
    lock = threading.Lock()

    def take(line: bytes) -> None:
        with lock:
            if watch.take(line):
                on_report()

    def oversized() -> None:
        watch.suspect(f"the {watch.name} sent a message larger than the grader ever sends")

    with os.fdopen(read_end, "rb") as pipe:
        reader = threading.Thread(target=_read_lines, args=(pipe, take, oversized), daemon=True)
        reader.start()
        code = started.wait()
        launch.stop_stragglers(started.pid, zygote, own_uid)
        # Once no process holds the pipe, the reader sees its end; one that escaped the
        # worker's session (possible only without a PID namespace) is not waited for.
        reader.join(STRAGGLER_GRACE_SECONDS)
    if code == 0 and not watch.ended:
        watch.suspect(f"the {watch.name} exited cleanly without finishing, which the grader never does")
    return code if code >= 0 else 128 - code


def _digests(folder: Path) -> dict[tuple[str, ...], str]:
    try:
        return {file.parts: hashlib.sha256(file.read_bytes()).hexdigest() for file in tree.files(folder)}
    except tree.TooDeep:
        return {("too deep",): ""}


def wipe(output: Path, keep: set[str], own_uid: bool) -> None:
    """Remove what the training run left where the predicting run could read it.

    The sandbox's own scratch space is private to this run when the supervisor is PID 1 of its
    namespace; with a uid of the run's own (`own_uid`), its files in the shared one are too.
    """
    places = [output]
    if os.getpid() == 1 or own_uid:
        places += [Path(tempfile.gettempdir()), *map(Path, SHARED_SCRATCH)]
    for place in dict.fromkeys(places):
        with contextlib.suppress(OSError):
            device = place.stat().st_dev
            for entry in place.iterdir():
                info = entry.lstat()
                # Mounts in the scratch space (the grader's own files, say) are not the run's.
                mine = info.st_dev == device and not output.is_relative_to(entry)
                if own_uid and place != output:
                    mine = mine and info.st_uid == os.getuid()
                if mine and (place != output or entry.name not in keep):
                    tree.remove(entry)


def unpack(bundle: bytes) -> dict[str, bytes]:
    """The digits each worker gets, kept in memory where no worker can change them."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in (*TRAINING_FILES, TEST_IMAGES_FILE, *VALIDATION_FILES)}


def lay_out(digits: dict[str, bytes], names: tuple[str, ...], folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(digits[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runner")
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--zygote", type=int, help="a socket to the host's warm zygote, if it has one")
    parser.add_argument(
        "--own-uid",
        action="store_true",
        help="this run's uid is its own: its processes and shared scratch files are the run's",
    )
    parser.add_argument(
        "--syscall-filter",
        action="store_true",
        help="confine this run with the grader's syscall filter (needs no_new_privs)",
    )
    args = parser.parse_args(argv)
    if args.syscall_filter:  # first: everything after, the zygote included, is confined
        syscall_filter.install(syscall_filter.program())
    key = sys.stdin.buffer.readline().strip().decode()
    bundle = sys.stdin.buffer.read()
    launch.set_dumpable(False)
    launch.become_subreaper()
    output, submission, inputs = args.output.resolve(), args.submission.resolve(), args.input.resolve()
    os.chdir(output)
    # Its own zygote imports torch while the digits are unpacked.
    zygote = launch.Zygote.attach(args.zygote) if args.zygote is not None else launch.Zygote.spawn()
    signer = Signer(output / REPORT_FILE, key)
    del key
    work = output / WORK_DIR
    digits = unpack(bundle)
    del bundle
    common = ["--submission", str(submission), "--input", str(inputs)]

    suspicions: list[str] = []
    # Its report is the run's once it starts; until then the run has no confirmed stage.
    training = Watch(RunReport(), {"report", "suspicion", "end"}, "training worker", suspicions)

    def save() -> None:
        if signer.tampered():
            training.suspect("the report file was written by code other than the grader")
        training.report.tampering = list(suspicions)
        signer.write(training.report)

    save()
    try:
        code = train_and_predict(Run(zygote, training, output, work, common, digits, args.own_uid), save)
    finally:
        zygote.stop()
    tree.remove(work)
    save()
    return code


@dataclass(frozen=True)
class Run:
    """What the training and the predicting runs share."""

    zygote: launch.Zygote
    training: Watch  # the training worker's watch; its report is the run's
    output: Path
    work: Path
    common: list[str]  # the arguments both workers take
    digits: dict[str, bytes]  # every worker's digits by file name, as the host sent them
    own_uid: bool  # see `launch.stop_stragglers`


def train_and_predict(run: Run, save: Callable[[], None]) -> int:
    """The three workers in turn: probing, training, predicting; each a fresh process."""
    probing = Watch(
        RunReport(), {"report", "suspicion", "end"}, "probing worker", run.training.suspicions, "probed"
    )
    arguments = [*run.common, "--output", str(run.output), "--work", str(run.work / "train")]
    lay_out(run.digits, TRAINING_FILES, run.work / "train")
    run_worker(run.zygote, "grader.runner.probe", arguments, probing, lambda: None, run.own_uid)
    # Nothing the probing run left reaches the training run: it starts as the first one did.
    wipe(run.output, keep={REPORT_FILE, WORK_DIR}, own_uid=run.own_uid)
    tree.remove(run.work)
    lay_out(run.digits, TRAINING_FILES, run.work / "train")
    run.training.reference = probing.report
    code = run_worker(run.zygote, "grader.runner.train", arguments, run.training, save, run.own_uid)
    if run.training.report.stage == "fitted" and run.training.report.input_layout:
        predict_held_out(run)
    return code


def predict_held_out(run: Run) -> None:
    """The predicting worker's run, once the training run is gone: its answer goes into the report."""
    zygote, training, output, work, common = run.zygote, run.training, run.output, run.work, run.common
    report = training.report
    weights = work / "train" / WEIGHTS_FILE
    if not weights.is_file():
        return
    checkpoints = _digests(output / CHECKPOINT_DIR)
    predict_folder = work / "predict"
    predict_folder.mkdir()
    weights.rename(predict_folder / WEIGHTS_FILE)
    wipe(output, keep={REPORT_FILE, CHECKPOINT_DIR, WORK_DIR}, own_uid=run.own_uid)
    tree.remove(work / "train")
    for name in (TEST_IMAGES_FILE, *VALIDATION_FILES):
        (predict_folder / name).write_bytes(run.digits[name])
    arguments = [*common, "--work", str(predict_folder), "--layout", str(report.input_layout)]
    best = _best_checkpoint(output, report.fit.checkpoint.best_model_path)
    if best is not None:
        arguments += ["--checkpoint", str(best)]
    predicting = Watch(report, {"prediction", "suspicion", "end"}, "predicting worker", training.suspicions)
    code = run_worker(zygote, "grader.runner.predict", arguments, predicting, lambda: None, run.own_uid)
    if predicting.prediction is None:
        ended = f"the predicting run ended without an answer (exit code {code})"
        report.predict_problem, report.stage = Problem(kind="Crash", message=ended), "done"
        return
    answer = predicting.prediction
    contradictions = disagreements(report, answer)
    for finding in contradictions:
        training.suspect(finding)
    if not contradictions:
        report.predictions, report.predict_problem = answer.predictions, answer.problem
        report.measurement = answer.measurement
        report.adaptations += answer.adaptations
    report.stage = "done"
    if _digests(output / CHECKPOINT_DIR) != checkpoints:
        training.suspect("the checkpoint changed after the fit, while the held-out digits were predicted")


def _best_checkpoint(output: Path, reported: str | None) -> Path | None:
    """The best checkpoint the training run reported, if it is a file in the output's checkpoints."""
    if not reported:
        return None
    path = output / reported
    folder = (output / CHECKPOINT_DIR).resolve()
    if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(folder):
        return None
    return path


def disagreements(report: RunReport, answer: Prediction) -> list[str]:
    """Where the predicting worker's answer contradicts the training run's report.

    Both import the same submission and build the same class the same way; a fresh process that
    finds another class, or cannot build it, contradicts a report that only the training run's own
    code may have written."""
    if answer.problem and answer.problem.by_grader:
        return []  # the grader's own failure is no evidence
    if answer.class_name != report.discovery.class_name:
        return [f"the predicting run found class `{answer.class_name}`, not the trained one"]
    if not answer.built:
        why = f" (`{answer.problem.kind}`)" if answer.problem else ""
        return [f"the training run built the model, but a fresh process could not build it again{why}"]
    return []


if __name__ == "__main__":
    sys.exit(main())
