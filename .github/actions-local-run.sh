#!/usr/bin/env bash
# Runs the steps of this repository's action.yml in order, as a GitHub runner runs a composite
# action, on a machine that is not a runner: for the tests, and to try the action on a submission.
#
#   INPUT_PATH=homework INPUT_FAIL_UNDER=50 GRADER_SANDBOX=process \
#       GITHUB_WORKSPACE=/path/to/student-repo bash .github/actions-local-run.sh
#
# Inputs come from INPUT_<NAME> (upper case, `-` as `_`: INPUT_RUBRIC, INPUT_PATH,
# INPUT_FAIL_UNDER, INPUT_COMMIT_STATUS, ...), else the action's defaults. The runner's variables
# are taken as given or made up: GITHUB_WORKSPACE (default: the current folder), RUNNER_TEMP
# (a fresh folder), GITHUB_ACTION_PATH (this repository), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
# (files in RUNNER_TEMP); the action's outputs are appended to GITHUB_OUTPUT as the calling step's.
# GRADER_SANDBOX replaces the action's docker sandbox where no engine runs (e.g. `process`).
#
# Each `run:` step runs as the runner runs it: its `if:` and `${{ }}` expressions evaluated,
# `bash --noprofile --norc -eo pipefail`, its env and working directory, its own GITHUB_OUTPUT
# file. What needs GitHub itself is done as far as it can be here, and the log says so:
# actions/setup-python uses the Python running this script; actions/upload-artifact lists the
# files the artifact would hold; the commit status is printed, not sent (no GITHUB_API_URL and
# no token reach the steps). Exits 1 when a step failed, as the job would, else 0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GITHUB_ACTION_PATH=${GITHUB_ACTION_PATH:-$here}
export GITHUB_WORKSPACE=${GITHUB_WORKSPACE:-$PWD}
export RUNNER_TEMP=${RUNNER_TEMP:-$(mktemp -d)}
export GITHUB_OUTPUT=${GITHUB_OUTPUT:-$RUNNER_TEMP/output}
export GITHUB_STEP_SUMMARY=${GITHUB_STEP_SUMMARY:-$RUNNER_TEMP/summary.md}
# The steps' scripts and output files, as the runner keeps them apart from RUNNER_TEMP's own.
mkdir -p "$RUNNER_TEMP/_local_run"
exec "${PYTHON:-python3}" - "$GITHUB_ACTION_PATH/action.yml" <<'PY'
import glob
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

