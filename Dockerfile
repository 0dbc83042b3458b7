# syntax=docker/dockerfile:1
# One image pattern for every Paperwire service; the service is chosen at build time:
#   docker build --build-arg SERVICE=indexer -t paperwire-indexer .
#   docker run --rm -e PAPERWIRE_KAFKA_BOOTSTRAP=... paperwire-indexer
# SERVICE: a worker of paperwire_common/workers.py (enricher, indexer, trending) or gateway
# (`paperwire run <SERVICE> --backend kafka`).
# One-shot commands (`paperwire streams create`, `paperwire ingest ...`) run in any of these images by overriding
# the command (docker-compose.yml does so for `streams` and `seed`).

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------------------------
# build: locked dependencies, generated gRPC code, the project (editable, exactly like `make install`).
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# 1. Runtime dependencies only: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# 2. The protoc toolchain (grpcio-tools is a dev dependency) in its own environment, which never reaches the
#    runtime image; the lock pins it together with the grpcio/protobuf versions the runtime uses.
#    (A layer of its own: it is cached independently of the runtime dependencies above.)
# hadolint ignore=DL3059
RUN --mount=type=cache,target=/root/.cache/uv \
    UV_PROJECT_ENVIRONMENT=/opt/protoc uv sync --frozen --only-group dev --no-install-project

# 3. Sources, then the gRPC code generated from proto/ (same command as `make proto`), then the project itself.
COPY proto ./proto
COPY services ./services
RUN rm -rf services/paperwire && mkdir -p services/paperwire \
 && find proto -name '*.proto' -exec /opt/protoc/bin/python -m grpc_tools.protoc -Iproto --python_out=services \
      --grpc_python_out=services --pyi_out=services {} + \
 && test -n "$(find services/paperwire -name '*_pb2_grpc.py')"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
 && /app/.venv/bin/python -m compileall -q services \
 && /app/.venv/bin/paperwire streams list >/dev/null

# ---------------------------------------------------------------------------------------------------------------
# runtime: the virtualenv and sources only (no uv, no compilers, no dev tools), run as a non-root user.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 paperwire \
 && useradd --system --uid 10001 --gid paperwire --home-dir /app --no-create-home --shell /usr/sbin/nologin paperwire

# Owned by root and read-only for the service user: the process cannot modify its own code. The one writable
# place is /app/.paperwire (the ingestor's default checkpoint dir, relative to the working directory).
COPY --from=build /app /app
RUN install -d -o paperwire -g paperwire /app/.paperwire

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PAPERWIRE_HEALTH_HOST=0.0.0.0
WORKDIR /app
# Numeric, so that a runtime can verify it is not root (Kubernetes runAsNonRoot).
USER 10001:10001

# Last, so that every service image shares all the layers above.
ARG SERVICE
ENV PAPERWIRE_SERVICE=${SERVICE}
# The probe: GET /healthz on this container's service port, from the registry of workers
# (paperwire_common/workers.py) and the service's settings (PAPERWIRE_<SERVICE>_HEALTH_PORT, PAPERWIRE_GATEWAY_PORT).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["paperwire", "healthcheck"]
# exec: paperwire is PID 1 and receives SIGTERM itself (it drains the batch in flight and commits).
CMD ["sh", "-c", "exec paperwire run \"${PAPERWIRE_SERVICE:?build with --build-arg SERVICE=<service>}\" --backend kafka"]
