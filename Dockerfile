# One image for the work-compat worker and the workwebui dashboard; docker-compose.yml picks the
# command. Not built on the machine it was written on (no Docker engine there): hadolint lints it
# and tests/test_docker_files.py runs its commands and health check against a real Redis.

# -- build: wheels for the project and its runtime dependencies (pure Python or binary wheels) ------
FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY work_compat ./work_compat
COPY webui ./webui
COPY celery_shim ./celery_shim
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels ".[web,hiredis]"

# -- runtime: the wheels installed, nothing of the build stage kept --------------------------------
FROM python:3.12-slim-bookworm

LABEL org.opencontainers.image.title="work-compat" \
      org.opencontainers.image.description="gocraft/work-compatible Python worker and the workwebui dashboard" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEALTHCHECK_URL=http://127.0.0.1:5040/healthcheck

# The wheels come in through a bind mount, so no layer of this image holds them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/*.whl \
    && groupadd --system --gid 10001 work \
    && useradd --system --uid 10001 --gid work --no-create-home --shell /usr/sbin/nologin work

WORKDIR /app
# The example jobs the compose worker runs (`work-compat worker examples.python_worker.jobs:pool`
# imports them from the working directory); mount or copy your own module beside them.
COPY examples/python_worker ./examples/python_worker

# The `work` user made above, by number so a runtime can tell it is not root without /etc/passwd.
USER 10001:10001
EXPOSE 5040

# The dashboard's probe route; a worker container turns it off (docker-compose.yml does).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]

CMD ["workwebui", "-redis", "redis:6379", "-ns", "work", "-listen", "0.0.0.0:5040"]
