"""Package configuration beyond pyproject.toml: the project's data folders.

`rubrics/`, `reference/` and `gradescope/` stay at the top of the repository, and install
inside the package as `grader/_shipped/<folder>`, so that a wheel, `pip install git+URL` or
`pipx install` grades like a checkout (`grader.paths.shipped_dir` finds either). A folder
missing from the build context (the grading image builds from `grader/` alone) is left out:
the sandbox's image never holds the reference solution.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
SHIPPED = {
    f"grader._shipped.{name}": name
    for name in ("rubrics", "reference", "gradescope")
    if (HERE / name).is_dir()
}

setup(
    packages=[*find_packages(include=["grader", "grader.*"]), *SHIPPED],
    package_dir=SHIPPED,
    package_data={package: ["**/*"] for package in SHIPPED},
    exclude_package_data={package: ["**/__pycache__/*", "**/*.pyc"] for package in SHIPPED},
)
