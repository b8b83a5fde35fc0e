"""The data contract that crosses the sandbox boundary, in both directions.

The host writes a `RunSpec` into the sandbox's input directory; the runner writes
a `RunReport` into its output directory. Both sides import only this module and
pydantic, so the runner stays small and the host validates everything it reads.
"""

from __future__ import annotations

import hashlib
import hmac
import pickletools
import zipfile
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Framework = Literal["pytorch_lightning", "lightning.pytorch"]
InputLayout = Literal["N,1,28,28", "N,28,28", "N,784"]
Stage = Literal["started", "imported", "found", "constructed", "probed", "fitted", "done"]
RUNNER_STAGES: tuple[Stage, ...] = get_args(Stage)

SPEC_FILE = "spec.json"
REPORT_FILE = "report.json"
CHECKPOINT_DIR = "checkpoints"
# Handed from the training worker, through the supervisor, to the predicting worker.
WEIGHTS_FILE = "weights.pt"
TEST_IMAGES_FILE = "test_x.npy"
# The validation digits, handed to the predicting worker too: it measures the best checkpoint on
# the digits the fit validated on, and calls the hooks again on them.
VALIDATION_FILES = ("val_x.npy", "val_y.npy")
# The widest model output the predicting worker sends back (ten digit classes need ten).
MAX_OUTPUT_COLUMNS = 100
MAX_REPORT_BYTES = 2_000_000
# The system's shared temporary folders. A runner with no mount namespace of its own (the
# `user` backend) can write there: the host counts what its uid leaves toward its disk
# budget, and the supervisor and the host remove it.
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
# The largest checkpoint either side opens, as its zip would inflate (see `inflated_size`).
MAX_CHECKPOINT_BYTES = 512 * 2**20


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FitSettings(Contract):
    """How the runner trains: identical for the reference and every student."""

    seed: int
    batch_size: int = Field(gt=0)
    max_epochs: int = Field(gt=0)
    limit_train_batches: int | None = None
    limit_val_batches: int | None = None
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = Field(ge=0)
    save_top_k: int = 1
    threads: int = Field(default=1, gt=0)


class RunSpec(Contract):
    """Written by the host to `<input>/spec.json`. Images are in `<input>/*.npy`."""

    fit: FitSettings
    class_hint: str | None = None
    init_kwargs: dict[str, object] = Field(default_factory=dict)
    input_layouts: list[InputLayout] = Field(min_length=1, description="The rubric's, first is the contract.")


# The student's last traceback frames a `Problem` carries: its lines, and the length of each.
MAX_FRAME_LINES = 15
MAX_FRAME_LINE_CHARS = 160
FrameLine = Annotated[str, StringConstraints(max_length=MAX_FRAME_LINE_CHARS)]
MAX_ARGUMENTS = 20
ArgumentName = Annotated[str, StringConstraints(max_length=100)]


class Problem(Contract):
    """A failure in student code, reduced to what a student needs to fix it."""

    kind: str
    message: str
    location: str | None = None
    # Raised inside the grader's own code (its callbacks, its runner), so not the student's fault.
    by_grader: bool = False
    # What the grader saw: the traceback's frames in the student's own files, innermost last
    # (`file:line in function`, then the line of code); for a syntax error, the line and a caret.
    frames: list[FrameLine] = Field(default_factory=list, max_length=MAX_FRAME_LINES)
    # The constructor's parameters nothing in the student's code gives a value: the grader did not
    # call it, so none of the student's code ran.
    missing_arguments: list[ArgumentName] = Field(default_factory=list, max_length=MAX_ARGUMENTS)


class Discovery(Contract):
    framework: Framework | None = None
    class_name: str | None = None
    file: str | None = None
    line: int | None = None
    candidates: list[str] = Field(default_factory=list)
    plain_modules: list[str] = Field(default_factory=list)
    reason: str = ""


class HookSource(Contract):
    """A hook as read from the class's source, for when it cannot be called."""

    defined: bool = False
    logged: list[str] = Field(default_factory=list)


class StepProbe(Contract):
    """One direct call of a step hook on a real batch, outside the Trainer."""

    defined: bool = False
    ok: bool = False
    problem: Problem | None = None
    returned: str | None = None
    loss_is_scalar: bool = False
    loss_requires_grad: bool = False
    loss_value: float | None = None
    logged: list[str] = Field(default_factory=list)


class OptimizerProbe(Contract):
    ok: bool = False
    problem: Problem | None = None
    returned: str | None = None


class CheckpointRecord(Contract):
    monitor: str | None = None
    best_model_path: str | None = None
    best_model_score: float | None = None


class EarlyStoppingRecord(Contract):
    monitor: str | None = None
    mode: str | None = None
    patience: int | None = None
    wait_count: int | None = None
    stopped_epoch: int | None = None
    best_score: float | None = None
    checks: int = 0


class FitRecord(Contract):
    completed: bool = False
    problem: Problem | None = None
    seconds: float | None = None
    epochs_run: int = 0
    global_step: int = 0
    max_steps: int | None = None
    train_losses: list[float] = Field(default_factory=list)
    val_losses: list[float] = Field(default_factory=list)
    logged_metrics: list[str] = Field(default_factory=list)
    checkpoint: CheckpointRecord = Field(default_factory=CheckpointRecord)
    early_stopping: EarlyStoppingRecord = Field(default_factory=EarlyStoppingRecord)


