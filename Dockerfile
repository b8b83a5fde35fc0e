# The grading image: the runner (grader.contract + grader.runner) and what course code
# imports, in a venv at /opt/venv. The docker backend (grader/sandbox/docker.py) runs it.
#
#   docker build -t lightning-grader:latest .
#
# Build args:
#   BASE_IMAGE   any Debian-like image with Python 3.11 and venv (.ci/docker-setup.sh
#                builds one locally with debootstrap where no registry is reachable)
#   TORCH_INDEX  extra index for torch/torchvision; the CPU one keeps the image small
#
# Optional, git-ignored build context in .ci/docker-context/, seen by the deps stage only
# (the final image copies /opt/venv out of it, so neither file is left in a layer):
#   wheels/      a wheelhouse: install from it alone, with no network
#   ca.crt       the CA of a TLS-intercepting proxy, for pip
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS deps
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# The runner's own needs, then what course code commonly imports. The wheelhouse of
# .ci/docker-setup.sh is made from this same line. 2.6.2 and 2.6.3 of both lightning
# packages were compromised on PyPI.
ARG RUNNER_PACKAGES="torch==2.14.1 torchvision==0.29.1 lightning>=2.6.6 pytorch-lightning>=2.6.6 torchmetrics>=1.3 pydantic>=2.6 numpy>=1.26 matplotlib wandb hydra-core omegaconf typer setuptools>=70.1"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The glob lets the build go on when .ci/docker-context/ does not exist.
COPY .dockerignore .ci/docker-contex[t] /ctx/
RUN set -e; \
    if [ -f /ctx/ca.crt ]; then export PIP_CERT=/ctx/ca.crt; fi; \
    if [ -d /ctx/wheels ]; then \
        export PIP_NO_INDEX=1 PIP_FIND_LINKS=/ctx/wheels; \
    else \
        export PIP_EXTRA_INDEX_URL="$TORCH_INDEX"; \
    fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install $RUNNER_PACKAGES

FROM deps AS wheel
COPY pyproject.toml setup.py README.m[d] /src/
COPY grader /src/grader
RUN /opt/venv/bin/pip wheel --no-deps --no-build-isolation --no-index -w /dist /src

FROM ${BASE_IMAGE}
# A fixed non-root uid; the docker backend runs as it (or as the host's own uid).
RUN groupadd --gid 10001 grader \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp grader
COPY --from=deps /opt/venv /opt/venv
COPY --from=wheel /dist /tmp/dist
RUN /opt/venv/bin/pip install --no-deps --no-index --no-cache-dir /tmp/dist/*.whl \
    && /opt/venv/bin/python -c "import grader.runner, lightning, pytorch_lightning, torch" \
    && rm -rf /tmp/*
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /output
CMD ["python", "-m", "grader.runner", "--help"]
