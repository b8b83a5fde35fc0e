"""One-line hints for the errors the course's students meet most, as a TA would name them.

Each hint reads an error's message (a `Problem`, from the student's run) and says what it
means and what to change, with the numbers of that error. The message is the student's
data: a hint quotes only the numbers and names its pattern takes, each bounded in length.
tests/test_hints.py raises every one of them with real torch and Lightning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from grader.contract import Problem

# The largest side an MNIST feature map has: the sides of a flattened feature map's factors.
IMAGE_SIDE = 28
MAX_CHANNELS = 1024


@dataclass(frozen=True)
class Hint:
    name: str
    pattern: re.Pattern[str]
    # The hint's words: made from the match and the batch size, or a template of the match's groups.
    advice: Callable[[re.Match[str], int], str] | str


def _per_image(features: int) -> str:
    """`features` as channels · height · width of a square feature map, the largest side first."""
    for side in range(IMAGE_SIDE, 1, -1):
        channels, rest = divmod(features, side * side)
        if rest == 0 and 1 <= channels <= MAX_CHANNELS:
            return f"{channels}·{side}·{side}"
    return ""


def _shapes(match: re.Match[str], batch_size: int) -> str:
    rows, columns, expected, outputs = (int(n) for n in match.groups())
    linear = f"`nn.Linear({expected}, {outputs})`"
    if rows != batch_size and rows % batch_size == 0:
        # A 4-D (N, C, H, W) output: `nn.Linear` multiplies its last dimension only, so the
        # matrix it got has N·C·H rows of W values.
        channels_by_height = rows // batch_size
        features = channels_by_height * columns
        channels, rest = divmod(channels_by_height, columns)
        shape, product = (
            (f"({batch_size}, {channels}, {columns}, {columns})", f"{channels}·{columns}·{columns} = ")
            if rest == 0 and channels
            else (f"(…, {columns})", "")
        )
        then = "as it expects" if features == expected else f"so make it `nn.Linear({features}, {outputs})`"
        return (
            f"Your {linear} got a convolution's output unflattened, shaped {shape}, and multiplies only its "
            f"last dimension ({columns} values): flatten each image before it, with `x.flatten(1)` or "
            f"`nn.Flatten()`; it then gets {product}{features} features per image, {then}."
        )
    factors = _per_image(columns)
    counted = f" = {factors} (channels, height, width after your convolutions)" if factors else ""
    return (
        f"Each image reaches {linear} with {columns}{counted} features, but the layer expects {expected}: "
        f"make it `nn.Linear({columns}, {outputs})`, or change the layers before it."
    )


# The hints whose words only need the names their pattern takes (`str.format` with its groups).
NOT_LOGGED = (
    'Nothing logs `{name}`, which your callback watches: call `self.log("{name}", loss)` in '
    "`validation_step`, or watch a name your code logs."
)
NO_GRADIENT = (
    "The loss has no gradient, so nothing can train: compute it from your model's outputs "
    "(`self(x)`) in `training_step` and return that tensor, with no `.item()`, `.detach()`, "
    "`torch.no_grad()` or `torch.tensor(...)` on the way."
)
LABEL_INDICES = (
    "`cross_entropy` takes the labels as class indices of dtype `torch.long`, not {got}: "
    "pass the batch's labels as the data loader gives them (no `.float()` on them)."
)
LABEL_PROBABILITIES = (
    "Your target has the shape of the outputs, so `cross_entropy` reads it as class probabilities, "
    "which must be floats: pass the class indices (`y`, shaped (N,)) instead of one-hot labels."
)
NO_PARAMETERS = (
    "The optimizer got no parameters: keep the layers as attributes of your module "
    "(`self.fc = nn.Linear(...)`; a list of layers in `nn.ModuleList`, not a Python list) and "
    "pass `self.parameters()` in `configure_optimizers`."
)


# `Trainer` arguments Lightning 2 removed, and what replaces them.
REMOVED_TRAINER_ARGUMENTS = {
    "gpus": '`accelerator="gpu", devices=N`',
    "tpu_cores": '`accelerator="tpu", devices=N`',
    "num_processes": '`accelerator="cpu", devices=N`',
    "auto_select_gpus": '`devices="auto"`',
    "progress_bar_refresh_rate": "`callbacks=[TQDMProgressBar(refresh_rate=N)]`",
    "resume_from_checkpoint": "`trainer.fit(model, ckpt_path=...)`",
    "checkpoint_callback": "`enable_checkpointing`",
    "weights_summary": "`enable_model_summary`",
    "stochastic_weight_avg": "`callbacks=[StochasticWeightAveraging(...)]`",
    "auto_lr_find": "`Tuner(trainer).lr_find(model)`",
    "auto_scale_batch_size": "`Tuner(trainer).scale_batch_size(model)`",
    "terminate_on_nan": "`detect_anomaly=True`",
    "replace_sampler_ddp": "`use_distributed_sampler`",
    "reload_dataloaders_every_epoch": "`reload_dataloaders_every_n_epochs=1`",
    "amp_backend": '`precision="16-mixed"`',
    "amp_level": '`precision="16-mixed"`',
    "track_grad_norm": "`lightning.pytorch.utilities.grad_norm` in `on_before_optimizer_step`",
}


def _removed_argument(match: re.Match[str], batch_size: int) -> str:
    name = match["name"]
    instead = REMOVED_TRAINER_ARGUMENTS.get(name)
    if instead:
        return f"Lightning 2 removed `Trainer({name}=...)`: use {instead} instead."
    return f"Lightning 2's `Trainer` takes no `{name}` argument: check its spelling, or what replaced it."


HINTS = (
    Hint(
        "shapes",
        re.compile(
            r"mat1 and mat2 shapes cannot be multiplied \((\d{1,12})x(\d{1,12}) and (\d{1,12})x(\d{1,12})\)"
        ),
        _shapes,
    ),
    Hint(
        "checkpoint-not-logged",
        re.compile(r"ModelCheckpoint\(monitor='(?P<name>[^'`]{1,80})'\)`? could not find the monitored key"),
        NOT_LOGGED,
    ),
    Hint(
        "early-stopping-not-logged",
        re.compile(r"Early stopping conditioned on metric `(?P<name>[^'`]{1,80})` which is not available"),
        NOT_LOGGED,
    ),
    Hint("no-gradient", re.compile(r"element 0 of tensors does not require grad"), NO_GRADIENT),
    # torch 2.14 words it the first way, earlier releases the second.
    Hint(
        "label-dtype",
        re.compile(r"expected target dtype to be Long or Byte, but got (?P<got>\w{1,20})"),
        LABEL_INDICES,
    ),
    Hint("label-dtype", re.compile(r"expected scalar type Long but found (?P<got>\w{1,20})"), LABEL_INDICES),
    Hint(
        "label-probabilities",
        re.compile(r"Expected floating point type for target with class probabilities"),
        LABEL_PROBABILITIES,
    ),
    Hint("no-parameters", re.compile(r"optimizer got an empty parameter list"), NO_PARAMETERS),
    Hint(
        "trainer-argument",
        re.compile(r"Trainer\.__init__\(\) got an unexpected keyword argument '(?P<name>\w{1,60})'"),
        _removed_argument,
    ),
)


def hint_for(problem: Problem, batch_size: int) -> str | None:
    """The table's hint for the error, or None when it is none of the course's common ones."""
    for hint in HINTS:
        match = hint.pattern.search(problem.message)
        if match and isinstance(hint.advice, str):
            return hint.advice.format(**match.groupdict())
        if match:
            return hint.advice(match, batch_size)
    return None
