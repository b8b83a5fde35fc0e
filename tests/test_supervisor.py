"""The runner's supervisor and the workers' channel, without a sandbox: what each accepts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

from grader import tree
from grader.contract import Prediction, RunReport, StepProbe, WorkerMessage
from grader.runner import channel as channel_module
from grader.runner.__main__ import Signer, Watch
from grader.runner.channel import Channel
from grader.sandbox.supervise import MemoryWatch


def line(**fields: object) -> bytes:
    return WorkerMessage(**fields).model_dump_json().encode()


def test_a_result_cannot_change_after_its_stage_was_reported() -> None:
    watch = Watch(RunReport(stage="constructed"), {"report", "suspicion", "end"}, "training worker", [])
    failed = RunReport(stage="probed", training_step=StepProbe(defined=True, ok=False))
    assert watch.take(line(kind="report", report=failed))
    forged = failed.model_copy(deep=True)
    forged.stage, forged.training_step.ok = "fitted", True
    watch.take(line(kind="report", report=forged))
    assert watch.report.training_step.ok is False  # the first word stands
    assert watch.suspicions == [
        "the report's `training_step` changed after the training worker had reported it"
    ]


def test_the_channel_takes_only_the_grader_s_messages_in_order() -> None:
    watch = Watch(RunReport(stage="constructed"), {"report", "suspicion", "end"}, "training worker", [])
    watch.take(b'{"kind": "report", "report": {"stage": "done", "extra": 1}}')
    watch.take(line(kind="prediction"))
    watch.take(line(kind="report", report=RunReport(stage="probed")))
    watch.take(line(kind="report", report=RunReport(stage="constructed")))
    watch.take(line(kind="report", report=RunReport(stage="probed", tampering=["none here"])))
    watch.take(line(kind="end"))
    watch.take(line(kind="report", report=RunReport(stage="done")))
    assert watch.report.stage == "probed" and watch.report.tampering == []
    assert watch.suspicions == [
        "the training worker's channel carried a message the grader never sends",
        "the training worker sent a `prediction` message, which it never does",
        "the report went back from stage `probed` to `constructed`",
        "the training worker sent messages after its last one",
    ]


def test_a_report_file_written_by_anyone_else_is_noticed(tmp_path: Path) -> None:
    signer = Signer(tmp_path / "report.json", "key")
    assert signer.tampered() is False  # nothing written, nothing there
    signer.write(RunReport())
    assert signer.tampered() is False
    (tmp_path / "report.json").write_text('{"payload": "{}", "signature": "0"}')
    assert signer.tampered() is True


def test_the_channel_refuses_callers_outside_the_grader(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    channel = Channel(write_end)
    student = tmp_path / "student.py"
    student.write_text("def forge(channel, report):\n    channel.reached(report, 'done')\n")
    namespace: dict = {}
    exec(compile(student.read_text(), str(student), "exec"), namespace)
    namespace["forge"](channel, RunReport())
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        messages = [WorkerMessage.model_validate_json(raw) for raw in pipe.read().splitlines()]
    assert [m.kind for m in messages] == ["suspicion"]
    assert "student.py" in messages[0].suspicion


def test_the_supervisor_holds_each_worker_to_the_protocol() -> None:
    """Stages one after the other, none past the worker's last, one answer; the fit's time is the
    supervisor's clock; and the training worker must find what the probing worker found."""
    suspicions: list[str] = []
    probing = Watch(RunReport(), {"report", "suspicion", "end"}, "probing worker", suspicions, "probed")
    for stage in ("imported", "found", "constructed", "probed"):
        probing.take(line(kind="report", report=RunReport(stage=stage)))
    probing.take(line(kind="report", report=RunReport(stage="fitted")))
    assert suspicions == ["the probing worker reported stage `fitted`, which it never reaches"]
    suspicions.clear()
    training = Watch(RunReport(), {"report", "suspicion", "end"}, "training worker", suspicions)
    training.reference = probing.report.model_copy(update={"stage": "probed"})
    training.take(line(kind="report", report=RunReport(stage="imported")))
    training.take(line(kind="report", report=RunReport(stage="constructed")))
    passed = StepProbe(defined=True, ok=True, loss_is_scalar=True, loss_requires_grad=True)
    training.take(line(kind="report", report=RunReport(stage="probed", training_step=passed)))
    slow = RunReport(stage="fitted", training_step=passed)
    slow.fit.seconds = 60.0
    training.take(line(kind="report", report=slow))
    assert suspicions == [
        "the report jumped from stage `imported` to `constructed`",
        "the training worker reported `training_step` otherwise than a fresh process before it found it",
        "the fit is reported to have taken 60.0 s, but only 0.0 s passed between its reports",
    ]
    assert set(training.report.timings) == {"imported", "constructed", "probed", "fitted"}
    predicting = Watch(training.report, {"prediction", "suspicion", "end"}, "predicting worker", suspicions)
    predicting.take(line(kind="prediction", prediction=Prediction()))
    predicting.take(line(kind="prediction", prediction=Prediction()))
    assert suspicions[-1] == "the predicting worker answered twice, which it never does"


