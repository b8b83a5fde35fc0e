"""`grade --doctor` and `grade --install-apparmor-profile`.

Each refusal the doctor knows is diagnosed from what a machine that refuses shows: the kernel's
switches as files under a /proc/sys of the test's own (with the values such a kernel has) and
bubblewrap's exact words; the doctor's report is read as a user reads it, without colour. Then the
command itself, on this machine and as an unprivileged user without bubblewrap, and the profile
installed into a folder of the test's own.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from grader.confine.cgroups import writable_problem
from grader.host.apparmor import PROFILE_NAME, ProfileRefused, install_profile, profile_text
from grader.host.doctor import Machine, diagnose, print_backend, refusal, refusal_line
from grader.sandbox import SandboxUnavailable, open_sandbox, process
from grader.sandbox.process import ProcessSandbox
from tests.conftest import run_grade

NOBODY = 65534
BWRAP = "/usr/bin/bwrap"
# What bubblewrap says where the kernel refuses it a user namespace, as users report it.
UID_MAP = "bwrap: setting up uid map: Permission denied"
LOOPBACK = "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted"
NO_PERMISSION = (
    "bwrap: No permissions to create a new namespace, likely because the kernel does not allow "
    "non-privileged user namespaces. On e.g. debian this can be enabled with "
    "'sysctl kernel.unprivileged_userns_clone=1'."
)
NO_PERMISSION_OLD = NO_PERMISSION.replace("to create a new", "to creating new")
TOO_MANY = (
    "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)"
)
AS_ROOT_IN_A_CONTAINER = "bwrap: Creating new namespace failed: Operation not permitted"


def proc_sys(root: Path, **switches: str) -> Path:
    """A /proc/sys holding these switches (`kernel__apparmor_restrict_unprivileged_userns="1"`)."""
    for name, value in switches.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{value}\n")
    return root


def shown(name: str, refused: str | None, machine: Machine) -> str:
    """The doctor's lines for backend `name`, as a terminal without colour shows them, on one line."""
    out = io.StringIO()
    print_backend(diagnose(name, refused, machine), None, Console(file=out, width=100, color_system=None))
    return " ".join(out.getvalue().split())


def user(root: Path, version: tuple[int, ...] = (0, 9, 0), bwrap: str | None = BWRAP) -> Machine:
    return Machine(euid=1000, bwrap=bwrap, bwrap_version=version, proc_sys=root)


@pytest.mark.parametrize(
    ("said", "quoted"),
    [
        (UID_MAP, "setting up uid map: Permission denied"),
        (LOOPBACK, "loopback: Failed RTM_NEWADDR: Operation not permitted"),
        (
            NO_PERMISSION,
            "No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces",
        ),
    ],
)
def test_apparmor_restriction_gives_the_profile_and_the_sysctl_and_what_each_weakens(tmp_path, said, quoted):
    ubuntu = proc_sys(
        tmp_path, kernel__apparmor_restrict_unprivileged_userns="1", user__max_user_namespaces="63422"
    )
    text = shown("process", said, user(ubuntu))
    switch = tmp_path / "kernel" / "apparmor_restrict_unprivileged_userns"
    assert (
        f"AppArmor refuses user namespaces to unprivileged programs without a profile that allows them ({switch} is 1)"
        in text
    )
    assert f"and bubblewrap has none: it said “{quoted}”" in text
    # the minimal fix: a profile for bubblewrap's binary, and the command that installs it
    assert "--install-apparmor-profile" in text and "sudo " in text
    assert "/etc/apparmor.d/lightning-grader-bwrap:" in text
    assert " ".join(profile_text(BWRAP).split()) in text
    assert "profile lightning-grader-bwrap /usr/bin/bwrap flags=(unconfined) { userns," in text
    assert (
        "weakens: any program run as /usr/bin/bwrap may create user namespaces: bubblewrap as a whole is trusted"
        in text
    )
    # the machine-wide one, kept after a reboot, and what it opens
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in text
    assert (
        "echo 'kernel.apparmor_restrict_unprivileged_userns = 0' | sudo tee "
        "/etc/sysctl.d/99-lightning-grader-apparmor-userns.conf"
    ) in text
    assert (
        "weakens: every program of every user may create user namespaces again: the kernel attack surface Ubuntu closed"
        in text
    )
    assert (
        "Or grade in Docker (--sandbox docker, or auto" in text
        and "docker build -t lightning-grader:latest ." in text
    )


