#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image, with the
# autograder zip (`make-autograder-zip`) unpacked in /autograder/source. It installs the
# grader, makes everything of it private to root, and warms the caches run_autograder uses:
# MNIST and the reference solution's accuracy under the rubric's budget.
#
# Settings come from autograder.env, which make-autograder-zip writes next to this file.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$source_dir/autograder.env"

started=$(date +%s)
say() { echo "== [$(($(date +%s) - started)) s] $*"; }

say "Python 3.10 or later, with venv"
if ! python3 -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 10)' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
python3 -c 'import sys; assert sys.version_info >= (3, 10), "the grader needs Python 3.10 or later: choose a newer base image"'

say "the grader, in $GRADER_VENV"
[ -x "$GRADER_VENV/bin/python" ] || python3 -m venv "$GRADER_VENV"
pip=("$GRADER_VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch and torchvision first, from the CPU wheel index: PyPI's Linux builds carry CUDA (GBs).
if [ -n "${TORCH_INDEX:-}" ] && ! "$GRADER_VENV/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
    "${pip[@]}" torch torchvision --index-url "$TORCH_INDEX"
fi
"${pip[@]}" "$source_dir/lightning-grader"

say "private to root: the source, rubric and reference ($source_dir), and the grader's state ($GRADER_STATE)"
chmod -R go-rwx "$source_dir"
mkdir -p "$GRADER_STATE"
chmod 700 "$GRADER_STATE"

say "warm the caches: MNIST, then the reference solution under the rubric's budget"
# The reference is graded as a submission would be, in the sandbox run_autograder uses, so
# that its run time (which scales the time limit) is measured the same way.
bash "$source_dir/run_autograder" --warm-up "$source_dir/lightning-grader/reference/$GRADER_RUBRIC"
say "done"
