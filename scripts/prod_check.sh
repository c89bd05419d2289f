#!/usr/bin/env bash
# The production check: brings up the real shape from this repository's Dockerfile and
# docker-compose.yml (with deploy/compose.hostnet.yml: host networking, loopback ports) and
# exercises it black-box through nginx: a member journey, then faults under load (an API instance
# SIGKILLed, Redis stopped 10 s, PostgreSQL restarted, the Celery worker killed mid fan-out),
# printing what was done and what was lost. Exits non-zero when anything is lost or a step fails.
#
#   bash scripts/prod_check.sh          # as root; installs docker.io, debootstrap, docker-compose
#
# Images come from Debian's packages (no registry): a debootstrapped bookworm imported as
# gjj-base:bookworm (kept between runs), then the repo's Dockerfile on top of it. The build gets
# this machine's CA bundle and pip/npm index settings copied into deploy/build-config/ for the
# duration of the build (never committed). Only when the Docker engine cannot start does the check
# run the same topology as plain processes, and it says so.
#
# Ports: GJJ_CHECK_PORT_BASE (18600) + 80 nginx public, +81 ops listener, +1/+2 the members' API
# instances, +3 the core system's, +32 PostgreSQL, +79 Redis, +11/+12/+13 the Alipay/WeChat/dysms
# fakes, +91 worker metrics.
# GJJ_CHECK_MODE=processes runs the fallback even where Docker works (to try it).
# GJJ_CHECK_KEEP_IMAGES=1 keeps the built images (and their build cache) for the next run.
# RabbitMQ: the machine's (GJJ_CHECK_AMQP, default amqp://guest:guest@127.0.0.1:5672) on a vhost
# of the check's own.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE=${GJJ_CHECK_PORT_BASE:-18600}
export CHECK_PUBLIC_PORT=$((BASE + 80)) CHECK_OPS_PORT=$((BASE + 81))
export CHECK_API1_PORT=$((BASE + 1)) CHECK_API2_PORT=$((BASE + 2)) CHECK_API_INTERNAL_PORT=$((BASE + 3))
export CHECK_PG_PORT=$((BASE + 32)) CHECK_REDIS_PORT=$((BASE + 79))
export CHECK_WORKER_METRICS_PORT=$((BASE + 91))
ALIPAY_PORT=$((BASE + 11)) WECHAT_PORT=$((BASE + 12)) DYSMS_PORT=$((BASE + 13))
AMQP=${GJJ_CHECK_AMQP:-amqp://guest:guest@127.0.0.1:5672}
VHOST="gjj-prod-check-$$"
export CHECK_BROKER_URL="$AMQP/$VHOST"
BASE_IMAGE=gjj-base:bookworm
PROJECT=gjjprodcheck
IMAGES=(gjj-hall:latest gjj-proxy:latest gjj-datastores:latest)
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

WORK=$(mktemp -d -t gjj-prod-check.XXXXXX)  # under $TMPDIR
export CHECK_DIR=$WORK
STARTED_DOCKERD=""
FAKES_PID=""
MODE=docker
STARTED_AT=$(date +%s)

say() { echo "== prod-check [$(($(date +%s) - STARTED_AT))s]: $*"; }
loud() {
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! prod-check: $*"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
}

compose() {
  docker-compose -p "$PROJECT" -f docker-compose.yml -f deploy/compose.hostnet.yml \
    --env-file "$WORK/compose.env" "$@"
}

cleanup() {
  local rc=$?
  set +e
  say "cleaning up"
  if [ "$MODE" = docker ] && [ -f "$WORK/compose.env" ]; then
    compose logs --no-color >"$WORK/compose.log" 2>&1
    compose down -v --remove-orphans >/dev/null 2>&1
    if [ "${GJJ_CHECK_KEEP_IMAGES:-0}" != 1 ]; then
      docker rmi "${IMAGES[@]}" >/dev/null 2>&1
      docker image prune -f >/dev/null 2>&1
    fi
  fi
  [ "$MODE" = processes ] && bash scripts/prod_check_processes.sh stop-all "$WORK" >/dev/null 2>&1
  [ -n "$FAKES_PID" ] && kill "$FAKES_PID" 2>/dev/null && wait "$FAKES_PID" 2>/dev/null
  find deploy/build-config -mindepth 1 ! -name .gitignore -delete 2>/dev/null
  rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1
  if [ -n "$STARTED_DOCKERD" ]; then
    kill "$STARTED_DOCKERD" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
  fi
  if [ $rc -ne 0 ] && [ -f "$WORK/compose.log" ]; then
    echo "--- last lines of the containers' logs ($WORK/compose.log kept)"
    tail -n 60 "$WORK/compose.log"
  else
    rm -rf "$WORK"
  fi
  say "done in $(($(date +%s) - STARTED_AT)) s, exit $rc"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the engine --------------------------------------------------------------------------------

ensure_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v envsubst >/dev/null || missing+=(gettext-base)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$WORK/apt.log" 2>&1; } ||
      say "could not install ${missing[*]} (see $WORK/apt.log)"
  fi
}

ensure_nginx() {  # the process fallback runs the proxy with the host's nginx
  command -v nginx >/dev/null && return 0
  say "installing nginx (its service not started: the check runs its own)"
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && added=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >"$WORK/apt-nginx.log" 2>&1 ||
    say "could not install nginx (see $WORK/apt-nginx.log)"
  [ -z "$added" ] || rm -f $policy
}

ensure_engine() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null || return 1
  say "starting dockerd (--bridge=none)"
  dockerd --bridge=none --iptables=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$WORK/dockerd.log" || true
  return 1
}

ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image $BASE_IMAGE cached"
    return
  fi
  say "debootstrap bookworm (minbase) for $BASE_IMAGE: a few minutes, once per machine"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log"; return 1; }
  tar -C "$WORK/rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
}

