#!/usr/bin/env bash
# The fingerprint of the sources the runner runs inside the sandbox (the same as
# grader.sandbox.docker.runner_fingerprint): the docker backend refuses an image whose
# `lightning-grader.runner` label differs from the installed grader's.
set -euo pipefail
cd "$(dirname "$0")/.."
find grader/contract.py grader/syntax.py grader/tree.py grader/runner -name '*.py' -not -path '*/__pycache__/*' \
    | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16
