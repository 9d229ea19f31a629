# syntax=docker/dockerfile:1
# streamer worker image: `docker build -t streamer:0.1.0 .` (the tag k8s/base names).
# Stage 1 builds the wheel; stage 2 installs it into a virtualenv with nothing else from the
# source tree, and runs as an unprivileged user whose uid the Kubernetes manifests name.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streamer ./streamer
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV VIRTUAL_ENV=/opt/streamer \
    PATH=/opt/streamer/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STREAMER_DATA_DIR=/var/lib/streamer \
    STREAMER_WEB_HOST=0.0.0.0
# Every dependency ships a manylinux wheel, so no compiler is needed here.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    python -m venv /opt/streamer \
    && /opt/streamer/bin/pip install --no-cache-dir /dist/*.whl \
    && groupadd --system --gid 10001 streamer \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin streamer \
    && mkdir -p /var/lib/streamer \
    && chown 10001:10001 /var/lib/streamer
USER 10001:10001
WORKDIR /var/lib/streamer
VOLUME ["/var/lib/streamer"]
EXPOSE 6066
# The worker is PID 1 and handles SIGTERM itself (it commits, leaves the group and exits).
ENTRYPOINT ["streamer"]
CMD ["worker"]