# This machine's CA bundle and index settings, for pip and npm inside the build (never committed).
write_build_config() {
  local dir=deploy/build-config cert registry index extra
  cert=$(pip config get global.cert 2>/dev/null || true)
  [ -f "$cert" ] || cert=/etc/ssl/certs/ca-certificates.crt
  cp "$cert" "$dir/ca.crt"
  index=$(pip config get global.index-url 2>/dev/null || true)
  extra=$(pip config get global.extra-index-url 2>/dev/null | tr ' ' '\n' | grep -E '^https?://' | tr '\n' ' ' || true)
  registry=$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
  {
    echo "PIP_CERT=/etc/gjj-build/ca.crt"
    echo "PIP_DISABLE_PIP_VERSION_CHECK=1"
    echo "PIP_DEFAULT_TIMEOUT=180"
    case "$index" in http*) echo "PIP_INDEX_URL=$index" ;; esac
    [ -n "${extra// /}" ] && echo "PIP_EXTRA_INDEX_URL='${extra% }'"
    echo "NPM_CONFIG_CAFILE=/etc/gjj-build/ca.crt"
    echo "NPM_CONFIG_REGISTRY=$registry"
    echo "NPM_CONFIG_UPDATE_NOTIFIER=false"
  } >"$dir/build.env"
}

build_images() {
  write_build_config
  local args=(--network host --build-arg "BASE=$BASE_IMAGE")
  say "building gjj-proxy (nginx + the H5 build) and gjj-hall (the wheel) from ./Dockerfile"
  docker build "${args[@]}" --target proxy -t gjj-proxy:latest . >"$WORK/build-proxy.log" 2>&1 ||
    { tail -n 40 "$WORK/build-proxy.log"; return 1; }
  docker build "${args[@]}" --target app -t gjj-hall:latest . >"$WORK/build-app.log" 2>&1 ||
    { tail -n 40 "$WORK/build-app.log"; return 1; }
  say "building gjj-datastores (PostgreSQL 15, Redis) from deploy/datastores.Dockerfile"
  docker build "${args[@]}" -f deploy/datastores.Dockerfile -t gjj-datastores:latest . \
    >"$WORK/build-datastores.log" 2>&1 || { tail -n 40 "$WORK/build-datastores.log"; return 1; }
  find deploy/build-config -mindepth 1 ! -name .gitignore -delete
}

