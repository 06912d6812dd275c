#!/bin/sh
# A throwaway PostgreSQL server for the tests: its own data folder, on
# 127.0.0.1 with a free port (and a Unix socket in the folder), stopped by
# its PID. PostgreSQL refuses to run as root: as root the server runs as
# the postgres user (made by Debian's postgresql package), its folder given
# to that user.
#
#   eval "$(sh tests/pg_server.sh start [OWNER_PID])"
#                                           sets PG_DIR and PG_URL
#                                           (postgresql://parley@127.0.0.1:PORT/parley);
#                                           with OWNER_PID the server is also
#                                           stopped once that process is gone,
#                                           should it die before it stops it
#   sh tests/pg_server.sh restart "$PG_DIR" a fast shutdown, then up again on
#                                           the same port with the same data
#   sh tests/pg_server.sh stop "$PG_DIR"    a fast shutdown (SIGINT to its PID,
#                                           SIGKILL after 10 s), the folder removed
#
# The folder is made in $TMPDIR (else /tmp), which the postgres user must
# be able to enter. fsync is off: the tests stop servers cleanly or kill
# parley, never the machine.
set -eu

fail() {
  echo "tests/pg_server.sh: $*" >&2
  exit 1
}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] ||
  fail "PostgreSQL's server is not installed (make deps installs postgresql)"

# as CMD...: CMD as the user the server runs as
as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# up DIR PORT: pg_ctl start on PORT, waiting until it accepts connections
up() {
  as "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 -o \
    "-p $2 -k $1 -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200 ${PG_SERVER_OPTIONS:-}" \
    start >>"$1/pg_ctl.log" 2>&1
}

# the server's PID, from the first line of postmaster.pid
record_pid() {
  head -n 1 "$1/data/postmaster.pid" >"$1/pid"
}

# down DIR: SIGINT (fast shutdown) to the PID recorded, SIGKILL after 10 s
down() {
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  kill -INT "$pid" 2>/dev/null || return 0
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
      kill -KILL "$pid" 2>/dev/null || :
      break
    fi
    sleep 0.1
  done
}

case "${1:-}" in
start)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/parley-pg.XXXXXX")
  [ "$(id -u)" != 0 ] || chown postgres "$dir"
  as "$bin/initdb" -D "$dir/data" -U parley -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    fail "initdb failed"
  }
  started=0
  for attempt in 1 2 3 4 5; do # another process may take the free port first
    port=$(free_port)
    if up "$dir" "$port"; then
      started=1
      break
    fi
  done
  if [ $started = 0 ]; then
    cat "$dir/server.log" >&2 2>/dev/null || :
    rm -rf "$dir"
    fail "the server did not start"
  fi
  record_pid "$dir"
  echo "$port" >"$dir/port"
  as "$bin/createdb" -h 127.0.0.1 -p "$port" -U parley parley >>"$dir/pg_ctl.log" 2>&1 || {
    down "$dir"
    rm -rf "$dir"
    fail "createdb failed"
  }
  owner=${2:-}
  if [ -n "$owner" ]; then # a watcher, detached from the caller's output
    (
      while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
      sh "$0" stop "$dir"
    ) </dev/null >/dev/null 2>&1 &
  fi
  echo "PG_DIR=$dir PG_URL=postgresql://parley@127.0.0.1:$port/parley"
  ;;
restart)
  dir=${2:?usage: pg_server.sh restart DIR}
  down "$dir"
  up "$dir" "$(cat "$dir/port")" || fail "the server did not start again on port $(cat "$dir/port")"
  record_pid "$dir"
  ;;
stop)
  dir=${2:?usage: pg_server.sh stop DIR}
  [ -d "$dir" ] || exit 0
  down "$dir"
  rm -rf "$dir"
  ;;
*)
  echo "usage: sh tests/pg_server.sh start [OWNER_PID] | restart DIR | stop DIR" >&2
  exit 2
  ;;
esac
