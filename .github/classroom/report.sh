#!/usr/bin/env bash
# The action's last step, run whatever happened before it: GitHub Classroom always gets a
# result. FAILED_STEP names the step that failed, if one did.
set -uo pipefail
out="$RUNNER_TEMP/lightning-grader"
mkdir -p "$out"
if python -P -c "import grader.host.publish.action" 2>/dev/null; then
    exec python -P -m grader.host.publish.action "$out" --rubric "$RUBRIC" --log "$out.log" \
        --failed "${FAILED_STEP:-}"
fi
# The grader is not installed (its install failed): an error result with zero points, from
# the standard library alone. The points at stake are read from the rubric file.
echo "The grader could not run (${FAILED_STEP:-installing the grader} failed); GitHub Classroom gets an error result."
python -P - "$GITHUB_ACTION_PATH/rubrics/$RUBRIC.yaml" "${FAILED_STEP:-installing the grader}" <<'PY'
import base64, json, os, re, sys
rubric, failed = sys.argv[1], sys.argv[2]
text = open(rubric, encoding="utf-8").read() if os.path.isfile(rubric) else ""
points = sum(float(value) for value in re.findall(r"^\s+points:\s*([0-9.]+)\s*$", text, re.MULTILINE))
message = f"The grader could not run on GitHub's runner ({failed} failed); the job log says why."
test = {"name": "lightning-grader", "status": "error", "score": 0, "message": message, "test_code": "",
        "filename": "", "line_no": 0, "duration": 0}
result = {"version": 1, "status": "error", "max_score": points, "tests": [test]}
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
    output.write("result=" + base64.b64encode(json.dumps(result).encode()).decode() + "\n")
with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
    summary.write(f"### lightning-grader: 0 / {points:g}\n\n{message}\n")
PY
