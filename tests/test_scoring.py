"""Scoring from evidence, and the host's refusal of result files it cannot trust."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.contract import (
    REPORT_FILE,
    CheckpointRecord,
    FitRecord,
    Problem,
    RunReport,
    SignedReport,
    StepProbe,
    signature,
)
from grader.host.execute import Execution, read_report
from grader.host.execute.checkpoint import CheckpointFacts, FitTrace
from grader.host.judge.integrity import suspicions
from grader.host.judge.scoring import Evidence, assess
from grader.host.judge.static_checks import SourceFacts
from grader.host.judge.verdict import status_of, status_reason, stop_reason
from grader.host.results import Measured
from grader.rubric import Rubric, load_rubric
from grader.sandbox import SandboxOutcome


def score(rubric, evidence: Evidence) -> list:
    """The criteria's results alone (`assess` also gives the causes)."""
    return assess(rubric, evidence)[0]


def evidence(
    report: RunReport | None,
    accuracy: float | None = None,
    stop: str | None = None,
    rubric: Rubric | None = None,
    measured: Measured | None = None,
) -> Evidence:
    return Evidence(report, stop, SourceFacts(), None, accuracy, 0.9, rubric or load_rubric("m14"), measured)


def points(results, criterion: str) -> float:
    return next(r.points for r in results if r.id == criterion)


@pytest.mark.parametrize(("accuracy", "expected"), [(0.9, 10), (0.81, 10), (0.63, 5), (0.45, 0), (0.1, 0)])
def test_accuracy_gets_partial_credit_between_thresholds(accuracy: float, expected: float) -> None:
    report = RunReport(stage="done", fit=FitRecord(completed=True, seconds=1.0))
    results = score(load_rubric("m14"), evidence(report, accuracy))
    assert points(results, "accuracy-vs-reference") == pytest.approx(expected)


def test_loss_must_fall_in_the_graders_measurement_not_in_the_logged_one() -> None:
    rubric = load_rubric("m14")
    logged_falling = FitRecord(completed=True, seconds=1.0, train_losses=[2.3] * 5 + [0.4] * 5)
    report = RunReport(stage="done", fit=logged_falling)
    learned = Measured(initial_loss=2.31, final_loss=0.35)
    frozen = Measured(initial_loss=2.31, final_loss=2.31)

    def loss_points(measured: Measured | None) -> tuple[float, str]:
        result = next(
            r for r in score(rubric, evidence(report, measured=measured)) if r.id == "loss-decreases"
        )
        return result.points, result.message

    assert loss_points(learned)[0] == 10
    earned, said = loss_points(frozen)
    assert earned == 0
    assert "did not fall: 2.310 as built, 2.310 after the fit" in said
    assert "although the loss `training_step` returned fell (2.300 → 0.400)" in said
    assert loss_points(None)[0] == 0  # nothing measured, nothing paid


def test_detached_loss_gets_half_credit_with_a_reason() -> None:
    probe = StepProbe(defined=True, ok=True, returned="tensor", loss_is_scalar=True, loss_requires_grad=False)
    report = RunReport(stage="probed", training_step=probe)
    result = next(r for r in score(load_rubric("m14"), evidence(report)) if r.id == "training-step")
    assert result.points == 7.5
    assert ".item()" in result.message


def test_unreached_stages_are_not_judged_and_say_why() -> None:
    report = RunReport(stage="probed")
    results = score(load_rubric("m14"), evidence(report, stop="grading stopped at the time limit"))
    fit = next(r for r in results if r.id == "fit-completes")
    assert fit.points == 0
    assert fit.message == "Not judged: grading stopped at the time limit."


def write_report(folder: Path, text: str) -> None:
    (folder / REPORT_FILE).write_text(text)


def signed(report: RunReport, key: str) -> str:
    payload = report.model_dump_json()
    return SignedReport(payload=payload, signature=signature(payload, key)).model_dump_json()


def test_report_signed_with_the_nonce_is_read(tmp_path: Path) -> None:
    write_report(tmp_path, signed(RunReport(stage="done"), "secret"))
    assert read_report(tmp_path, "secret").stage == "done"


@pytest.mark.parametrize(
    "forge",
    [
        lambda d: write_report(d, signed(RunReport(stage="done"), "guess")),
        lambda d: write_report(d, signed(RunReport(stage="done"), "secret").replace("done", "fitted")),
        lambda d: write_report(d, RunReport(stage="done").model_dump_json()),
        lambda d: write_report(d, "not json"),
        lambda d: write_report(d, " " * 3_000_000),
        lambda d: (
            (d / "elsewhere.json").write_text(signed(RunReport(), "secret"))
            or os.symlink(d / "elsewhere.json", d / REPORT_FILE)
        ),
    ],
    ids=["wrong-key", "edited-payload", "unsigned", "not-json", "oversized", "symlink"],
)
def test_untrusted_report_is_refused(tmp_path: Path, forge) -> None:
    forge(tmp_path)
    assert read_report(tmp_path, "secret") is None


