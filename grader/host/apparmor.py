"""The AppArmor profile that lets bubblewrap create user namespaces where AppArmor refuses them to
programs without one (Ubuntu 24.04 and later: `kernel.apparmor_restrict_unprivileged_userns=1`).

`grade --doctor` prints it; `sudo grade --install-apparmor-profile` writes it to /etc/apparmor.d and
loads it. It names bubblewrap's binary and allows it user namespaces, nothing else: unconfined
otherwise, as bubblewrap was before the restriction.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

PROFILE_NAME = "lightning-grader-bwrap"
PROFILE_DIR = Path("/etc/apparmor.d")
# `-r`: replace the profile in the kernel, or add it; the parser also caches it for the next boot.
LOAD = ("apparmor_parser", "-r")
# root's own tools, which a PATH inherited from a user (su without -) may lack
ADMIN_PATHS = ("/usr/sbin", "/sbin")
# An attachment is a glob in AppArmor's language: only a plain path names exactly one binary.
PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._+-]+")


class ProfileRefused(Exception):
    """The profile was not installed; the message, one line, says why and what to do."""


def bwrap_binary() -> str | None:
    """bubblewrap's binary as AppArmor sees an exec of it: PATH's `bwrap`, symbolic links resolved."""
    found = shutil.which("bwrap")
    return os.path.realpath(found) if found else None


def profile_path(directory: Path = PROFILE_DIR) -> Path:
    return directory / PROFILE_NAME


def profile_text(bwrap: str) -> str:
    return f"""# Lets bubblewrap ({bwrap}) create user namespaces where AppArmor restricts them
# (kernel.apparmor_restrict_unprivileged_userns=1): lightning-grader's process sandbox.
# Written by `grade --install-apparmor-profile`. To undo: `sudo apparmor_parser -R` this
# file, then remove it.
abi <abi/4.0>,
include <tunables/global>

profile {PROFILE_NAME} {bwrap} flags=(unconfined) {{
  userns,

  # Site-specific additions and overrides.
  include if exists <local/{PROFILE_NAME}>
}}
"""


def install_profile(
    bwrap: str | None,
    directory: Path = PROFILE_DIR,
    load: Sequence[str] = LOAD,
    euid: int | None = None,
) -> Path:
    """Write the profile for `bwrap` into `directory` and load it with `load` + its path; the file
    as it was before (or none) when the load fails. `ProfileRefused` says why it did not happen."""
    parser = shutil.which(load[0], path=os.pathsep.join([os.environ.get("PATH", ""), *ADMIN_PATHS]))
    if parser is None:
        raise ProfileRefused(
            f"{load[0]} is not installed, so AppArmor is not in use here and needs no profile "
            "(where it is: sudo apt install apparmor)"
        )
    if (os.geteuid() if euid is None else euid) != 0:
        raise ProfileRefused(
            f"--install-apparmor-profile writes to {directory} and loads the profile into the kernel: "
            "run it as root (sudo)"
        )
    if bwrap is None:
        raise ProfileRefused(
            "bubblewrap is not installed (sudo apt install bubblewrap): the profile is for its binary"
        )
    if not PLAIN_PATH.fullmatch(bwrap):
        raise ProfileRefused(f"bubblewrap's path {bwrap!r} is not a plain path an AppArmor profile can name")
    path = profile_path(directory)
    earlier = path.read_bytes() if path.exists() else None
    path.write_text(profile_text(bwrap))
    path.chmod(0o644)
    loaded = subprocess.run([parser, *load[1:], str(path)], capture_output=True, text=True)
    if loaded.returncode != 0:
        if earlier is None:
            path.unlink()
        else:
            path.write_bytes(earlier)
        said = " ".join(loaded.stderr.split())[-400:] or f"exit code {loaded.returncode}"
        raise ProfileRefused(f"{' '.join(load)} refused the profile ({said}); {path} is left as it was")
    return path
