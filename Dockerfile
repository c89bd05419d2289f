# The production image of the hall: the wheel (not an editable install) in a virtualenv, run as an
# unprivileged user, with the H5 build of the mini-program. Debian bookworm throughout (its Python
# is 3.11). BASE may name any bookworm image: scripts/prod_check.sh builds one from Debian's
# packages (debootstrap) where no registry is reachable.
#   docker build -t gjj-hall .                 # the API, worker, beat and migrate image
#   docker build -t gjj-proxy --target proxy . # nginx in front of it
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS base
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
# The building machine's CA bundle and pip/npm settings, when it needs them to reach the package
# indexes (copied in by the builder, never committed; see deploy/build-config/.gitignore).
COPY deploy/build-config/ /etc/gjj-build/
RUN printf 'set -a\n[ -f /etc/gjj-build/build.env ] && . /etc/gjj-build/build.env\nset +a\n' \
      > /usr/local/bin/with-build-config \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

FROM base AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backend backend
COPY adapters adapters
# The project's wheel and every dependency's, so the runtime stage installs with no index at all.
RUN . /usr/local/bin/with-build-config \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --upgrade pip \
    && /opt/build/bin/pip wheel --wheel-dir /wheels .

FROM base AS h5
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /miniapp
COPY miniapp/package.json miniapp/package-lock.json ./
RUN . /usr/local/bin/with-build-config && CI=true npm ci --no-audit --no-fund
COPY miniapp/ ./
RUN CI=true npm run build:h5 && test -f dist/build/h5/index.html

FROM base AS proxy
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx gettext-base \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /etc/nginx/sites-enabled/default
COPY deploy/nginx.conf.template /etc/nginx/gjj.conf.template
COPY deploy/nginx-entrypoint.sh /usr/local/bin/nginx-entrypoint
COPY --from=h5 /miniapp/dist/build/h5 /srv/h5
ENV GJJ_PUBLIC_LISTEN=8080 GJJ_OPS_LISTEN=8081 GJJ_API_1=api1:8000 GJJ_API_2=api2:8000 \
    GJJ_API_INTERNAL=api-internal:8000
EXPOSE 8080
CMD ["/usr/local/bin/nginx-entrypoint"]

FROM base AS app
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv fonts-wqy-zenhei fontconfig \
    && rm -rf /var/lib/apt/lists/* \
    && rm -rf /etc/gjj-build \
    && useradd --system --uid 10001 --home-dir /var/lib/gjj --create-home --shell /usr/sbin/nologin gjj
COPY --from=wheels /wheels /wheels
RUN python3 -m venv /opt/gjj \
    && /opt/gjj/bin/pip install --no-cache-dir --no-index --find-links /wheels gjj-hall \
    && rm -rf /wheels
COPY --from=h5 /miniapp/dist/build/h5 /opt/gjj/h5
ENV PATH=/opt/gjj/bin:$PATH \
    GJJ_INSTANCE_DIR=/var/lib/gjj \
    GJJ_H5_DIR=/opt/gjj/h5 \
    GJJ_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
USER gjj
WORKDIR /var/lib/gjj
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=10s --retries=3 CMD ["python", "-m", "backend.healthz"]
CMD ["gunicorn", "-c", "python:backend.gunicorn_conf", "backend.wsgi:app"]