def _sent(channel_fd: int, read_fd: int) -> list[WorkerMessage]:
    os.close(channel_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        return [WorkerMessage.model_validate_json(raw) for raw in pipe.read().splitlines()]


def test_the_channel_knows_the_grader_by_its_code_objects_not_its_file_names() -> None:
    """Code compiled under a file name of the grader's runner is still not the grader's code."""
    read_end, write_end = os.pipe()
    channel = Channel(write_end)
    disguise = str(Path(channel_module.__file__).with_name("fitting.py"))
    spoofed = compile("channel.end()", disguise, "exec")
    forger = threading.Thread(target=exec, args=(spoofed, {"channel": channel}))
    forger.start()
    forger.join()
    messages = _sent(write_end, read_end)
    assert [m.kind for m in messages] == ["suspicion"]
    assert "code that is not the grader's (fitting.py:1)" in messages[0].suspicion


def with_tripwire(script: Path, body: str) -> str:
    """What a tripwire armed in a fresh interpreter finds in `body` (`channel`: its pipe's end)."""
    preamble = f"""
        import gc, os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        import lightning.pytorch as pl
        from grader.runner import frameworks, tripwire
        found = []
        real = frameworks.import_trusted()
        read_end, channel = os.pipe()
        wire = tripwire.install(found.append, frameworks.classes(real), set(), channel)
        """
    script.write_text(textwrap.dedent(preamble) + textwrap.dedent(body) + "print(found + wire.replaced())\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_tripwire_reports_code_made_under_the_graders_names_and_the_workers_pipe(tmp_path: Path) -> None:
    findings = with_tripwire(
        tmp_path / "student.py",
        """
        import torchvision.models.resnet  # the import system loading a library file: fine
        compile("x = 1", "own_helper.py", "exec")  # its own file name: fine
        compile("x = 1", tripwire.__file__, "exec")  # the grader's: not fine
        os.listdir("/proc/self/fd")
        os.fdopen(channel, "wb")
        """,
    )
    assert findings.count("code was made under the file name of the grader") == 1, findings
    assert "(`compile`) at student.py:13" in findings
    assert "own file descriptors were opened or listed (`os.listdir`) at student.py:14" in findings
    assert "(`open`) at student.py:15" in findings


def test_walks_and_removal_survive_folders_deeper_than_path_max(tmp_path: Path) -> None:
    top = tmp_path / "deep"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("deep", dir_fd=fd)
    current = os.open("deep", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    for _ in range(1500):  # 1,500 folders of 101 characters: far past PATH_MAX (4096)
        os.mkdir("d" * 100, dir_fd=current)
        child = os.open("d" * 100, os.O_RDONLY, dir_fd=current)
        os.close(current)
        current = child
    with open(os.open("hidden.bin", os.O_WRONLY | os.O_CREAT, dir_fd=current), "wb") as file:
        file.write(b"x" * 1000)
    os.close(current)
    with pytest.raises(tree.TooDeep):
        list(tree.files(top))
    (tmp_path / "shallow").mkdir()
    (tmp_path / "shallow" / "a.txt").write_text("abc")
    assert [(f.parts, f.size) for f in tree.files(tmp_path / "shallow")] == [(("a.txt",), 3)]
    tree.remove(top)
    assert not top.exists()


def test_the_tripwire_charges_the_submission_not_the_libraries(tmp_path: Path) -> None:
    findings = with_tripwire(
        tmp_path / "probe.py",
        """
        pl.LightningModule.__init__  # reading is fine
        import inspect
        inspect.currentframe()  # its own frame: fine
        gc.collect()  # fine
        gc.get_objects()  # not fine
        pl.Trainer.fit = lambda *a, **k: None
        """,
    )
    assert "`gc.get_objects` called at probe.py" in findings
    assert "`Trainer.fit` of lightning was replaced" in findings
    assert "inspect" not in findings and "__init__" not in findings


def test_the_memory_watch_counts_pages_a_fork_shares_once() -> None:
    """Workers are forks of the zygote: a page they share is one page, not one per process."""
    script = textwrap.dedent(
        """
        import os, sys, time
        block = bytearray(200 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        child = os.fork()
        if child == 0:
            time.sleep(60)
            os._exit(0)
        print(child, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        summed = sum(psutil.Process(pid).memory_info().rss for pid in (parent.pid, child)) / 2**20
        assert summed > 400  # what summing resident sizes would say
        watch = MemoryWatch(lambda: [parent.pid, child])
        assert not watch.over(300)
        assert 200 <= watch.peak_mb < 300
        assert watch.over(150)
    finally:
        for pid in (child, parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.wait()
