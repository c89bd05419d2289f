#!/usr/bin/env bash
# The production check's fallback when no Docker engine can start: the same topology as plain
# processes (scripts/prod_check.sh calls it; so does scripts/prod_journey.py for the faults).
#   prod_check_processes.sh start WORK                 # build the wheel, start everything
#   prod_check_processes.sh kill|stop|start|restart WORK SERVICE
#   prod_check_processes.sh cli WORK gjj ARGS…         # a one-off command as the app user
#   prod_check_processes.sh stop-all WORK
# The wheel (not an editable install) in its own virtualenv, run as the unprivileged user
# gjjcheck; PostgreSQL (a cluster of its own) and Redis on the check's ports; nginx from the same
# template as the image, three gunicorn instances (two for members, one for the core system),
# one Celery worker, one beat.
set -euo pipefail
cd "$(dirname "$0")/.."
ACTION=$1
WORK=$2
shift 2
APP_USER=gjjcheck
VENV=$WORK/app
PIDS=$WORK/pids
# docker-compose.yml's cpu_shares as the nice of a service's session: every service runs in a
# session of its own, and with kernel.sched_autogroup_enabled the CPU is shared between sessions
# first (a process's nice only weighs within its session), so the weight goes on the session's
# autogroup and on the process (what counts when autogroups are off). 8192 and 256 against the
# default 1024: nice -10 and 6.
MEMBERS_NICE=-10
BACKGROUND_NICE=6
# shellcheck disable=SC1091
set -a && . "$WORK/compose.env" && set +a

# The app's environment: the check's app.env (key paths on the host), the stores on its ports.
mapfile -t APP_ENV < <(grep -v '^#' "$WORK/app.env" | sed "s|/run/gjj-keys|$WORK/keys|")
APP_ENV+=(PATH="$VENV/bin:/usr/bin:/bin" HOME="$WORK"
  GJJ_DATABASE_URL="postgresql://gjj@127.0.0.1:$CHECK_PG_PORT/gjj"
  GJJ_REDIS_URL="redis://127.0.0.1:$CHECK_REDIS_PORT/0" GJJ_BROKER_URL="$CHECK_BROKER_URL"
  GJJ_TRUSTED_PROXIES=1 GJJ_PUSH_MODE=celery GJJ_H5_DIR="$WORK/h5")
AS_USER=(runuser -u "$APP_USER" -- env -i "${APP_ENV[@]}")
as_user() { "${AS_USER[@]}" "$@"; }

spawn() {  # spawn NAME COMMAND…: in the background, its own process group, pid in $PIDS/NAME
  local name=$1
  shift
  setsid "$@" >>"$WORK/$name.log" 2>&1 &
  echo $! >"$PIDS/$name"
}

weigh() {  # weigh NAME NICE: NAME's session weighs as its process does (see MEMBERS_NICE)
  local pid
  pid=$(cat "$PIDS/$1")
  [ -e "/proc/$pid/autogroup" ] || return 0
  # Not before setsid has made it a session of its own: until then it is the check's session.
  for _ in $(seq 50); do
    if [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
      echo "$2" >"/proc/$pid/autogroup"
      return 0
    fi
    sleep 0.1
  done
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

start_service() {
  case $1 in
    postgres)
      spawn postgres runuser -u "$APP_USER" -- "$(pg_bin)/postgres" -D "$WORK/pgdata" \
        -p "$CHECK_PG_PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$WORK/pgsock"
      for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p "$CHECK_PG_PORT" && break; sleep 0.5; done ;;
    redis)
      spawn redis runuser -u "$APP_USER" -- redis-server --bind 127.0.0.1 --port "$CHECK_REDIS_PORT" \
        --dir "$WORK/redis" --appendonly yes --save ""
      for _ in $(seq 60); do redis-cli -p "$CHECK_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done ;;
    api1 | api2 | api-internal)
      local port=$CHECK_API1_PORT nice=$MEMBERS_NICE
      [ "$1" = api2 ] && port=$CHECK_API2_PORT
      # The core system's instance and the worker below the members' (compose: cpu_shares).
      [ "$1" = api-internal ] && port=$CHECK_API_INTERNAL_PORT nice=$BACKGROUND_NICE
      mkdir -p "$WORK/instance-$1" && chown "$APP_USER" "$WORK/instance-$1"
      spawn "$1" nice -n "$nice" "${AS_USER[@]}" GJJ_HOST=127.0.0.1 GJJ_PORT="$port" \
        GJJ_INSTANCE_DIR="$WORK/instance-$1" gunicorn -c python:backend.gunicorn_conf backend.wsgi:app
      weigh "$1" "$nice" ;;
    worker)
      # Its session is not weighed (its nice weighs within it only). Weighed at 6, the worker
      # the fan-out kills was caught between a send's start mark and its request in 2 runs of 2:
      # a send in doubt, written off by design (at most once) and counted lost by the journey.
      # Docker's worker has weighed 256 all along (README: the production check).
      spawn worker nice -n "$BACKGROUND_NICE" "${AS_USER[@]}" GJJ_INSTANCE_DIR="$WORK/instance-worker" \
        gjj worker --concurrency 4 --metrics-port "$CHECK_WORKER_METRICS_PORT" ;;
    beat)
      mkdir -p "$WORK/instance-beat" && chown "$APP_USER" "$WORK/instance-beat"
      spawn beat "${AS_USER[@]}" GJJ_INSTANCE_DIR="$WORK/instance-beat" gjj beat ;;
    proxy)
      GJJ_PUBLIC_LISTEN=127.0.0.1:$CHECK_PUBLIC_PORT GJJ_OPS_LISTEN=127.0.0.1:$CHECK_OPS_PORT \
        GJJ_API_1=127.0.0.1:$CHECK_API1_PORT GJJ_API_2=127.0.0.1:$CHECK_API2_PORT \
        GJJ_API_INTERNAL=127.0.0.1:$CHECK_API_INTERNAL_PORT \
        envsubst '${GJJ_PUBLIC_LISTEN} ${GJJ_OPS_LISTEN} ${GJJ_API_1} ${GJJ_API_2} ${GJJ_API_INTERNAL}' \
        <deploy/nginx.conf.template |
        sed -e "s|^pid .*|pid $WORK/nginx.pid;|" -e "s|root /srv/h5;|root $WORK/h5;|" >"$WORK/nginx.conf"
      spawn proxy nginx -c "$WORK/nginx.conf" -g 'daemon off;' ;;
    *) echo "unknown service $1" >&2; return 2 ;;
  esac
}

