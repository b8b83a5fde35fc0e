#!/usr/bin/env bash
# The action's grading image: the one named in GRADER_IMAGE; else the one
# .github/workflows/publish-image.yml published for the tag the action is used at; else
# one built here from the action's Dockerfile. Writes `image=<name>` to $GITHUB_OUTPUT; writes
# `image=` and needs no engine when GRADER_SANDBOX names another backend than docker.
set -euo pipefail
if [ "${GRADER_SANDBOX:-docker}" != docker ]; then
    echo "GRADER_SANDBOX=$GRADER_SANDBOX: the submission runs without the grading image."
    echo "image=" >>"$GITHUB_OUTPUT"
    exit 0
fi
image=${GRADER_IMAGE:-}
if [ -z "$image" ]; then
    # The action's checkout is .../_actions/<owner>/<repository>/<ref>.
    ref=$(basename "$GITHUB_ACTION_PATH")
    repository=$(basename "$(dirname "$GITHUB_ACTION_PATH")")
    owner=$(basename "$(dirname "$(dirname "$GITHUB_ACTION_PATH")")")
    image="ghcr.io/${owner,,}/${repository,,}:$ref"
fi
if [ -n "${REGISTRY_PASSWORD:-}" ]; then
    registry=${image%%/*}
    # A first part without a dot, a colon or "localhost" is a Docker Hub user, not a registry.
    [[ "$image" == */* && ( "$registry" == *.* || "$registry" == *:* || "$registry" == localhost ) ]] || registry=
    printf '%s' "$REGISTRY_PASSWORD" | docker login ${registry:+"$registry"} --username "$REGISTRY_USERNAME" --password-stdin
fi
if docker image inspect "$image" >/dev/null 2>&1; then
    echo "Using $image from the runner."
elif [[ "$image" == */* ]] && docker pull --quiet "$image"; then
    echo "Pulled $image."
else
    echo "No image $image to pull: building one from the action's Dockerfile (a few minutes)."
    image=lightning-grader:latest
    docker build --label "lightning-grader.runner=$(bash "$GITHUB_ACTION_PATH/.ci/runner-label.sh")" \
        --tag "$image" "$GITHUB_ACTION_PATH"
fi
echo "image=$image" >>"$GITHUB_OUTPUT"
