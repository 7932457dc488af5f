# syntax=docker/dockerfile:1
# The one image recipe of every taskplane program. Build context: the repository root;
# the build args name the app, e.g. the task-service:
#   docker build -t taskplane/task-service:dev \
#     --build-arg APP_DIR=apps/task-service \
#     --build-arg APP_ENTRYPOINT="python -m task_service" \
#     --build-arg APP_HEALTH_PORT=8003 --build-arg APP_ARGS=serve .
# The table of every image and its args is IMAGE_ARGS in k8s/kind.mk (make image-args)
# and the matrix of .github/workflows/images.yml.
# Base: python 3.11 slim pinned by version; pin by digest too in your registry mirror
# if you need bit-for-bit rebuilds (Renovate/Dependabot can bump both).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
# The web console's single-page app is built with Node (SvelteKit 2 needs Node 20+).
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# The console's static files (apps/console/web/build): `npm ci` from the committed lockfile,
# then the build (API types generated from docs/api/*.openapi.json). Every image carries
# the ~200 KB result in /srv/console; only the console service serves it.
FROM ${NODE_IMAGE} AS console
WORKDIR /src/apps/console/web
COPY docs/api /src/docs/api
COPY apps/console/web/package.json apps/console/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY apps/console/web ./
RUN npm run build

FROM ${PYTHON_IMAGE} AS builder
# Directory of the app's Python package (pyproject.toml), relative to the repository root.
ARG APP_DIR
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements-lock.txt ./
COPY apps ./apps
COPY operator ./operator
# Wheels of every in-repo package first, so a dependency on a sibling package
# (taskplane-common, the client library) resolves from /wheels/local; then the app
# and its third-party dependencies, pinned by requirements-lock.txt, into a venv.
RUN test -n "${APP_DIR}" || { echo "--build-arg APP_DIR=<app directory> is required" >&2; exit 1; } \
 && test -f "${APP_DIR}/pyproject.toml" \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels/local ./apps/*/ ./operator \
 && /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels/app "./${APP_DIR}" \
 && /opt/venv/bin/pip install --no-cache-dir --find-links /wheels/local \
      -c requirements-lock.txt /wheels/app/*.whl

FROM ${PYTHON_IMAGE}
# The command that starts the app, its default arguments, and the port of its /healthz.
ARG APP_DIR
ARG APP_ENTRYPOINT
ARG APP_ARGS=""
ARG APP_HEALTH_PORT
LABEL org.opencontainers.image.title="taskplane ${APP_DIR}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENTRYPOINT=${APP_ENTRYPOINT} \
    APP_ARGS=${APP_ARGS} \
    APP_HEALTH_URL=http://127.0.0.1:${APP_HEALTH_PORT}/healthz
# Numeric non-root user (Kubernetes runAsUser 10001); the venv is the only thing copied
# from the builder: no compilers, no wheels, no pip cache.
RUN test -n "${APP_ENTRYPOINT}" && test -n "${APP_HEALTH_PORT}" \
 && groupadd --system --gid 10001 taskplane \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin taskplane
COPY --from=builder /opt/venv /opt/venv
COPY --from=console /src/apps/console/web/build /srv/console
ENV TASKPLANE_STATIC_DIR=/srv/console
WORKDIR /tmp
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['APP_HEALTH_URL'], timeout=3)"]
# `docker run IMAGE` runs "$APP_ENTRYPOINT $APP_ARGS"; arguments given replace APP_ARGS.
ENTRYPOINT ["/bin/sh", "-c", "[ \"$#\" -gt 0 ] || set -- $APP_ARGS; exec $APP_ENTRYPOINT \"$@\"", "--"]
