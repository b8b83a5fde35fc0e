#!/usr/bin/env bash
# The grader as a TA or a student installs it: a wheel, installed non-editable into a
# brand-new virtual environment, used from a folder outside the checkout. The rubric and the
# reference solution come from the package. Checked against the graded samples of CI's main
# run (GRADES_CSV, itself checked against tests/expected.py):
#   - grade --version and python -m grader --version answer;
#   - grade no_validation_step.py --self-check gives that sample's points, criterion by criterion;
#   - pytest --rubric m14 in a copy of a correct sample: 11 passed;
#   - pytest --rubric m14 in a copy of no_validation_step: exactly the criteria below full
#     points in GRADES_CSV fail.
#
#   .ci/installed-check.sh install DIR          build the wheel, install it into DIR/venv
#   .ci/installed-check.sh check DIR GRADES_CSV  the checks above, with that install
# (.ci/run installs in the background while it does other work, then checks.)
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
mode=$1
work=$(realpath "$2")

if [ "$mode" = install ]; then
    log=$work/pip.log
    python3 -m pip wheel -q --no-deps -w "$work/dist" "$checkout" >"$log" 2>&1 || { tail -30 "$log"; exit 1; }
    python3 -m venv "$work/venv"
    # pytest too, as a student has it.
    "$work/venv/bin/pip" install -q "$work"/dist/*.whl pytest >"$log" 2>&1 || { tail -30 "$log"; exit 1; }
    echo "installed $(basename "$work"/dist/*.whl) into $work/venv"
    exit 0
fi

grades_csv=$(realpath "$3")
export PATH="$work/venv/bin:$PATH"
cd "$work"
mkdir -p good novs
cp "$checkout/submissions/correct_lightning.py" good/
cp "$checkout/submissions/no_validation_step.py" novs/
grade --version
python -m grader --version
# One folder for the self-check and both pytest runs (pytest's cache): one batch secret, so
# the reference solution trains once.
shared=$work/pytest-cache/d/lightning-grader
grade novs/no_validation_step.py --self-check --rubric m14 --out "$shared" >self-check.log 2>&1 \
    || { tail -30 self-check.log; exit 1; }
cp "$shared/grades.csv" self-check.csv
for sample in good novs; do
    (cd "$sample" && python -m pytest --rubric m14 -q --junitxml="$work/$sample.xml" -o cache_dir="$work/pytest-cache") \
        >"$sample.log" 2>&1 || true
done

python3 -I - "$grades_csv" self-check.csv good.xml novs.xml <<'PY'
import csv, sys
import xml.etree.ElementTree as ET

expected_csv, self_check_csv, good_xml, novs_xml = sys.argv[1:]
rows = {row["submission"]: row for row in csv.DictReader(open(expected_csv))}
expected, full = rows["no_validation_step"], rows["correct_lightning"]
criteria = [name for name in expected if name not in ("submission", "score", "max_score", "status", "review")]
checked = next(csv.DictReader(open(self_check_csv)))
assert [checked[c] for c in criteria] == [expected[c] for c in criteria], (checked, expected)
print(f"   self-check: {checked['score']}/{checked['max_score']}, as in CI's grading of the samples")

def outcome(path):
    return {case.get("name"): case.find("failure") is None for case in ET.parse(path).getroot().iter("testcase")}

good = outcome(good_xml)
assert len(good) == 11 and all(good.values()), good
print("   pytest --rubric m14 in a correct sample: 11 passed")
failing = sorted(name for name, passed in outcome(novs_xml).items() if not passed)
below = sorted(c for c in criteria if float(expected[c]) < float(full[c]))
assert failing == below, (failing, below)
print(f"   pytest --rubric m14 in no_validation_step: failing exactly {', '.join(failing)}")
PY