def test_apparmor_is_not_blamed_for_what_bubblewrap_says_is_something_else(tmp_path):
    ubuntu = proc_sys(tmp_path, kernel__apparmor_restrict_unprivileged_userns="1")
    text = shown("process", "bwrap: execvp true: No such file or directory", user(ubuntu))
    assert "AppArmor" not in text and "--install-apparmor-profile" not in text
    assert "bwrap: execvp true: No such file or directory" in text  # its own words are the lead
    assert "a reason this doctor does not know" in text


def test_no_user_namespaces_at_all(tmp_path):
    rhel7 = proc_sys(tmp_path, user__max_user_namespaces="0")
    text = shown("process", TOO_MANY, user(rhel7))
    assert (
        f"the kernel allows no user namespaces at all: {tmp_path / 'user' / 'max_user_namespaces'} is 0"
        in text
    )
    assert "sudo sysctl -w user.max_user_namespaces=10000" in text
    assert (
        "echo 'user.max_user_namespaces = 10000' | sudo tee /etc/sysctl.d/99-lightning-grader-max-userns.conf"
        in text
    )
    assert "weakens: every program of every user may create user namespaces again" in text
    assert "AppArmor" not in text


@pytest.mark.parametrize("said", [NO_PERMISSION, NO_PERMISSION_OLD])
def test_debians_own_switch(tmp_path, said):
    debian = proc_sys(tmp_path, kernel__unprivileged_userns_clone="0", user__max_user_namespaces="63422")
    text = shown("process", said, user(debian))
    assert "the kernel refuses user namespaces to unprivileged users:" in text
    assert f"{tmp_path / 'kernel' / 'unprivileged_userns_clone'} is 0" in text
    assert "sudo sysctl -w kernel.unprivileged_userns_clone=1" in text
    assert (
        "echo 'kernel.unprivileged_userns_clone = 1' | sudo tee /etc/sysctl.d/99-lightning-grader-userns-clone.conf"
        in text
    )


def test_both_switches_closed_are_both_named_each_with_its_own_file(tmp_path):
    closed = proc_sys(tmp_path, kernel__unprivileged_userns_clone="0", user__max_user_namespaces="0")
    text = shown("process", TOO_MANY, user(closed))
    assert "sudo sysctl -w user.max_user_namespaces=10000" in text
    assert "sudo sysctl -w kernel.unprivileged_userns_clone=1" in text


def test_a_refusal_no_switch_explains(tmp_path):
    opened = proc_sys(
        tmp_path, kernel__apparmor_restrict_unprivileged_userns="0", user__max_user_namespaces="63422"
    )
    text = shown("process", NO_PERMISSION, user(opened))
    assert (
        "the kernel gives bubblewrap no user namespace (it said “No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces”)"
        in text
    )
    assert f"no switch under {tmp_path} says so: a container's seccomp profile" in text
    assert "sudo sysctl" not in text


def test_as_root_the_switches_do_not_apply(tmp_path):
    closed = proc_sys(
        tmp_path, user__max_user_namespaces="0", kernel__apparmor_restrict_unprivileged_userns="1"
    )
    root = Machine(euid=0, bwrap=BWRAP, bwrap_version=(0, 8, 0), proc_sys=closed)
    text = shown("process", AS_ROOT_IN_A_CONTAINER, root)
    assert "bubblewrap cannot create its namespaces even as root" in text
    assert "--sandbox user" in text
    assert "sudo sysctl" not in text and "AppArmor" not in text


@pytest.mark.parametrize(
    ("version", "said", "named"),
    [
        ((0, 6, 1), "", "bubblewrap 0.6.1"),
        (None, "bwrap: Unknown option --disable-userns", "this bubblewrap"),
    ],
)
def test_bubblewrap_too_old(tmp_path, version, said, named):
    text = shown("process", said, user(tmp_path, version=version))
    assert f"{named} (/usr/bin/bwrap) is too old: the sandbox needs 0.8 or later" in text
    assert "sudo apt install --only-upgrade bubblewrap" in text


def test_bubblewrap_missing_from_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    process._problem.cache_clear()
    try:
        text = shown("process", refusal("process"), Machine.here())
        line = refusal_line("auto")
    finally:
        process._problem.cache_clear()  # the next test probes the real PATH again
    assert "cause: bubblewrap is not installed: no bwrap on PATH" in text
    assert "sudo apt install bubblewrap # Debian, Ubuntu" in text
    assert "sudo dnf install bubblewrap # Fedora, RHEL" in text
    assert (
        line == "process: bubblewrap is not installed: no bwrap on PATH; `grade --doctor` says how to fix it"
    )


