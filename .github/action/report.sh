#!/usr/bin/env bash
# The action's report, run whatever happened before it: the summary, the annotations, the
# artifact's files and the outputs (`score`, `max-score`, `status`, `result`); it exits 1 below
# FAIL_UNDER. FAILED_STEP names the step that failed, if one did.
set -uo pipefail
out="$RUNNER_TEMP/lightning-grader"
mkdir -p "$out"
if python -P -c "import grader.host.publish.action" 2>/dev/null; then
    exec python -P -m grader.host.publish.action "$out" --rubric "$RUBRIC" --log "$out.log" \
        --path "$SUBMISSION" --fail-under "${FAIL_UNDER:-}" --failed "${FAILED_STEP:-}"
fi
# The grader is not installed (its install failed): an error result with zero points, from
# the standard library alone. The points at stake are read from the rubric file.
echo "The grader could not run (${FAILED_STEP:-installing the grader} failed): reporting an error."
python -P - "$GITHUB_ACTION_PATH/rubrics/$RUBRIC.yaml" "${FAILED_STEP:-installing the grader}" \
    "${FAIL_UNDER:-}" <<'PY'
import base64, json, os, re, sys, uuid
rubric, failed, fail_under = sys.argv[1:4]
text = open(rubric, encoding="utf-8").read() if os.path.isfile(rubric) else ""
points = sum(float(value) for value in re.findall(r"^\s+points:\s*([0-9.]+)\s*$", text, re.MULTILINE))
message = f"The grader could not run on GitHub's runner ({failed} failed); the job log says why."
test = {"name": "lightning-grader", "status": "error", "score": 0, "message": message, "test_code": "",
        "filename": "", "line_no": 0, "duration": 0}
result = {"version": 1, "status": "error", "max_score": points, "tests": [test]}
outputs = {"result": base64.b64encode(json.dumps(result).encode()).decode(), "score": "0",
           "max-score": f"{points:g}", "status": "error"}
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
    for name, value in outputs.items():
        delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
        output.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
    summary.write(f"### lightning-grader: 0 / {points:g}\n\n{message}\n")
sys.exit(1 if fail_under.strip() else 0)
PY
