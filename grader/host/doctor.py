"""`grade --doctor`: which sandbox backends work on this machine, which one `auto` picks, whether
`process` runs warm, what holds a run's memory limit, and for each refused backend the cause and
the fix.

Each cause is read from what the machine shows a user: the backend's own refusal (bubblewrap's
words from the `process` probe, the Docker client's error), the kernel's user-namespace switches
under /proc/sys, the effective uid and PATH. `Machine` holds the facts that are not a backend's
message, so that every refusal can be diagnosed from the exact values and text of a machine that
shows it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from grader.confine.cgroups import writable_problem
from grader.host.apparmor import bwrap_binary, profile_path, profile_text
from grader.sandbox import BACKENDS, SandboxUnavailable, open_sandbox
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.process import warm_problem
from grader.sandbox.supervise import POLL_SECONDS

PROC_SYS = Path("/proc/sys")
# The kernel's switches for unprivileged user namespaces: Ubuntu 24.04 and later restrict them
# through AppArmor; `max_user_namespaces` 0 refuses them everywhere; Debian's older kernels had
# their own switch.
APPARMOR_RESTRICTION = "kernel.apparmor_restrict_unprivileged_userns"
MAX_NAMESPACES = "user.max_user_namespaces"
DEBIAN_SWITCH = "kernel.unprivileged_userns_clone"
# Each switch's value that allows them again, and the file in /etc/sysctl.d that keeps it so.
OPENED = {
    APPARMOR_RESTRICTION: ("0", "99-lightning-grader-apparmor-userns.conf"),
    MAX_NAMESPACES: ("10000", "99-lightning-grader-max-userns.conf"),
    DEBIAN_SWITCH: ("1", "99-lightning-grader-userns-clone.conf"),
}
SYSCTL_DIR = Path("/etc/sysctl.d")
# `--disable-userns` and `--assert-userns-disabled` came with 0.8.
MINIMUM_BWRAP = (0, 8)
# What bubblewrap says when the kernel gives it no usable user namespace: clone() refused (each
# version words it its own way), or a namespace without capabilities, as AppArmor's restriction
# leaves it, failing at the uid map or at the loopback device.
NAMESPACE_REFUSALS = re.compile(
    r"setting up uid map: Permission denied|loopback: Failed RTM_NEWADDR: Operation not permitted"
    r"|No permissions to creat[^.;()]*|Creating new namespace failed[^.;()]*"
)
OLD_BWRAP = "Unknown option"
ISOLATING = ("docker", "process", "user")


@dataclass(frozen=True)
class Fix:
    how: str
    commands: tuple[str, ...] = ()
    weakens: str | None = None
    file: tuple[Path, str] | None = None  # a file the fix writes, shown whole


@dataclass(frozen=True)
class Cause:
    summary: str  # what refuses, and the fact it was read from
    fixes: tuple[Fix, ...] = ()


@dataclass(frozen=True)
class Machine:
    """The facts a diagnosis reads besides a backend's own refusal."""

    euid: int
    bwrap: str | None  # bubblewrap's binary, symbolic links resolved; None: not on PATH
    bwrap_version: tuple[int, ...] | None
    proc_sys: Path = PROC_SYS

    @classmethod
    def here(cls) -> Machine:
        bwrap = bwrap_binary()
        return cls(os.geteuid(), bwrap, bwrap_version(bwrap) if bwrap else None)

    def sysctl_file(self, name: str) -> Path:
        return self.proc_sys / name.replace(".", "/")

    def sysctl(self, name: str) -> str | None:
        """The switch's value, None where this kernel has no such switch."""
        try:
            return self.sysctl_file(name).read_text().strip()
        except OSError:
            return None


def bwrap_version(bwrap: str) -> tuple[int, ...] | None:
    try:
        said = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\d+(?:\.\d+)+", said)
    return tuple(int(part) for part in found.group().split(".")) if found else None


