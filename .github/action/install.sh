#!/usr/bin/env bash
# The action's first step of its own: the grader (the trusted host side) on the runner, from the
# action's own checkout, with CPU-only torch. Skipped when this Python imports the grader from that
# very checkout already (a self-hosted runner, or .github/actions-local-run.sh on a machine where
# it is installed): a `grader` from anywhere else is installed over.
set -euo pipefail
action=$(cd "$GITHUB_ACTION_PATH" && pwd -P)
installed=$(python -P -c 'import pathlib, grader, torch; print(pathlib.Path(grader.__file__).resolve().parent.parent)' \
    2>/dev/null || true)
if [ "$installed" = "$action" ]; then
    echo "The grader from $action is installed already."
    exit 0
fi
python -P -m pip install --quiet torch torchvision --index-url https://download.pytorch.org/whl/cpu
python -P -m pip install --quiet -e "$action"