class Outputs(Contract):
    """A model's outputs for a set of images: `rows` x `columns` float32, little-endian, in base64."""

    rows: int = Field(ge=0)
    columns: int = Field(gt=0, le=MAX_OUTPUT_COLUMNS)
    data: str


class Measurement(Contract):
    """What the predicting worker, a fresh process that never ran the fit, measured of the graded class.

    The host turns it into evidence of its own (`host/judge/measured.py`): the loss at the fit's
    start and end on held-out digits whose labels never enter the sandbox, whether the class was
    accurate before any training, and the best checkpoint's loss on the digits the fit validated on.
    """

    loaded: bool = False  # the trained weights fit the class, tensor for tensor
    weights_changed: bool | None = None  # whether the fit left any weight other than it found it
    trained: Outputs | None = None  # the held-out images through the trained weights
    initial: Outputs | None = None  # ... through the weights the fit started from (built under its seed)
    # Predicted classes of the held-out images by models that never trained, by what they are.
    untrained: dict[str, list[int]] = Field(default_factory=dict)
    # The digits the fit validated on, through the best checkpoint's weights (else the trained ones).
    validated: Outputs | None = None
    validated_from: Literal["checkpoint", "trained"] | None = None
    problems: list[str] = Field(default_factory=list)  # what could not be measured, and why


class RunReport(Contract):
    """What the runner found, rewritten after every stage inside a `SignedReport`."""

    stage: Stage = "started"
    import_problem: Problem | None = None
    skipped_code: list[str] = Field(default_factory=list)
    failed_code: list[Problem] = Field(default_factory=list)
    discovery: Discovery = Field(default_factory=Discovery)
    hook_sources: dict[str, HookSource] = Field(default_factory=dict)
    construct_problem: Problem | None = None
    construct_notes: list[str] = Field(default_factory=list)
    # What the runner changed so the student's code runs here (e.g. `.cuda()` on the CPU).
    adaptations: list[str] = Field(default_factory=list)
    input_layout: InputLayout | None = None
    training_step: StepProbe = Field(default_factory=StepProbe)
    validation_step: StepProbe = Field(default_factory=StepProbe)
    configure_optimizers: OptimizerProbe = Field(default_factory=OptimizerProbe)
    fit: FitRecord = Field(default_factory=FitRecord)
    predictions: list[int] | None = None
    predict_problem: Problem | None = None
    measurement: Measurement | None = None
    # An error that escaped the runner's stages, with the stage it interrupted in `stage`.
    runner_problem: Problem | None = None
    state_dict_shapes: dict[str, list[int]] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    # Written only by the runner's supervisor, from what it saw of the processes that ran
    # student code; whatever those processes put here is replaced.
    tampering: list[str] = Field(default_factory=list)


class Prediction(Contract):
    """The predicting worker's answer: the held-out images through the trained weights."""

    class_name: str | None = None
    built: bool = False  # the graded class was built again here, as the training run built it
    predictions: list[int] | None = None
    problem: Problem | None = None
    adaptations: list[str] = Field(default_factory=list)
    measurement: Measurement | None = None


class WorkerMessage(Contract):
    """One line from a worker (the process that imports student code) to the runner's supervisor."""

    kind: Literal["report", "suspicion", "prediction", "end"]
    report: RunReport | None = None
    suspicion: str | None = None
    prediction: Prediction | None = None


class SignedReport(Contract):
    """`<output>/report.json`: the report's JSON and its HMAC, keyed with the host's nonce.

    The nonce reaches the runner's supervisor on stdin and never enters a process that imports
    student code, so no student code can sign a report.
    """

    payload: str
    signature: str


def inflated_size(path: Path) -> int:
    """What `torch.load` would inflate: the zip members' declared sizes (torch reads each member
    into a buffer of its declared size), or the file's own size for the legacy format.

    A few MB of zip can declare gigabytes: compare this with `MAX_CHECKPOINT_BYTES` first.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return path.stat().st_size


# A Lightning checkpoint of an MNIST CNN with Adam pickles 6 KB in about 2,000 opcodes; a
# ResNet's would take some 100,000. torch.load spends about 2 µs and 300 bytes per opcode.
MAX_PICKLE_BYTES = 4 * 2**20
MAX_PICKLE_OPCODES = 200_000


def pickle_refusal(archive: zipfile.ZipFile) -> str | None:
    """Why a checkpoint's pickles are too large to unpickle; None when each is within the caps.

    `torch.load(weights_only=True)` refuses code, not size. Every `.pkl` member counts (torch
    reads `<folder>/data.pkl`), read no further than the cap and counted without building anything.
    """
    for entry in archive.infolist():
        if not entry.filename.endswith(".pkl"):
            continue
        with archive.open(entry) as member:
            data = member.read(MAX_PICKLE_BYTES + 1)
        if len(data) > MAX_PICKLE_BYTES:
            return f"checkpoint too large (its pickle is over {MAX_PICKLE_BYTES // 2**20} MB)"
        try:
            for count, _ in enumerate(pickletools.genops(data), 1):
                if count > MAX_PICKLE_OPCODES:
                    return f"checkpoint too large (its pickle holds over {MAX_PICKLE_OPCODES:,} objects)"
        except ValueError as error:
            return f"the checkpoint is not a valid pickle: {error}"
    return None


def signature(payload: str, key: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()
