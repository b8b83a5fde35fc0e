"""What the grader measures of the trained model itself, instead of believing the training run.

The training worker's losses are whatever the student's code logs or returns: a made-up falling
number costs nothing to print. The predicting worker, a fresh process that never ran the fit,
sends the model's raw outputs instead (`Measurement`), and the host computes from them, with
labels that never enter the sandbox:
- the loss on the held-out digits at the weights the fit started from and at the trained ones,
  under the model's own output convention (logits, log-probabilities or probabilities);
- whether models of the class that never trained were already accurate: then the accuracy was
  not learned in the grader's fit;
- the loss of the best checkpoint on the digits the fit validated on, which the monitored value
  the checkpoint and early stopping saw must agree with.
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np

from grader.contract import Measurement, Outputs
from grader.host.results import Measured

CONVENTION_TOLERANCE = 1e-3


def decoded(outputs: Outputs | None) -> np.ndarray | None:
    """The outputs as a rows x columns array; None when they are malformed (a forged message)."""
    if outputs is None:
        return None
    try:
        raw = base64.b64decode(outputs.data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != outputs.rows * outputs.columns * 4:
        return None
    return np.frombuffer(raw, dtype="<f4").reshape(outputs.rows, outputs.columns).astype(np.float64)


def convention(rows: np.ndarray) -> str:
    """How the model's outputs read: probabilities, log-probabilities, or logits."""
    finite = rows[np.isfinite(rows).all(axis=1)]
    if len(finite) == 0:
        return "logits"
    if (finite >= -CONVENTION_TOLERANCE).all() and np.allclose(
        finite.sum(axis=1), 1, atol=CONVENTION_TOLERANCE
    ):
        return "probabilities"
    if (finite <= CONVENTION_TOLERANCE).all() and np.allclose(
        np.logaddexp.reduce(finite, axis=1), 0, atol=CONVENTION_TOLERANCE
    ):
        return "log-probabilities"
    return "logits"


def _log_probabilities(rows: np.ndarray, as_: str) -> np.ndarray:
    if as_ == "probabilities":
        return np.log(np.clip(rows, 1e-12, None))
    if as_ == "log-probabilities":
        return rows
    return rows - np.logaddexp.reduce(rows, axis=1, keepdims=True)


def cross_entropy(rows: np.ndarray, labels: np.ndarray, as_: str) -> float | None:
    """The mean negative log-likelihood of the labels; None where the outputs cannot give one."""
    if len(rows) != len(labels) or len(rows) == 0 or rows.shape[1] <= int(labels.max()):
        return None
    with np.errstate(all="ignore"):
        value = float(-_log_probabilities(rows, as_)[np.arange(len(labels)), labels].mean())
    return value if math.isfinite(value) else None


def measure(
    measurement: Measurement | None, test_labels: np.ndarray, validated_labels: np.ndarray
) -> Measured | None:
    """The host's measurements from the predicting worker's outputs; None when there were none."""
    if measurement is None:
        return None
    trained, initial = decoded(measurement.trained), decoded(measurement.initial)
    problems = list(measurement.problems)
    reading = convention(trained) if trained is not None else None
    losses = {}
    for name, rows in (("final", trained), ("initial", initial)):
        losses[name] = cross_entropy(rows, test_labels, reading) if rows is not None and reading else None
    untrained = {
        what: float(np.mean(np.asarray(predicted) == test_labels))
        for what, predicted in measurement.untrained.items()
        if len(predicted) == len(test_labels)
    }
    if initial is not None:
        untrained["the model as built, before the fit"] = float(
            np.mean(initial.argmax(axis=1) == test_labels)
        )
    if measurement.weights_changed is False and trained is not None and len(trained) == len(test_labels):
        # The fit changed no weight: whatever the trained model answers, it answered untrained.
        untrained["your model after a fit that changed none of its weights"] = float(
            np.mean(trained.argmax(axis=1) == test_labels)
        )
    validated = decoded(measurement.validated)
    readings = {}
    if validated is not None:
        labels = validated_labels[: len(validated)]
        if measurement.weights_changed is False and len(validated) and validated.ndim == 2:
            # Nor did the checkpoint learn: a model that answers well only when it is the first
            # one given weights is caught whichever model that is.
            untrained["your best checkpoint, from a fit that changed none of its weights"] = float(
                np.mean(validated.argmax(axis=1) == labels)
            )
        # The student's loss may read the outputs otherwise (cross-entropy on probabilities, say).
        for as_ in dict.fromkeys([convention(validated), "logits"]):
            value = cross_entropy(validated, labels, as_)
            if value is not None:
                readings[as_] = value
    return Measured(
        convention=reading,
        initial_loss=losses["initial"],
        final_loss=losses["final"],
        untrained_accuracy=untrained,
        validated_losses=readings,
        validated_from=measurement.validated_from,
        weights_changed=measurement.weights_changed,
        problems=problems,
    )
