#!/bin/sh
# The throwaway PostgreSQL server the tests on PostgreSQL use
# (tests/pg_server.sh): it starts on 127.0.0.1 as a user PostgreSQL accepts,
# keeps its data over a restart on the same port, and stop leaves no
# process (by its PID), no listener and no folder behind; nor does the
# death of the process it was started for.
cd "$(dirname "$0")/../.."
. tests/e2e/lib/require.sh
require_tools psql python3

started=$(sh tests/pg_server.sh start $$ 2>&1)
result $? "a server starts" "$started"
eval "$started" 2>/dev/null
[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || bail "the start printed PG_DIR and PG_URL" "$started"
trap 'sh tests/pg_server.sh stop "$PG_DIR"' EXIT

case "$PG_URL" in
postgresql://parley@127.0.0.1:*/parley) result 0 "its URL is on 127.0.0.1, user and database parley" ;;
*) result 1 "its URL is on 127.0.0.1, user and database parley" "$PG_URL" ;;
esac
pid=$(cat "$PG_DIR/pid")
owner=$(ps -o user= -p "$pid" 2>/dev/null)
if [ "$(id -u)" = 0 ]; then want=postgres; else want=$(id -un); fi
[ "$owner" = "$want" ]
result $? "the server runs as $want, not root" "owner of $pid: $owner"

check_text "psql reaches it" 0 "ok" psql "$PG_URL" -Atc "select 'ok'"
check "a table is made and written" 0 "INSERT 0 2" \
  psql "$PG_URL" -c "create table kept(n int); insert into kept values (7), (8)"

sh tests/pg_server.sh restart "$PG_DIR" >/dev/null 2>&1
result $? "it restarts"
newpid=$(cat "$PG_DIR/pid")
[ "$newpid" != "$pid" ] && kill -0 "$newpid" 2>/dev/null && ! kill -0 "$pid" 2>/dev/null
result $? "a new process replaced the old one" "old $pid, new $newpid"
check_text "the rows outlived the restart, on the same URL" 0 "15" \
  psql "$PG_URL" -Atc "select sum(n) from kept"

port=${PG_URL##*:}
port=${port%%/*}
sh tests/pg_server.sh stop "$PG_DIR"
result $? "it stops"
trap - EXIT
! kill -0 "$newpid" 2>/dev/null
result $? "its process is gone"
python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) == 0)"
result $? "nothing listens on its port any more"
[ ! -e "$PG_DIR" ]
result $? "its folder is removed"

# a server whose owner dies without stopping it (a test that crashed) is
# stopped by its watcher
sleep 60 &
owner=$!
started=$(sh tests/pg_server.sh start "$owner" 2>&1)
eval "$started" 2>/dev/null
orphan=$(cat "$PG_DIR/pid" 2>/dev/null)
kill -0 "${orphan:-0}" 2>/dev/null
result $? "a server is started for another process" "$started"
kill "$owner"
wait "$owner" 2>/dev/null
i=0
while { kill -0 "$orphan" 2>/dev/null || [ -e "$PG_DIR" ]; } && [ $i -lt 200 ]; do
  sleep 0.1
  i=$((i + 1))
done
! kill -0 "$orphan" 2>/dev/null && [ ! -e "$PG_DIR" ]
result $? "once that process is gone, the server is stopped and its folder removed"
[ -d "$PG_DIR" ] && sh tests/pg_server.sh stop "$PG_DIR"
summary
