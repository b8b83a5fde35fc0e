#!/usr/bin/env bash
# Makes the docker backend usable on a fresh Debian machine with no container registry:
# installs the engine, starts it, builds a local base image with debootstrap, fills a
# wheelhouse from the machine's own pip, and builds lightning-grader:latest. Idempotent:
# each step is skipped when its result is already there, the image when its inputs are
# unchanged.
#
# Environment:
#   GRADER_IMAGE       image to build (default lightning-grader:latest)
#   GRADER_BASE_IMAGE  base image to build on; when set, debootstrap is skipped
#                      (e.g. python:3.11-slim where a registry is reachable)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${GRADER_IMAGE:-lightning-grader:latest}
LOCAL_BASE=lightning-grader-base:bookworm
BASE_IMAGE=${GRADER_BASE_IMAGE:-$LOCAL_BASE}
CONTEXT=.ci/docker-context
WHEELS=$CONTEXT/wheels
DOCKERD_LOG=${TMPDIR:-/tmp}/lightning-grader-dockerd.log
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

step_started=0
step() { step_started=$(date +%s); echo "== $*"; }
done_step() { echo "   $* ($(($(date +%s) - step_started)) s)"; }

step "docker engine and debootstrap packages"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
[ "$BASE_IMAGE" != "$LOCAL_BASE" ] || command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    done_step "installed ${missing[*]}"
else
    done_step "present"
fi

step "docker engine"
if docker info >/dev/null 2>&1; then
    done_step "answers"
else
    # No init system starts it in a container-like CI machine: run it in the background.
    $SUDO setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        echo "dockerd did not come up; its log is $DOCKERD_LOG:" >&2
        tail -20 "$DOCKERD_LOG" >&2
        exit 1
    fi
    done_step "started dockerd (log: $DOCKERD_LOG)"
fi

# Grading containers left by a grader that was killed outright (SIGKILL gives no cleanup).
docker ps -aq --filter label=lightning-grader.run | xargs -r docker rm -f >/dev/null

step "base image $BASE_IMAGE"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    done_step "present"
elif [ "$BASE_IMAGE" != "$LOCAL_BASE" ]; then
    docker pull "$BASE_IMAGE"
    done_step "pulled"
else
    rootfs=$(mktemp -d)
    trap '$SUDO rm -rf "$rootfs"' EXIT
    $SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
    rm -f "$rootfs.log"
    # Package caches and the host's resolver and name have no place in the image.
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    $SUDO truncate -s 0 "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
    $SUDO tar -C "$rootfs" -c . | docker import - "$LOCAL_BASE" >/dev/null
    $SUDO rm -rf "$rootfs"
    trap - EXIT
    done_step "built with debootstrap"
fi

# What the image is made of (the Dockerfile holds the package list); its hash labels the
# image, so that unchanged inputs skip the wheelhouse and the build.
input_files() {
    for file in Dockerfile .dockerignore .ci/docker-setup.sh pyproject.toml setup.py README.md; do
        [ ! -f "$file" ] || echo "$file"
    done
    find grader -type f -not -path '*/__pycache__/*' -not -name '*.pyc'
}
inputs=$(
    {
        input_files | LC_ALL=C sort | xargs sha256sum
        docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
    } | sha256sum | cut -c1-16
)
built=$(docker image inspect --format '{{index .Config.Labels "lightning-grader.inputs"}}' "$IMAGE" 2>/dev/null || true)
if [ "$built" = "$inputs" ]; then
    step "grading image $IMAGE"
    done_step "up to date (inputs $inputs)"
    docker image ls "${IMAGE%%:*}"
    exit 0
fi

step "wheelhouse $WHEELS"
# The image installs from these wheels alone, made by this machine's pip.
packages=$(sed -n 's/^ARG RUNNER_PACKAGES="\(.*\)"$/\1/p' Dockerfile)
[ -n "$packages" ] || { echo "no RUNNER_PACKAGES line in Dockerfile" >&2; exit 1; }
if [ "$(cat "$WHEELS/.packages" 2>/dev/null)" = "$packages" ]; then
    done_step "up to date"
else
    python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "the image runs Python 3.11"'
    rm -rf "$WHEELS"
    mkdir -p "$WHEELS"
    # shellcheck disable=SC2086  # one word per requirement
    python3 -m pip wheel -q --wheel-dir "$WHEELS" $packages >"$WHEELS.log" 2>&1 \
        || { tail -40 "$WHEELS.log" >&2; exit 1; }
    rm -f "$WHEELS.log"
    echo "$packages" >"$WHEELS/.packages"
    done_step "$(find "$WHEELS" -name '*.whl' | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1)"
fi

step "grading image $IMAGE"
# Without the buildx plugin the client would refuse BuildKit; the classic builder suffices.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
# The docker backend refuses an image whose runner differs from the checkout's.
runner=$(bash .ci/runner-label.sh)
log=$(mktemp)
docker build --build-arg BASE_IMAGE="$BASE_IMAGE" --label lightning-grader.inputs="$inputs" \
    --label lightning-grader.runner="$runner" --tag "$IMAGE" . >"$log" 2>&1 \
    || { tail -40 "$log" >&2; exit 1; }
rm -f "$log"
# Earlier builds of the image, now untagged.
docker image prune --force --filter label=lightning-grader.inputs >/dev/null
done_step "built (inputs $inputs)"
docker image ls "${IMAGE%%:*}"
