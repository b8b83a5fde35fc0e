#!/usr/bin/env bash
# A Gradescope-like image, built the way Gradescope builds one: from the grading image, as
# root, under Docker's default seccomp profile and capabilities (so namespaces are refused),
# with the autograder zip unpacked in /autograder/source and its setup.sh run there. Use it
# to try an autograder zip before uploading it:
#
#   .ci/gradescope-image.sh autograder.zip [IMAGE]
#   docker run --rm -v "$PWD/my-submission:/autograder/submission" IMAGE
#
# pip inside reaches the package index through this machine's TLS proxy: its CA is mounted
# for the build only, never kept in the image.
set -euo pipefail
zip=$(realpath "$1")
image=${2:-lightning-grader-gradescope:test}
base=${GRADER_IMAGE:-lightning-grader:latest}
ca=/etc/ssl/certs/ca-certificates.crt
name=lightning-grader-gradescope-build-$$
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"; docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
python3 -m zipfile -e "$zip" "$unpacked"
chmod -R a+rX "$unpacked"
proxy=()
[ ! -f "$ca" ] || proxy=(-v "$ca:/run/proxy-ca.crt:ro" -e PIP_CERT=/run/proxy-ca.crt)
docker run --name "$name" --user 0 --workdir /autograder \
    -v "$unpacked:/autograder/zip:ro" "${proxy[@]}" "$base" bash -c '
        set -e
        mkdir -p /autograder/submission /autograder/results
        cp -r /autograder/zip /autograder/source
        bash /autograder/source/setup.sh
        cp /autograder/source/run_autograder /autograder/run_autograder
        chmod 755 /autograder/run_autograder'
docker commit --change 'USER root' --change 'WORKDIR /autograder' \
    --change 'CMD ["/autograder/run_autograder"]' "$name" "$image" >/dev/null
echo "built $image"