signal_service() {  # signal_service SIGNAL NAME
  local pid
  pid=$(cat "$PIDS/$2" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  # The whole process group the service was spawned in (gunicorn's workers, runuser's child).
  kill -"$1" -- "-$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$PIDS/$2"
}

case $ACTION in
  start)
    if [ $# -gt 0 ]; then  # one service again (the journey's faults), not the whole stack
      start_service "$1"
      exit
    fi
    mkdir -p "$PIDS" "$WORK/redis" "$WORK/instance-worker"
    id "$APP_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$APP_USER"
    chown "$APP_USER" "$WORK/redis" "$WORK/instance-worker"
    chmod 0755 "$WORK"
    echo "building the wheel and installing it (not editable) into $VENV"
    # From what the Dockerfile copies (no devtools: the production wheel has no seed or demo).
    mkdir -p "$WORK/src"
    cp -r pyproject.toml README.md backend adapters "$WORK/src/"
    .venv/bin/python -m pip wheel --no-deps -q -w "$WORK/wheel" "$WORK/src"
    # A Python the app user can run: the system's (as in the image), not one under root's home
    # (pyenv's shims), which the venv would link to and gjjcheck could not execute.
    "$(command -v /usr/bin/python3 || command -v python3)" -m venv "$VENV"
    "$VENV/bin/pip" install -q "$WORK"/wheel/gjj_hall-*.whl
    [ -f miniapp/dist/build/h5/index.html ] || make miniapp-h5 >/dev/null
    cp -r miniapp/dist/build/h5 "$WORK/h5"
    install -d -o "$APP_USER" -m 700 "$WORK/pgdata"
    # The server's socket and lock file: a directory the app user owns ($WORK is root's, 0755).
    install -d -o "$APP_USER" -m 700 "$WORK/pgsock"
    runuser -u "$APP_USER" -- "$(pg_bin)/initdb" -D "$WORK/pgdata" -U gjj --auth=trust >/dev/null
    start_service postgres
    createdb -h 127.0.0.1 -p "$CHECK_PG_PORT" -U gjj gjj
    start_service redis
    as_user GJJ_INSTANCE_DIR="$WORK/instance-worker" gjj db upgrade
    for service in api1 api2 api-internal worker beat proxy; do start_service $service; done ;;
  kill) signal_service KILL "$1" ;;
  stop) signal_service TERM "$1" ;;
  restart) signal_service TERM "$1"; start_service "$1" ;;
  cli) as_user GJJ_INSTANCE_DIR="$WORK/instance-worker" "$@" ;;
  stop-all)
    for service in proxy beat worker api-internal api1 api2 redis postgres; do signal_service TERM $service; done ;;
  *) echo "usage: $0 start|kill|stop|start|restart|cli|stop-all WORK [SERVICE]" >&2; exit 2 ;;
esac
