#!/usr/bin/env bash
# With `commit-status: true`: a commit status `lightning-grader/<rubric>` on the graded commit
# reading "<score>/<max-score>", in the state the report step decided (success; failure below
# fail-under; error when nothing was graded), through GitHub's REST API with the job's token,
# which needs `statuses: write`. A refused request is a warning: the job's colour stays the
# fail-under's. Off a runner (no GITHUB_API_URL) it prints the request instead of sending it.
set -euo pipefail
case "${STATE:-}" in success | failure | error) ;; *) STATE=error ;; esac
rubric=${RUBRIC:-m14}
rubric=${rubric##*/}
rubric=${rubric%.yaml}
target=""
if [ -n "${GITHUB_SERVER_URL:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
    target="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
fi
body=$(python -P -c 'import json, sys
keys = ("state", "description", "context", "target_url")
print(json.dumps({k: v for k, v in zip(keys, sys.argv[1:]) if v}))' \
    "$STATE" "${SCORE:-0}/${MAX_SCORE:-0}" "lightning-grader/$rubric" "$target")
url="${GITHUB_API_URL:-https://api.github.com}/repos/${GITHUB_REPOSITORY:-OWNER/REPOSITORY}/statuses/${SHA:-}"
if [ -z "${GITHUB_API_URL:-}" ]; then
    echo "Not on a GitHub runner: the commit status is not sent. The request would be:"
    echo "POST $url"
    echo "$body"
    exit 0
fi
# The token reaches curl on a file descriptor, never on its command line.
if ! curl --fail-with-body --silent --show-error --output /dev/null --request POST \
    --header "Accept: application/vnd.github+json" --header "X-GitHub-Api-Version: 2022-11-28" \
    --header @<(printf 'Authorization: Bearer %s\n' "${GITHUB_TOKEN:-}") --data "$body" "$url"; then
    echo "::warning title=lightning-grader::The commit status was refused; the workflow needs \`permissions: statuses: write\`."
fi
echo "Commit status lightning-grader/$rubric: $STATE, ${SCORE:-0}/${MAX_SCORE:-0}."