# --- the fakes and the configuration ------------------------------------------------------------

start_fakes() {
  [ -x .venv/bin/python ] || make install >/dev/null
  mkdir -p "$WORK/keys"
  .venv/bin/python -m adapters.fakes serve --keys-dir "$WORK/keys" \
    --alipay-port "$ALIPAY_PORT" --wechat-port "$WECHAT_PORT" --dysms-port "$DYSMS_PORT" \
    --dysms-key-id LTAIprodcheck --dysms-key-secret "$DYSMS_SECRET" \
    --dysms-sign-name 示范公积金 --dysms-templates SMS_CHECK_CODE,SMS_CHECK_PUSH \
    --state "$WORK/fakes-state.json" --info-file "$WORK/fakes.json" >"$WORK/fakes.log" 2>&1 &
  FAKES_PID=$!
  for _ in $(seq 50); do [ -s "$WORK/fakes.json" ] && break; sleep 0.2; done
  [ -s "$WORK/fakes.json" ] || { cat "$WORK/fakes.log"; return 1; }
  chmod 0755 "$WORK/keys" && chmod 0644 "$WORK/keys"/*  # the app runs as uid 10001
}

rand() { .venv/bin/python -c "import secrets,base64;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"; }

write_config() {
  DYSMS_SECRET=$(rand)
  INTERNAL_SECRET=$(rand)
  export DYSMS_SECRET INTERNAL_SECRET
  .venv/bin/python - "$WORK/fakes-state.json" <<'PY'
import json, sys
from backend.push.templates import DEFAULT_TEMPLATES
wx = sorted({entry["template_id"] for entry in DEFAULT_TEMPLATES["wechat"].values()})
json.dump({"wechat": {"templates": [{"template_id": t} for t in wx]}}, open(sys.argv[1], "w"))
PY
  cat >"$WORK/compose.env" <<EOF
CHECK_DIR=$WORK
CHECK_PG_PORT=$CHECK_PG_PORT
CHECK_REDIS_PORT=$CHECK_REDIS_PORT
CHECK_BROKER_URL=$CHECK_BROKER_URL
CHECK_API1_PORT=$CHECK_API1_PORT
CHECK_API2_PORT=$CHECK_API2_PORT
CHECK_API_INTERNAL_PORT=$CHECK_API_INTERNAL_PORT
CHECK_PUBLIC_PORT=$CHECK_PUBLIC_PORT
CHECK_OPS_PORT=$CHECK_OPS_PORT
CHECK_WORKER_METRICS_PORT=$CHECK_WORKER_METRICS_PORT
POSTGRES_PASSWORD=$(rand | tr -d '=_-')
GJJ_ENV_FILE=$WORK/app.env
EOF
}

write_app_env() {
  local wechat_url alipay_url dysms_url
  wechat_url=$(.venv/bin/python -c "import json,sys;print(json.load(open(sys.argv[1]))['wechat_base_url'])" "$WORK/fakes.json")
  alipay_url=$(.venv/bin/python -c "import json,sys;print(json.load(open(sys.argv[1]))['alipay_gateway_url'])" "$WORK/fakes.json")
  dysms_url=$(.venv/bin/python -c "import json,sys;print(json.load(open(sys.argv[1]))['dysms_url'])" "$WORK/fakes.json")
  # Everything production needs, generated; the platforms' base URLs point at the loopback fakes.
  cat >"$WORK/app.env" <<EOF
GJJ_ENV=production
GJJ_PII_KEY=$(rand)
GJJ_LOOKUP_KEY=$(rand)
GJJ_INTERNAL_KEYS=core:$INTERNAL_SECRET
GJJ_PUBLIC_BASE_URL=https://gjj.example.gov.cn
GJJ_CENTRE_NAME=示范市住房公积金管理中心
GJJ_WEB_WORKERS=3
GJJ_WEB_THREADS=8
GJJ_LOG_LEVEL=WARNING
GJJ_SMS_BACKEND=dysms
GJJ_DYSMS_ENDPOINT=$dysms_url
GJJ_DYSMS_ACCESS_KEY_ID=LTAIprodcheck
GJJ_DYSMS_ACCESS_KEY_SECRET=$DYSMS_SECRET
GJJ_DYSMS_SIGN_NAME=示范公积金
GJJ_DYSMS_TEMPLATE_CODE=SMS_CHECK_CODE
GJJ_DYSMS_TEMPLATE_CODES=push:SMS_CHECK_PUSH
GJJ_CHANNELS=real
GJJ_ALIPAY_APP_ID=2021000000000001
GJJ_ALIPAY_PRIVATE_KEY=/run/gjj-keys/app_private_key.pem
GJJ_ALIPAY_PUBLIC_KEY=/run/gjj-keys/gateway_public_key.pem
GJJ_ALIPAY_AES_KEY=$(cat "$WORK/keys/aes_key.txt")
GJJ_ALIPAY_SERVER_URL=$alipay_url
GJJ_ALIPAY_CERTIFY_RETURN_URL=alipays://platformapi/startapp?appId=2021000000000001&page=pages/certify/done
GJJ_WECHAT_APP_ID=wxfake0000000001
GJJ_WECHAT_APP_SECRET=fake-wechat-secret
GJJ_WECHAT_BASE_URL=$wechat_url
GJJ_CHANNEL_TIMEOUT=3
GJJ_PUSH_SWEEP_INTERVAL=5
GJJ_PUSH_LOCK_SECONDS=15
GJJ_PUSH_BACKOFF_BASE=2
GJJ_PUSH_BACKOFF_CAP=10
EOF
}

# --- bring it up ---------------------------------------------------------------------------------

up_docker() {
  say "docker-compose up (migrate once, api1, api2, api-internal, worker, beat, proxy, postgres, redis)"
  compose up -d --no-build >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; return 1; }
  local state
  state=$(docker inspect -f '{{.State.ExitCode}}' "$(compose ps -q migrate)")
  [ "$state" = 0 ] || { compose logs migrate; return 1; }
}

wait_ready() {
  for _ in $(seq 90); do
    curl -fsS -o /dev/null "http://127.0.0.1:$CHECK_PUBLIC_PORT/readyz" 2>/dev/null &&
      curl -fsS -o /dev/null "http://127.0.0.1:$CHECK_API_INTERNAL_PORT/readyz" 2>/dev/null && return 0
    sleep 1
  done
  say "the stack did not become ready"
  return 1
}

prepare_vhost() {
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    say "starting the machine's RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    rabbitmqctl -q wait --timeout 60 /var/lib/rabbitmq/mnesia/rabbit@"$(hostname -s)".pid >/dev/null 2>&1 ||
      sleep 15
  fi
  rabbitmqctl -q add_vhost "$VHOST" >/dev/null
  rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
}

# --- main ----------------------------------------------------------------------------------------

ensure_tools
prepare_vhost
write_config
start_fakes
write_app_env
if [ "${GJJ_CHECK_MODE:-docker}" != processes ] && ensure_engine; then
  ensure_base_image
  build_images
  up_docker
else
  MODE=processes
  loud "THE DOCKER ENGINE COULD NOT START: running the same topology as PLAIN PROCESSES instead"
  ensure_nginx
  bash scripts/prod_check_processes.sh start "$WORK"
fi
wait_ready
say "stack ready ($MODE); running the journey and the faults"
CHECK_MODE=$MODE CHECK_PROJECT=$PROJECT CHECK_INTERNAL_SECRET=$INTERNAL_SECRET \
  .venv/bin/python scripts/prod_journey.py \
  --public "http://127.0.0.1:$CHECK_PUBLIC_PORT" --ops "http://127.0.0.1:$CHECK_OPS_PORT" \
  --fakes "$WORK/fakes.json" --work "$WORK"