NOT_ON_GITHUB = ("GITHUB_API_URL", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
TOKEN = re.compile(r"\s*(&&|\|\||==|!=|!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.-]*|-?\d+(?:\.\d+)?)")


class Expression:
    """The part of GitHub's expression language action.yml uses: contexts, strings, numbers,
    ==, != (strings compared ignoring case), !, && and || (which yield an operand, as in
    JavaScript), parentheses, and the status functions."""

    def __init__(self, text, contexts, failed):
        self.tokens, position = [], 0
        while position < len(text.rstrip()):
            match = TOKEN.match(text, position)
            if not match:
                raise SystemExit(f"actions-local-run: cannot read the expression {text!r}")
            self.tokens.append(match[1])
            position = match.end()
        self.contexts, self.failed = contexts, failed

    def value(self):
        result = self.either()
        if self.tokens:
            raise SystemExit(f"actions-local-run: unexpected {self.tokens[0]!r}")
        return result

    def either(self):
        left = self.both()
        while self.tokens[:1] == ["||"]:
            self.tokens.pop(0)
            right = self.both()
            left = left if truthy(left) else right
        return left

    def both(self):
        left = self.negation()
        while self.tokens[:1] == ["&&"]:
            self.tokens.pop(0)
            right = self.negation()
            left = right if truthy(left) else left
        return left

    def negation(self):
        if self.tokens[:1] == ["!"]:
            self.tokens.pop(0)
            return not truthy(self.negation())
        left = self.atom()
        if self.tokens[:1] in (["=="], ["!="]):
            equal = self.tokens.pop(0) == "=="
            same = folded(left) == folded(self.atom())
            return same if equal else not same
        return left

    def atom(self):
        token = self.tokens.pop(0)
        if token == "(":
            inner = self.either()
            self.tokens.pop(0)
            return inner
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if token[0].isdigit() or token[0] == "-":
            return float(token)
        if self.tokens[:2] == ["(", ")"]:
            del self.tokens[:2]
            return {"always": True, "success": not self.failed, "failure": self.failed, "cancelled": False}[token]
        value = self.contexts
        for part in token.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def truthy(value):
    return value not in (None, False, "", 0)


def folded(value):
    return value.casefold() if isinstance(value, str) else value


def text_of(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def evaluate(text, contexts, failed=False):
    """A string with `${{ }}` parts, each replaced by its value."""
    def replace(match):
        return text_of(Expression(match[1], contexts, failed).value())
    return re.sub(r"\$\{\{(.*?)\}\}", replace, str(text), flags=re.DOTALL)


def condition(text, contexts, failed):
    """A step's `if:`; without a status function it means `success() && (...)`, as on GitHub."""
    text = str(text).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    value = truthy(Expression(text, contexts, failed).value())
    status = re.search(r"\b(always|success|failure|cancelled)\(\)", text)
    return value if status else value and not failed


def read_outputs(path):
    """A step's GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs, lines = {}, Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter)
            outputs[name], lines = "\n".join(lines[:end]), lines[end + 1 :]
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def write_outputs(path, outputs):
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def say(text):
    print(f"[actions-local-run] {text}", file=sys.stderr, flush=True)


def setup_python(step, contexts, env):
    wanted = evaluate(step.get("with", {}).get("python-version", ""), contexts)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    say(f"{step['uses']} needs GitHub: using {sys.executable} ({sys.version.split()[0]}; the action asks {wanted}).")
    return "success"


def upload_artifact(step, contexts, env):
    given = step.get("with", {})
    name = evaluate(given.get("name", "artifact"), contexts)
    files = []
    for pattern in evaluate(given.get("path", ""), contexts).splitlines():
        pattern = pattern.strip()
        if pattern:
            found = glob.glob(pattern, recursive=True)
            for path in found:
                files += [str(p) for p in Path(path).rglob("*") if p.is_file()] if Path(path).is_dir() else [path]
    say(f"{step['uses']} needs GitHub: not uploaded. The artifact {name!r} would hold {len(files)} file(s):")
    for path in sorted(files):
        print(f"  {path}", file=sys.stderr)
    if not files and evaluate(given.get("if-no-files-found", "warn"), contexts) == "error":
        return "failure"
    return "success"


def run_step(step, contexts, env):
    output = Path(tempfile.mkstemp(prefix="output-", dir=Path(env["RUNNER_TEMP"], "_local_run"))[1])
    step_env = {**env, "GITHUB_OUTPUT": str(output)}
    step_env.update({key: evaluate(value, contexts) for key, value in (step.get("env") or {}).items()})
    script = Path(tempfile.mkstemp(prefix="step-", suffix=".sh", dir=Path(env["RUNNER_TEMP"], "_local_run"))[1])
    script.write_text(evaluate(step["run"], contexts), encoding="utf-8")
    directory = evaluate(step.get("working-directory", env["GITHUB_WORKSPACE"]), contexts)
    shell = step.get("shell", "bash")
    if shell != "bash":
        raise SystemExit(f"actions-local-run: shell {shell!r} is not run here; the action's steps use bash")
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    code = subprocess.run(command, cwd=directory, env=step_env, stdin=subprocess.DEVNULL).returncode
    contexts["steps"].setdefault(step.get("id", ""), {})["outputs"] = read_outputs(output)
    return "success" if code == 0 else "failure"


def main(action_file):
    action = yaml.safe_load(Path(action_file).read_text(encoding="utf-8"))
    env = {key: value for key, value in os.environ.items() if key not in NOT_ON_GITHUB}
    github = {
        "token": "",
        "sha": env.get("GITHUB_SHA", ""),
        "repository": env.get("GITHUB_REPOSITORY", ""),
        "workspace": env["GITHUB_WORKSPACE"],
        "action_path": env["GITHUB_ACTION_PATH"],
        "event": {},
    }
    contexts = {"github": github, "runner": {"temp": env["RUNNER_TEMP"], "os": "Linux"}, "steps": {}}
    contexts["inputs"] = {}
    for name, spec in (action.get("inputs") or {}).items():
        given = os.environ.get("INPUT_" + re.sub(r"[ -]", "_", name).upper())
        contexts["inputs"][name] = given if given is not None else evaluate((spec or {}).get("default", ""), contexts)
    failed = False
    for number, step in enumerate(action["runs"]["steps"], 1):
        label = step.get("name") or step.get("uses") or f"step {number}"
        if not condition(step.get("if", "success()"), contexts, failed):
            say(f"skipped: {label}")
            contexts["steps"][step.get("id", "")] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
            continue
        say(f"run: {label}")
        uses = step.get("uses", "")
        if uses.startswith("actions/setup-python@"):
            outcome = setup_python(step, contexts, env)
        elif uses.startswith("actions/upload-artifact@"):
            outcome = upload_artifact(step, contexts, env)
        elif uses:
            raise SystemExit(f"actions-local-run: no local stand-in for {uses}")
        else:
            outcome = run_step(step, contexts, env)
        record = contexts["steps"].setdefault(step.get("id", ""), {"outputs": {}})
        record["outcome"] = record["conclusion"] = outcome
        if outcome != "success" and not step.get("continue-on-error"):
            failed = True
            say(f"failed: {label}")
    outputs = {name: evaluate(spec["value"], contexts) for name, spec in (action.get("outputs") or {}).items()}
    write_outputs(env["GITHUB_OUTPUT"], outputs)
    say(f"the job {'fails' if failed else 'succeeds'}; outputs in {env['GITHUB_OUTPUT']}")
    return 1 if failed else 0


sys.exit(main(sys.argv[1]))
PY
