# PostgreSQL 15 and Redis from Debian's packages, for scripts/prod_check.sh on machines that reach
# no image registry (an operator uses the postgres:15 and redis:7 images of docker-compose.yml).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 redis-server \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/postgres-run.sh /usr/local/bin/postgres-run