@dataclass(frozen=True)
class Backend:
    name: str
    refusal: str | None  # the backend's own message; None: it works here
    causes: tuple[Cause, ...] = ()

    @property
    def works(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class Report:
    machine: Machine
    backends: tuple[Backend, ...]
    auto: str | None  # the backend `open_sandbox("auto")` returns here; None: it refuses
    cold: str | None  # why `process` does not run warm; None: it does
    unconfined: str | None  # why `process` runs get no cgroups of their own; None: they do

    @property
    def isolated(self) -> bool:
        return self.auto is not None


def refusal(name: str) -> str | None:
    """What `open_sandbox(name)` refuses with here; None when it opens."""
    try:
        open_sandbox(name)
    except SandboxUnavailable as error:
        return str(error)
    return None


def examine(machine: Machine | None = None) -> Report:
    """This machine's report, from the backends' real checks and `open_sandbox("auto")` itself."""
    machine = machine or Machine.here()
    backends = tuple(diagnose(name, refusal(name), machine) for name in BACKENDS)
    try:
        auto = open_sandbox("auto").name
    except SandboxUnavailable:
        auto = None
    process_works = next(b.works for b in backends if b.name == "process")
    cold = warm_problem() if process_works else "the process backend does not work here"
    return Report(machine, backends, auto, cold, writable_problem())


def kernel_holds_memory(name: str, unconfined: str | None) -> bool:
    """Whether a cgroup of the run's own holds backend `name`'s runs to their memory limit;
    `unconfined`: why `process` runs get none here (None: they do)."""
    return name == "docker" or (name == "process" and unconfined is None)


def memory_hold(name: str, unconfined: str | None) -> str:
    """What stops a run of backend `name` at the rubric's memory limit."""
    if name == "docker":
        return "held by the kernel: the container's memory cgroup, with no extra swap"
    if kernel_holds_memory(name, unconfined):
        return "held by the kernel: each run's own memory cgroup, behind the grader's memory watch"
    why = f"runs get no cgroup of their own here: {unconfined}" if name == "process" else "no cgroup holds it"
    return (
        f"polled only: the grader's memory watch reads the run's memory every {POLL_SECONDS:g} s and "
        f"stops it; {why}"
    )


def diagnose(name: str, refused: str | None, machine: Machine) -> Backend:
    if refused is None:
        return Backend(name, None)
    explain = DIAGNOSES.get(name)
    return Backend(name, refused, explain(refused, machine) if explain else ())


def grade_command() -> str:
    """How this installation's `grade` is run with sudo, whose PATH may not hold it."""
    found = shutil.which("grade")
    return shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m grader"


def docker_instead() -> Fix:
    return Fix(
        "Or grade in Docker (--sandbox docker, or auto, which picks it), which needs no user namespace "
        "on the host: the engine, and the grading image built in a checkout of the grader",
        (f"docker build -t {DockerSandbox().image} .",),
    )


def switch_fix(name: str, how: str, weakens: str) -> Fix:
    value, file = OPENED[name]
    kept = SYSCTL_DIR / file
    return Fix(
        how,
        (f"sudo sysctl -w {name}={value}", f"echo '{name} = {value}' | sudo tee {kept}"),
        weakens,
    )


UNKNOWN = Cause("bubblewrap fails for a reason this doctor does not know: see its words above")
ROOT_REFUSED = Cause(
    "bubblewrap cannot create its namespaces even as root, where it needs no user namespace: this "
    "root lacks the right to (as in a container)",
    (
        Fix(
            "In a container that runs the grader as root, the user backend is the one for this: auto "
            "picks it when docker and process are refused (--sandbox user)"
        ),
    ),
)


def process_causes(refused: str, machine: Machine) -> tuple[Cause, ...]:
    if machine.bwrap is None:
        return (
            Cause(
                "bubblewrap is not installed: no bwrap on PATH",
                (
                    Fix(
                        "Install it",
                        (
                            "sudo apt install bubblewrap   # Debian, Ubuntu",
                            "sudo dnf install bubblewrap   # Fedora, RHEL",
                        ),
                    ),
                ),
            ),
        )
    version = machine.bwrap_version
    if (version and version < MINIMUM_BWRAP) or OLD_BWRAP in refused:
        shown = f"bubblewrap {'.'.join(map(str, version))}" if version else "this bubblewrap"
        return (
            Cause(
                f"{shown} ({machine.bwrap}) is too old: the sandbox needs 0.8 or later",
                (
                    Fix(
                        "Upgrade it where the distribution ships 0.8 or later (Debian 12 and Ubuntu 24.04 do)",
                        ("sudo apt install --only-upgrade bubblewrap",),
                    ),
                    docker_instead(),
                ),
            ),
        )
    found = NAMESPACE_REFUSALS.search(refused)
    said = found.group().strip() if found else None
    if machine.euid == 0:  # as root bubblewrap makes no user namespace: no switch below applies
        return (ROOT_REFUSED if said else UNKNOWN,)
    causes = [*user_namespace_switches(machine), *apparmor_restriction(machine, said)]
    if causes:
        return tuple(causes)
    if said:
        return (
            Cause(
                f"the kernel gives bubblewrap no user namespace (it said “{said}”), and no switch under "
                f"{machine.proc_sys} says so: a container's seccomp profile, or a kernel without them",
                (docker_instead(),),
            ),
        )
    return (UNKNOWN,)


def user_namespace_switches(machine: Machine) -> list[Cause]:
    """The switches that refuse every unprivileged user namespace, whatever the program."""
    weakens = (
        "every program of every user may create user namespaces again, and reach the kernel code "
        "behind them that this setting keeps from unprivileged users"
    )
    causes = []
    if machine.sysctl(MAX_NAMESPACES) == "0":
        causes.append(
            Cause(
                f"the kernel allows no user namespaces at all: {machine.sysctl_file(MAX_NAMESPACES)} is 0",
                (switch_fix(MAX_NAMESPACES, "Allow them", weakens), docker_instead()),
            )
        )
    if machine.sysctl(DEBIAN_SWITCH) == "0":
        causes.append(
            Cause(
                "the kernel refuses user namespaces to unprivileged users: "
                f"{machine.sysctl_file(DEBIAN_SWITCH)} is 0",
                (switch_fix(DEBIAN_SWITCH, "Allow them", weakens), docker_instead()),
            )
        )
    return causes


def apparmor_restriction(machine: Machine, said: str | None) -> list[Cause]:
    """AppArmor's restriction, where bubblewrap's words show that it is what refused."""
    if machine.sysctl(APPARMOR_RESTRICTION) != "1" or said is None:
        return []
    bwrap = machine.bwrap or "bwrap"
    profile = profile_path()
    return [
        Cause(
            "AppArmor refuses user namespaces to unprivileged programs without a profile that allows "
            f"them ({machine.sysctl_file(APPARMOR_RESTRICTION)} is 1), and bubblewrap has none: "
            f"it said “{said}”",
            (
                Fix(
                    f"Give bubblewrap ({bwrap}) a profile of its own that allows it user namespaces: the "
                    f"command below writes {profile} and loads it (apparmor_parser -r)",
                    (f"sudo {grade_command()} --install-apparmor-profile",),
                    f"any program run as {bwrap} may create user namespaces: bubblewrap as a whole is "
                    "trusted, for every user, not only the grader's runs",
                    (profile, profile_text(bwrap)),
                ),
                switch_fix(
                    APPARMOR_RESTRICTION,
                    "Or lift the restriction for the whole machine",
                    "every program of every user may create user namespaces again: the kernel attack "
                    "surface Ubuntu closed is open again",
                ),
                docker_instead(),
            ),
        )
    ]


def docker_causes(refused: str, machine: Machine) -> tuple[Cause, ...]:
    image = DockerSandbox().image
    build = f"docker build -t {image} ."
    if "does not answer" in refused:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if "Permission denied" in refused or "PermissionError" in refused:
            return (
                Cause(
                    f"the Docker engine's socket ({where}) refuses this user (uid {machine.euid})",
                    (
                        Fix(
                            "Join the docker group, then log in again",
                            ("sudo usermod -aG docker $USER",),
                            "the docker group is root on this machine: its members may start a container "
                            "that mounts / and writes anywhere",
                        ),
                    ),
                ),
            )
        if "Connection refused" in refused:
            summary = f"no Docker engine listens at {where}"
            fix = Fix("Start it", ("sudo systemctl start docker",))
        else:
            summary = f"no Docker engine runs here: nothing answers at {where}"
            if "DOCKER_HOST" in os.environ:
                summary += " (DOCKER_HOST names it)"
            fix = Fix(
                "Install and start it, then build the grading image in a checkout of the grader "
                "(there, bash .ci/docker-setup.sh does all three on Debian and Ubuntu)",
                ("sudo apt install docker.io", "sudo systemctl enable --now docker", build),
            )
        return (Cause(summary, (fix,)),)
    if "is missing" in refused:
        return (
            Cause(
                f"the engine answers, but has no image {image}",
                (Fix("Build it in a checkout of the grader", (build,)),),
            ),
        )
    if "another version of the runner" in refused:
        return (
            Cause(
                f"the image {image} holds another version of the grader's runner",
                (Fix("Build it again in this version's checkout", (build,)),),
            ),
        )
    return ()


def user_causes(refused: str, machine: Machine) -> tuple[Cause, ...]:
    if machine.euid != 0:
        return (
            Cause(
                f"the user backend runs code as a throwaway uid, which needs root: this is uid {machine.euid}",
                (
                    Fix(
                        "Nothing to fix on a machine of your own: the user backend is for containers that "
                        "run the grader as root and refuse namespaces (Gradescope, CI steps); here, fix "
                        "process or docker"
                    ),
                ),
            ),
        )
    if "cannot run Python" in refused:
        return (
            Cause(
                "a throwaway uid cannot run the grader's Python installation",
                (Fix("Let other users read and run it", (f"sudo chmod -R o+rX {shlex.quote(sys.prefix)}",)),),
            ),
        )
    return ()


DIAGNOSES: dict[str, Callable[[str, Machine], tuple[Cause, ...]]] = {
    "docker": docker_causes,
    "process": process_causes,
    "user": user_causes,
}


def refusal_line(sandbox: str) -> str:
    """One line for a refusal to grade: why the backend that is most often fixable (`process`, for
    `auto`) is refused here, and where the fix is."""
    name = "process" if sandbox == "auto" else sandbox
    causes = diagnose(name, refusal(name), Machine.here()).causes if name in DIAGNOSES else ()
    if not causes:
        return "`grade --doctor` says what each sandbox needs on this machine"
    return f"{name}: {causes[0].summary}; `grade --doctor` says how to fix it"


def print_report(report: Report, console: Console) -> None:
    machine = report.machine
    version = ".".join(map(str, machine.bwrap_version or ())) or "of unknown version"
    bwrap = f"bubblewrap {version} at {machine.bwrap}" if machine.bwrap else "no bubblewrap on PATH"
    console.print(
        f"[bold]Sandboxes on this machine[/] (uid {machine.euid}, {escape(bwrap)})", highlight=False
    )
    for backend in report.backends:
        print_backend(backend, report.unconfined, console)
    console.print()
    if report.auto:
        _say(console, "auto picks:", report.auto)
        _say(console, "memory limit:", memory_hold(report.auto, report.unconfined))
    else:
        _say(console, "auto picks:", "nothing: no isolating sandbox works here", style="bold red")
    _say(
        console,
        "process runs warm:",
        "yes: one zygote per batch forks every worker" if report.cold is None else f"no: {report.cold}",
    )


def print_backend(backend: Backend, unconfined: str | None, console: Console) -> None:
    if backend.works:
        if backend.name not in ISOLATING:
            note = "isolates nothing, never picked by auto"
        else:
            held = kernel_holds_memory(backend.name, unconfined)
            note = "memory limit held by a cgroup" if held else "memory limit polled by the grader"
        _say(console, f"{backend.name:<8} works   ", note, style="bold green")
        return
    _say(console, f"{backend.name:<8} refused", "", style="bold red")
    _say(console, "said:", backend.refusal or "", indent=4)
    for cause in backend.causes:
        _say(console, "cause:", cause.summary, indent=4)
        for fix in cause.fixes:
            print_fix(fix, console)


def print_fix(fix: Fix, console: Console) -> None:
    _say(console, "fix:", fix.how, indent=4)
    for command in fix.commands:  # never wrapped, so that each pastes as one line
        console.print(f"          {command}", markup=False, highlight=False, soft_wrap=True)
    if fix.file:
        path, text = fix.file
        _say(console, "", f"{path}:", indent=10)
        for line in text.splitlines():
            console.print(f"            {line}".rstrip(), markup=False, highlight=False, soft_wrap=True)
    if fix.weakens:
        _say(console, "weakens:", fix.weakens, indent=10, style="bold yellow")


def _say(console: Console, label: str, text: str, indent: int = 0, style: str = "bold") -> None:
    """A label and its text, wrapped to the console with a hanging indent (readable without colour)."""
    lead = " " * indent
    lines = textwrap.wrap(
        f"{label} {text}".strip(),
        width=max(console.width, 40),
        initial_indent=lead,
        subsequent_indent=lead + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    for number, line in enumerate(lines):
        shown = Text(line)
        if number == 0:
            shown.stylize(style, indent, indent + len(label))
        console.print(shown, soft_wrap=True, highlight=False)
