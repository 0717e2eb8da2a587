# emoji-ops: one image for every process type (docs/operations.md).
#   docker build -t emoji-ops .
#   docker run --env-file .env -p 3000:3000 emoji-ops                  # HTTP mode (the default CMD)
#   docker run --env-file .env emoji-ops python -m bot socket          # Socket Mode
#   docker run --env-file .env emoji-ops python -m bot migrate         # optional release step
# `serve` and `socket` apply migrations at start themselves (serialised by a PostgreSQL advisory lock), so the
# migrate step is only needed where a platform wants a separate release phase.

FROM python:3.11-slim-trixie AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/emoji-ops
COPY pyproject.toml constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
# Every dependency at the version CI tested (constraints.txt); a non-editable install, so /src is not needed later.
RUN /opt/emoji-ops/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim-trixie
# A font with CJK glyphs, so charts for zh-CN teams keep their Chinese labels (bot/render/chart.py).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid/gid, the same as runAsUser in deploy/k8s/deployment.yaml. /data is writable for a SQLite
# file when the image runs alone (DATABASE_URL=sqlite:////data/emoji-ops.db with a volume there).
RUN groupadd --system --gid 10001 emoji-ops \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin emoji-ops \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/emoji-ops /opt/emoji-ops
# MPLCONFIGDIR: matplotlib's font cache goes to /tmp (an emptyDir in Kubernetes; the root filesystem is read-only).
ENV PATH=/opt/emoji-ops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PORT=3000
# BOT_CONFIG defaults to config/bot.yaml here: mount a file at /app/config/bot.yaml, or set BOT_CONFIG.
WORKDIR /app
USER 10001:10001
EXPOSE 3000
# No curl in slim images: the standard library asks /healthz (200, or 503 with the reason; any error exits 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
CMD ["python", "-m", "bot", "serve"]
