#!/bin/sh
# A PostgreSQL cluster in PGDATA (initialised on first start, trust on loopback only), in the
# foreground as the postgres user: the check's database container.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PGPORT=${PGPORT:-5432}
BIN=/usr/lib/postgresql/15/bin
install -d -o postgres -g postgres -m 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  runuser -u postgres -- "$BIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:-gjj}" \
    --auth-local=trust --auth-host=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$BIN/postgres" -D "$PGDATA" -p "$PGPORT" -c listen_addresses= \
    -k /tmp >/dev/null 2>&1 &
  until runuser -u postgres -- "$BIN/pg_isready" -q -h /tmp -p "$PGPORT"; do sleep 0.2; done
  runuser -u postgres -- "$BIN/createdb" -h /tmp -p "$PGPORT" -U "${POSTGRES_USER:-gjj}" \
    "${POSTGRES_DB:-gjj}"
  runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec runuser -u postgres -- "$BIN/postgres" -D "$PGDATA" -p "$PGPORT" \
  -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp -c max_connections=200