def test_docker_engine_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    text = shown("docker", refusal("docker"), user(tmp_path))
    assert (
        f"no Docker engine runs here: nothing answers at unix://{tmp_path}/docker.sock (DOCKER_HOST names it)"
        in text
    )
    assert (
        "sudo systemctl enable --now docker" in text and "docker build -t lightning-grader:latest ." in text
    )


def test_docker_engine_stopped(tmp_path, monkeypatch):
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as left:  # bound, never listening: as after the engine stopped
        left.bind(str(path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    text = shown("docker", refusal("docker"), user(tmp_path))
    assert f"no Docker engine listens at unix://{path}" in text
    assert "sudo systemctl start docker" in text


def test_docker_socket_refuses_the_user(tmp_path):
    said = (
        "the docker engine does not answer (Error while fetching server API version: ('Connection aborted.', "
        "PermissionError(13, 'Permission denied'))); run .ci/docker-setup.sh"
    )
    text = shown("docker", said, user(tmp_path))
    assert "refuses this user (uid 1000)" in text and "sudo usermod -aG docker $USER" in text
    assert "weakens: the docker group is root on this machine" in text


def test_docker_image_missing_or_stale(tmp_path):
    missing = shown("docker", "the grading image lightning-grader:latest is missing; run ...", user(tmp_path))
    assert "the engine answers, but has no image lightning-grader:latest" in missing
    stale = "the grading image lightning-grader:latest holds another version of the runner than this checkout"
    assert "Build it again in this version's checkout" in shown("docker", stale, user(tmp_path))


def test_user_backend_without_root(tmp_path):
    said = "the user backend runs code as a throwaway user, which needs root; without root, use --sandbox process"
    text = shown("user", said, user(tmp_path))
    assert "which needs root: this is uid 1000" in text and "fix process or docker" in text


def install(tmp_path: Path, load: tuple[str, ...], euid: int = 0, bwrap: str | None = BWRAP) -> Path:
    return install_profile(bwrap, directory=tmp_path, load=load, euid=euid)


def test_install_writes_the_profile_and_hands_it_to_the_loader(tmp_path):
    # The loader copies what it is given, while it is given it: that is what the kernel gets.
    loaded = tmp_path / "loaded"
    path = install(tmp_path, ("sh", "-c", f'cp -- "$0" {loaded}'))
    assert path == tmp_path / PROFILE_NAME
    assert path.read_text() == loaded.read_text() == profile_text(BWRAP)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_profile_the_loader_refuses_leaves_the_folder_as_it_was(tmp_path):
    refusing = ("sh", "-c", 'echo "AppArmor parser error for $0 at line 7: syntax error" >&2; exit 1')
    with pytest.raises(
        ProfileRefused, match=r"refused the profile \(AppArmor parser error .* syntax error\)"
    ):
        install(tmp_path, refusing)
    assert not (tmp_path / PROFILE_NAME).exists()
    (tmp_path / PROFILE_NAME).write_text("# the site's own\n")
    with pytest.raises(ProfileRefused):
        install(tmp_path, refusing)
    assert (tmp_path / PROFILE_NAME).read_text() == "# the site's own\n"


@pytest.mark.parametrize(
    ("load", "euid", "bwrap", "message"),
    [
        (("no-such-apparmor-parser-here", "-r"), 0, BWRAP, "no-such-apparmor-parser-here is not installed"),
        (("sh", "-c", "true"), 1000, BWRAP, r"run it as root \(sudo\)"),
        (("sh", "-c", "true"), 0, None, "bubblewrap is not installed"),
        (("sh", "-c", "true"), 0, "/opt/my tools/bwrap", "is not a plain path"),
    ],
)
def test_install_refuses_in_one_line(tmp_path, load, euid, bwrap, message):
    with pytest.raises(ProfileRefused, match=message) as refused:
        install(tmp_path, load, euid, bwrap)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_the_profile_parses_with_apparmor_4():
    """AppArmor's own parser, without loading anything into the kernel (-Q -K)."""
    parser = shutil.which("apparmor_parser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if parser is None or not Path("/etc/apparmor.d/abi/4.0").exists():
        pytest.skip("needs AppArmor 4's parser (Ubuntu 24.04, Debian 13), the first to know `userns`")
    with tempfile.TemporaryDirectory() as folder:
        install(Path(folder), (parser, "-Q", "-K"))


@pytest.mark.slow
def test_doctor_on_this_machine():
    try:
        expected = open_sandbox("auto").name
    except SandboxUnavailable:
        expected = None
    ran = run_grade("--doctor")
    assert "Traceback" not in ran.stderr
    text = " ".join(ran.stdout.split())
    if refusal("process") is None:
        assert "process works" in text
    elif os.environ.get("CI"):
        pytest.fail(f"the process backend is refused in CI: {refusal('process')}")
    if expected:
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"auto picks: {expected}" in text
    else:
        assert ran.returncode == 1 and "auto picks: nothing" in text
    warm = ProcessSandbox().runs_warm()
    assert ("process runs warm: yes: one zygote per batch" in text) == warm
    if expected == "process":
        held = "memory limit: held by the kernel: each run's own memory cgroup" in text
        assert held == (writable_problem() is None)


@pytest.mark.slow
def test_doctor_as_a_user_without_bubblewrap():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as an unprivileged user")
    home = Path(tempfile.mkdtemp(prefix="lightning-grader-doctor-"))
    try:
        os.chmod(home, 0o755)
        env = {
            "PATH": str(Path(sys.executable).parent),  # no bwrap on it
            "HOME": str(home),
            "DOCKER_HOST": "unix:///nonexistent/docker.sock",
            "LANG": "C.UTF-8",
        }
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "env", "-i"]
        command += [*(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "grader", "--doctor"]
        ran = subprocess.run(command, cwd=home, capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    text = " ".join(ran.stdout.split())
    assert "(uid 65534, no bubblewrap on PATH)" in text
    assert "cause: bubblewrap is not installed: no bwrap on PATH" in text
    assert "sudo apt install bubblewrap" in text and "sudo dnf install bubblewrap" in text
    assert "nothing answers at unix:///nonexistent/docker.sock" in text
    assert "which needs root: this is uid 65534" in text
    assert "auto picks: nothing: no isolating sandbox works here" in text


# Run as root: a user namespace whose own max_user_namespaces is 0, the doctor in it as uid 1000.
NO_NESTED_NAMESPACES = """
import ctypes, os, sys
CLONE_NEWUSER = 0x10000000
go, ready = os.pipe(), os.pipe()
pid = os.fork()
if pid == 0:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
        os._exit(77)
    os.write(ready[1], b"1")
    os.read(go[0], 1)
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as switch:
            switch.write("0")
    except OSError:
        os._exit(77)
    os.setgroups([])
    os.setgid(1000)
    os.setuid(1000)
    os.execv(sys.argv[1], sys.argv[1:])
os.read(ready[0], 1)
for kind in ("uid", "gid"):
    with open(f"/proc/{pid}/{kind}_map", "w") as ids:
        ids.write("0 0 1\\n1000 1000 1\\n")
os.write(go[1], b"1")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.slow
def test_doctor_where_the_kernel_allows_no_user_namespaces():
    """The refusal for real: bubblewrap's own words and the kernel's own switch, in a user namespace
    whose max_user_namespaces is 0 (each user namespace has its own)."""
    if os.geteuid() != 0 or shutil.which("bwrap") is None:
        pytest.skip("needs root (to map a user namespace's uids) and bubblewrap")
    home = Path(tempfile.mkdtemp(prefix="lightning-grader-doctor-"))
    try:
        os.chmod(home, 0o755)
        env = [f"PATH={Path(sys.executable).parent}:/usr/bin:/bin", f"HOME={home}", "LANG=C.UTF-8"]
        env += ["DOCKER_HOST=unix:///nonexistent/docker.sock"]
        command = [sys.executable, "-c", NO_NESTED_NAMESPACES, shutil.which("env"), "-i", *env]
        command += [sys.executable, "-m", "grader", "--doctor"]
        ran = subprocess.run(command, cwd=home, capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if ran.returncode == 77:
        pytest.skip("this kernel lets no user namespace of root's own set its max_user_namespaces")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    text = " ".join(ran.stdout.split())
    assert "(uid 1000, bubblewrap" in text
    assert "Creating new namespace failed" in text  # bubblewrap's own words, as the probe got them
    assert (
        "cause: the kernel allows no user namespaces at all: /proc/sys/user/max_user_namespaces is 0" in text
    )
    assert "sudo sysctl -w user.max_user_namespaces=10000" in text
