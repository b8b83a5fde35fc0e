#!/usr/bin/env bash
# Grades the submission at $SUBMISSION in the student's checkout with `grade --self-check`. The
# student's code runs in the sandbox: docker with the grading image on GitHub's runners, or the
# backend GRADER_SANDBOX names where no engine runs (.github/actions-local-run.sh). grade's output
# holds the student's own: it goes to a file that the report step prints neutralised. The step
# fails only when grade does (the grader could not grade); the points decide nothing here.
set -euo pipefail
out="$RUNNER_TEMP/lightning-grader"
rm -rf "$out" && mkdir -p "$out"
status=0
grade "$(realpath "$GITHUB_WORKSPACE/$SUBMISSION")" --self-check --rubric "$RUBRIC" \
    --sandbox "${GRADER_SANDBOX:-docker}" --out "$out" >"$out.log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
    echo "grade exited with status $status; the report step prints its output."
fi
exit "$status"
