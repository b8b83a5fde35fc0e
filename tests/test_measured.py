"""The grader's own measurements of a trained model, from the outputs the predicting worker sends."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from grader.contract import Measurement, Outputs
from grader.host.judge.measured import convention, cross_entropy, decoded, measure
from grader.host.results import Measured

RNG = np.random.default_rng(14)
LABELS = RNG.integers(0, 10, size=200)


def outputs(rows: np.ndarray) -> Outputs:
    data = base64.b64encode(rows.astype("<f4").tobytes()).decode()
    return Outputs(rows=rows.shape[0], columns=rows.shape[1], data=data)


def confident(labels: np.ndarray, margin: float) -> np.ndarray:
    """Logits that put `margin` more on the true class than on any other."""
    logits = RNG.normal(0, 0.1, size=(len(labels), 10))
    logits[np.arange(len(labels)), labels] += margin
    return logits


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def test_the_outputs_are_read_as_the_model_gives_them() -> None:
    logits = confident(LABELS, 3.0)
    assert convention(logits) == "logits"
    assert convention(log_softmax(logits)) == "log-probabilities"
    assert convention(np.exp(log_softmax(logits))) == "probabilities"
    # One loss, whichever way the model writes its answer.
    losses = {
        cross_entropy(rows, LABELS, convention(rows))
        for rows in (logits, log_softmax(logits), np.exp(log_softmax(logits)))
    }
    assert max(losses) - min(losses) < 1e-9


def test_outputs_that_cannot_give_a_loss_give_none() -> None:
    assert cross_entropy(confident(LABELS, 3.0)[:, :5], LABELS, "logits") is None  # five classes
    assert cross_entropy(np.full((len(LABELS), 10), np.nan), LABELS, "logits") is None
    broken = Outputs(rows=3, columns=10, data=base64.b64encode(b"short").decode())
    assert decoded(broken) is None  # a forged message whose size does not match


def test_a_model_that_learned_shows_a_falling_loss_and_untrained_chance() -> None:
    measurement = Measurement(
        loaded=True,
        trained=outputs(confident(LABELS, 4.0)),
        initial=outputs(RNG.normal(0, 0.1, size=(len(LABELS), 10))),
        untrained={"a fresh model built under another seed": list(RNG.integers(0, 10, size=len(LABELS)))},
        validated=outputs(confident(LABELS, 4.0)),
        validated_from="checkpoint",
    )
    measured = measure(measurement, LABELS, LABELS)
    assert measured.loss_fell is True
    assert measured.initial_loss == pytest.approx(np.log(10), abs=0.1)
    assert measured.accurate_untrained is None
    assert measured.agrees_with(measured.validated_losses["logits"]) is True


def test_a_model_accurate_before_training_is_found_out() -> None:
    answers = confident(LABELS, 4.0)  # the same answers with or without the fit
    measurement = Measurement(trained=outputs(answers), initial=outputs(answers))
    measured = measure(measurement, LABELS, LABELS)
    assert measured.loss_fell is False
    assert measured.accurate_untrained == ("the model as built, before the fit", 1.0)


@pytest.mark.parametrize(
    ("logged", "agrees"),
    [(2.30, True), (2.0, True), (2.9, True), (0.29, False), (5.0, False)],
)
def test_a_monitored_value_must_be_the_measured_loss(logged: float, agrees: bool) -> None:
    measured = Measured(validated_losses={"logits": 2.30})
    assert measured.agrees_with(logged) is agrees
    assert Measured().agrees_with(logged) is None  # nothing measured to compare with