def test_rubric_decides_what_an_adapted_input_shape_costs() -> None:
    probe = StepProbe(defined=True, ok=True, returned="tensor", loss_is_scalar=True, loss_requires_grad=True)
    report = RunReport(stage="probed", training_step=probe, input_layout="N,784")
    rubric = load_rubric("m14")
    assert points(score(rubric, evidence(report)), "training-step") == 15
    strict = rubric.model_copy(
        update={"model": rubric.model.model_copy(update={"adapted_layout_credit": 0.6})}
    )
    result = next(r for r in score(strict, evidence(report, rubric=strict)) if r.id == "training-step")
    assert result.points == 9
    assert "60%" in result.message


def test_a_hook_that_raised_names_the_error_and_where_to_fix_it() -> None:
    problem = Problem(kind="KeyError", message="KeyError: 'img'", location="model.py:12")
    report = RunReport(
        stage="done",
        training_step=StepProbe(defined=True, problem=problem),
        fit=FitRecord(completed=False, problem=problem),
    )
    results = {r.id: r for r in score(load_rubric("m14"), evidence(report))}
    for criterion in ("training-step", "fit-completes"):
        assert results[criterion].points == 0
        assert "KeyError: 'img'` at model.py:12" in results[criterion].message
        assert results[criterion].hint.startswith("Fix the `KeyError` at model.py:12")


def test_a_report_is_believed_only_when_it_agrees_with_lightnings_checkpoint() -> None:
    def judged(report: RunReport, trace: FitTrace | None = None, exit_code: int = 0) -> list[str]:
        outcome = SandboxOutcome(backend="none", exit_code=exit_code, wall_seconds=1.0)
        facts = CheckpointFacts(True, True, "fits", trace) if trace else None
        return suspicions(Execution(outcome, report, facts), "val_loss")

    def completed(best: str | None = "checkpoints/best.ckpt") -> RunReport:
        checkpoint = CheckpointRecord(best_model_path=best, best_model_score=0.2 if best else None)
        fit = FitRecord(
            completed=True, epochs_run=3, global_step=141, logged_metrics=["val_loss"], checkpoint=checkpoint
        )
        return RunReport(stage="done", fit=fit)

    honest = FitTrace(
        epoch=2, global_step=141, best_model_score=0.2, optimizer_steps=frozenset({141}), has_loops=True
    )
    assert judged(completed(), honest) == []
    assert (
        "lacks Lightning's record" in judged(completed(), FitTrace(None, None, None, frozenset(), False))[0]
    )
    later = FitTrace(
        epoch=2, global_step=500, best_model_score=0.2, optimizer_steps=frozenset({500}), has_loops=True
    )
    assert "after the reported end" in judged(completed(), later)[0]
    other_score = FitTrace(
        epoch=2, global_step=141, best_model_score=0.9, optimizer_steps=frozenset(), has_loops=True
    )
    assert "best score differs" in judged(completed(), other_score)[0]
    assert "left no checkpoint" in judged(completed(best=None))[0]
    # What the runner's supervisor saw of the workers counts as it is.
    seen = ["the training worker exited cleanly without finishing, which the grader never does"]
    assert judged(RunReport(stage="probed", tampering=seen)) == seen
    assert judged(RunReport(stage="probed"), exit_code=-9) == []  # killed: not a forgery
    refused = Execution(SandboxOutcome(backend="none", exit_code=0, wall_seconds=1.0), None, None, True)
    assert suspicions(refused, "val_loss") == ["the report file is not the one the grader wrote"]


def test_a_checkpoint_that_would_inflate_past_the_cap_is_never_opened(tmp_path: Path, monkeypatch) -> None:
    import zipfile

    from grader.host.execute import checkpoint

    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 2**20)
    bomb = tmp_path / "checkpoints" / "best.ckpt"
    bomb.parent.mkdir()
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("archive/data/0", "w") as member,
    ):
        for _ in range(16):
            member.write(bytes(2**20))  # 16 MB of zeros, a few KB on disk
    assert bomb.stat().st_size < 2**20
    facts = checkpoint.inspect_checkpoint(tmp_path, "checkpoints/best.ckpt", {"w": [1]})
    assert (facts.found, facts.fits_model) == (False, False)  # costs `checkpoint-saved`, all of it
    assert facts.message == "checkpoint too large (16 MB uncompressed)"


def test_a_run_stopped_over_a_limit_as_it_finished_says_which_limit() -> None:
    # The disk watch of the `user` backend polls: it may catch a run over `disk_mb` just
    # after the run's last report.
    rubric = load_rubric("m14")
    report = RunReport(stage="done", fit=FitRecord(completed=True, seconds=1.0))
    outcome = SandboxOutcome(backend="user", exit_code=-9, wall_seconds=1.0, output_exceeded=True)
    stop = stop_reason(outcome, report, rubric.limits.wall_seconds, rubric.limits)
    assert status_of(outcome, report) == "crashed"
    assert stop is not None and f"more than {rubric.limits.disk_mb} MB" in stop
    assert status_reason(stop, report) == stop
    finished = SandboxOutcome(backend="user", exit_code=0, wall_seconds=1.0)
    assert stop_reason(finished, report, rubric.limits.wall_seconds, rubric.limits) is None
