"""The `docker` backend against a real engine and the real grading image: no mocks.

`.ci/docker-setup.sh` makes both. Without them these tests skip, except in CI, where they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import textwrap
from pathlib import Path

import pytest

from grader.host.execute import read_report, runner_stdin
from grader.sandbox.base import SandboxLimits, SandboxOutcome, SandboxRequest
from grader.sandbox.docker import LABEL, RUNNER_LABEL, DockerSandbox, SandboxUnavailable

pytestmark = pytest.mark.docker

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "m14"
# Student code runs only after the runner has imported torch (a few seconds).
HOSTILE = SandboxLimits(wall_seconds=60, memory_mb=2000, threads=1, output_bytes=65536)


@pytest.fixture(scope="module")
def sandbox() -> DockerSandbox:
    sandbox = DockerSandbox()
    try:
        sandbox.check()
    except SandboxUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))
    return sandbox


@pytest.fixture(scope="module")
def inputs(short_fit_inputs: Path) -> Path:
    return short_fit_inputs


def our_containers(sandbox: DockerSandbox) -> list:
    return sandbox.client().containers.list(all=True, filters={"label": LABEL})


def run(
    sandbox: DockerSandbox,
    inputs: Path,
    submission: Path,
    output: Path,
    limits: SandboxLimits = HOSTILE,
    nonce: str = "nonce-7",
) -> SandboxOutcome:
    output.mkdir()
    request = SandboxRequest(submission, inputs, output, runner_stdin(nonce, inputs), limits)
    before = {c.id for c in our_containers(sandbox)}  # others' runs may be going on
    outcome = sandbox.run(request)
    assert outcome.backend == "docker"
    assert {c.id for c in our_containers(sandbox)} <= before, "the container outlived its run"
    return outcome


def hostile(tmp_path: Path, code: str) -> Path:
    """A submission whose LightningModule runs `code` when the runner builds it."""
    folder = tmp_path / "submission"
    folder.mkdir()
    source = (
        "import lightning.pytorch as pl\n\n\n"
        "class Model(pl.LightningModule):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
    ) + textwrap.indent(textwrap.dedent(code), " " * 8)
    (folder / "model.py").write_text(source)
    return folder


def test_reference_run_returns_report_with_nonce(sandbox, inputs, tmp_path):
    nonce = secrets.token_hex(16)
    output = tmp_path / "out"
    limits = SandboxLimits(wall_seconds=240, memory_mb=3000, threads=2, output_bytes=65536)
    outcome = run(sandbox, inputs, REFERENCE, output, limits, nonce)
    assert outcome.exit_code == 0, outcome.stderr
    assert not outcome.timed_out and not outcome.out_of_memory
    assert outcome.peak_memory_mb and 100 < outcome.peak_memory_mb < 3000
    report = read_report(output, nonce)
    assert report is not None, "the report must carry the HMAC of the nonce"
    assert report.stage == "done"
    assert report.discovery.class_name == "MyAwesomeModel"
    assert report.fit.completed
    assert report.predictions and len(report.predictions) > 0


def test_container_is_isolated(sandbox, inputs, tmp_path):
    nonce = secrets.token_hex(16)
    submission = hostile(
        tmp_path,
        """
        import json, os, socket
        from pathlib import Path

        def attempt(action):
            try:
                action()
                return "done"
            except OSError as error:
                return type(error).__name__

        def connect():
            socket.create_connection(("pypi.org", 443), timeout=5).close()

        status = dict(
            line.partition(":")[::2] for line in Path("/proc/self/status").read_text().splitlines()
        )
        facts = {
            "uid": os.getuid(),
            "interfaces": sorted(os.listdir("/sys/class/net")),
            "connect": attempt(connect),
            "environment": sorted(os.environ),
            "nonce_in_environment": any("NONCE" in v for v in os.environ.values()),
            "cap_eff": status["CapEff"].strip(),
            "no_new_privs": status["NoNewPrivs"].strip(),
            "write_root": attempt(lambda: Path("/opt/venv/x").write_text("x")),
            "write_submission": attempt(lambda: Path("/submission/x").write_text("x")),
            "write_input": attempt(lambda: Path("/input/x").write_text("x")),
            "write_scratch": attempt(lambda: Path("/tmp/x").write_text("x")),
        }
        print("FACTS " + json.dumps(facts))
        raise SystemExit("probed")
        """.replace("NONCE", nonce),
    )
    output = tmp_path / "out"
    outcome = run(sandbox, inputs, submission, output, nonce=nonce)
    assert outcome.exit_code == 0, outcome.stderr
    line = next(line for line in outcome.stdout.splitlines() if line.startswith("FACTS "))
    facts = json.loads(line.removeprefix("FACTS "))
    assert facts["uid"] != 0
    assert facts["interfaces"] == ["lo"]
    assert facts["connect"] != "done"
    assert not facts["nonce_in_environment"]
    # Only the allow-list and the image's own; none of the grader's (conftest sets GRADER_*).
    assert os.environ.get("GRADER_CACHE_DIR")
    assert not [name for name in facts["environment"] if name.startswith("GRADER")]
    assert facts["cap_eff"] == "0000000000000000"
    assert facts["no_new_privs"] == "1"
    assert facts["write_root"] == facts["write_submission"] == facts["write_input"] == "OSError"
    assert facts["write_scratch"] == "done"
    assert not (tmp_path / "submission" / "x").exists()
    report = read_report(output, nonce)
    assert report is not None, "the report must carry the HMAC of the nonce"
    assert report.construct_problem is not None


def test_memory_limit_is_out_of_memory(sandbox, inputs, tmp_path):
    submission = hostile(
        tmp_path,
        """
        hoard = []
        while True:
            hoard.append(b"x" * 2**26)
        """,
    )
    limits = SandboxLimits(wall_seconds=60, memory_mb=700, threads=1, output_bytes=65536)
    outcome = run(sandbox, inputs, submission, tmp_path / "out", limits)
    assert outcome.out_of_memory
    assert not outcome.timed_out
    assert outcome.exit_code == 137


def test_output_is_capped(sandbox, inputs, tmp_path):
    submission = hostile(
        tmp_path,
        """
        import sys
        for _ in range(200):
            sys.stderr.write("noise " * 2000 + "\\n")
        raise SystemExit("loud")
        """,
    )
    limits = SandboxLimits(wall_seconds=60, memory_mb=2000, threads=1, output_bytes=4096)
    outcome = run(sandbox, inputs, submission, tmp_path / "out", limits)
    assert len(outcome.stderr.encode()) < 4096 + 100
    assert "bytes cut" in outcome.stderr


def test_missing_image_says_how_to_fix(sandbox):
    with pytest.raises(SandboxUnavailable, match=r"docker-setup\.sh"):
        DockerSandbox("lightning-grader:no-such-tag").check()


def test_image_with_another_runner_is_refused(sandbox):
    client = sandbox.client()
    container = client.containers.create(sandbox.image, labels={LABEL: "1"})
    try:
        container.commit("lightning-grader", "stale-test", changes=f"LABEL {RUNNER_LABEL}=0000")
    finally:
        container.remove(force=True)
    try:
        with pytest.raises(SandboxUnavailable, match=r"another version of the runner"):
            DockerSandbox("lightning-grader:stale-test").check()
    finally:
        client.images.remove("lightning-grader:stale-test")


def test_unreachable_engine_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(SandboxUnavailable, match=r"does not answer.*docker-setup\.sh"):
        DockerSandbox().check()


def test_the_action_uses_the_image_published_for_its_tag(sandbox, tmp_path):
    """The action's image step, for the tag `v9.9` of `My-Org/Grader`: the image the
    publishing workflow pushed for that tag, here already on the machine (no registry)."""
    published = "ghcr.io/my-org/grader:v9.9"
    client = sandbox.client()
    client.images.get(sandbox.image).tag(published)
    try:
        env = {
            **os.environ,
            "GRADER_IMAGE": "",
            "GITHUB_ACTION_PATH": str(tmp_path / "_actions" / "My-Org" / "Grader" / "v9.9"),
            "GITHUB_OUTPUT": str(tmp_path / "output"),
        }
        script = Path(__file__).resolve().parent.parent / ".github" / "action" / "grading-image.sh"
        completed = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
        assert completed.returncode == 0, completed.stderr
        assert f"Using {published} from the runner." in completed.stdout
        assert (tmp_path / "output").read_text() == f"image={published}\n"
    finally:
        client.images.remove(published, noprune=True)
