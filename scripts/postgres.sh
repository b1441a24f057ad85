#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL cluster on loopback for the tests.
#   scripts/postgres.sh start DIR   -> prints a database URL
#   scripts/postgres.sh stop DIR
# Installs Debian's postgresql when it is missing (needs root, as CI has).
set -euo pipefail
action=${1:?start|stop}
dir=${2:?data folder}
free_port() {  # a port nobody listens on, so a cluster left running elsewhere does not collide
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=${PGPORT_TEST:-$(free_port)}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$bindir" ] && [ "$action" = start ]; then
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
run_as() {  # PostgreSQL refuses to run as root: use the postgres user when we are root
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}
case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      run_as "$bindir/initdb -D '$dir' -U chimeqda --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    fi
    if ! run_as "$bindir/pg_ctl -D '$dir' -l '$dir/server.log' -w -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c max_connections=200\" start" >/dev/null; then
      echo "PostgreSQL did not start; its log says:" >&2
      tail -n 20 "$dir/server.log" >&2
      exit 1
    fi
    echo "postgresql://chimeqda@127.0.0.1:$port/postgres"
    ;;
  stop)
    run_as "$bindir/pg_ctl -D '$dir' -m fast stop" >/dev/null 2>&1 || true
    ;;
esac
