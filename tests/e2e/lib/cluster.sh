# Helpers for the cluster e2e tests (cluster_pg.sh, cluster_pause_pg.sh):
# nodes of parley serve on one PostgreSQL ($PG_URL), on ports $base + K,
# their pids in $tmp/pid.K and logs in $tmp/log.K; fans texting them.
# Needs $tmp, $PARLEY, tests/e2e/lib/tap.sh, and NODES (how many nodes
# the fans spread over).

# cluster_start: a throwaway PostgreSQL server ($PG_URL, $PG_DIR), stopped
# on exit with every node (a paused one too) and fan ($pids); the tokens
# the nodes and the fans share
cluster_start() {
  started=$(sh tests/pg_server.sh start $$ 2>&1) || bail "a PostgreSQL server starts" "$started"
  eval "$started"
  pids=""
  trap cluster_stop EXIT
  trap 'exit 1' INT TERM HUP PIPE # the nodes are stopped on those too
  export PARLEY_WEBHOOK_TOKEN=hook-secret-456
  export PARLEY_ADMIN_TOKEN=admin-secret-789
}
# With CLUSTER_KEEP=DIR set, a failed run leaves the nodes' logs and a dump
# of the database in DIR. A failed run shows, in its output, each node's
# last warnings and errors and where its threads are (gdb, when there is
# one): a CI run keeps nothing else.
cluster_stop() {
  for p in $(cat "$tmp"/pid.* 2>/dev/null); do kill -CONT "$p" 2>/dev/null; done
  if [ "${fail:-0}" -gt 0 ]; then
    for f in "$tmp"/log.*; do
      [ -e "$f" ] || continue
      echo "# ${f##*/}: its last warnings and errors"
      grep -E 'level=(warn|error)' "$f" | tail -n 25 | cut -c1-400 | sed 's/^/#   /'
    done
    if command -v gdb >/dev/null; then
      for p in $(cat "$tmp"/pid.* 2>/dev/null); do
        kill -0 "$p" 2>/dev/null || continue
        echo "# node pid $p: its threads"
        timeout 30 gdb -p "$p" -batch -ex 'thread apply all bt 12' 2>/dev/null |
          grep -E '^(Thread|#[0-9])' | cut -c1-200 | head -n 120 | sed 's/^/#   /'
      done
    fi
  fi
  if [ -n "${CLUSTER_KEEP:-}" ] && [ "${fail:-0}" -gt 0 ]; then
    mkdir -p "$CLUSTER_KEEP" && cp "$tmp"/log.* "$CLUSTER_KEEP"/ 2>/dev/null
    pg_dump "$PG_URL" > "$CLUSTER_KEEP/dump.sql" 2>&1
    echo "# kept the logs and a dump in $CLUSTER_KEEP"
  fi
  for p in $pids $(cat "$tmp"/pid.* 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  sh tests/pg_server.sh stop "$PG_DIR"
  rm -rf "$tmp"
}

# until TRIES COMMAND...: runs COMMAND (its output in $got) every 0.1 s
# until it prints what $want says, at most TRIES times; status 0 if it did
until_got() {
  tries=$1
  shift
  for _ in $(seq 1 "$tries"); do
    got=$("$@")
    [ "$got" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}
sql() { psql "$PG_URL" -Atc "$1"; }
# N free ports in a row (other tests may hold some): the first, or nothing
free_ports() {
  python3 -c '
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    b = random.randrange(21000, 60000)
    try:
        for k in range(n):
            s = socket.socket(); s.bind(("127.0.0.1", b + k)); s.close()
        print(b); break
    except OSError:
        pass
' "$1"
}
# start_node K: node K listens on base + K (1 s leases)
start_node() {
  "$PARLEY" serve --listen "127.0.0.1:$((base + $1))" --db "$PG_URL" --scripts "$tmp/scripts" \
    --node-id "node$1" --node-lease-ms 1000 --send-timeout-ms 2000 2>>"$tmp/log.$1" &
  echo $! > "$tmp/pid.$1"
  for _ in $(seq 1 100); do
    curl -s -m 1 "http://127.0.0.1:$((base + $1))/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
# held K: the partitions node K holds, from its /healthz
held() {
  curl -s -m 2 "http://127.0.0.1:$((base + $1))/healthz" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["partitions"])' 2>/dev/null
}
# fan I sends m1, m2, ... to the bot "counter" until $tmp/stop exists;
# each message until a node acknowledges it (200), starting at node
# (I + K) % NODES, the next node after a failure or FAN_TIMEOUT seconds
# (10) without an answer; the count acknowledged in $tmp/sent.I
fan() {
  i=$1 k=0
  while [ ! -e "$tmp/stop" ]; do
    k=$((k + 1))
    tries=0
    while :; do
      node=$(((i + k + tries) % NODES))
      code=$(curl -s -o /dev/null -m "${FAN_TIMEOUT:-10}" -w '%{http_code}' \
        -H "Authorization: Bearer hook-secret-456" -H 'Content-Type: application/json' \
        --data "{\"from\":\"+1555300$(printf %04d "$i")\",\"text\":\"m$k\",\"id\":\"f$i-m$k\"}" \
        "http://127.0.0.1:$((base + node))/v1/bots/counter/messages")
      [ "$code" = 200 ] && break
      tries=$((tries + 1))
      [ $tries -gt 200 ] && { echo "gave up" > "$tmp/gaveup.$i"; return; }
      sleep 0.1
    done
    echo "$k" > "$tmp/.sent.$i" # renamed into place: a reader never sees it empty
    mv "$tmp/.sent.$i" "$tmp/sent.$i"
  done
}
# fan_state I KEY: the value of KEY in fan I's c.state ("" or 0 when none)
fan_state() {
  psql "$PG_URL" -Atc "select v.state from conversations v join contacts c on
    c.id = v.contact_id join bots b on b.id = c.bot_id where b.name = 'counter' and
    c.number = '+1555300$(printf %04d "$1")'" |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read() or "{}").get(sys.argv[1], ""))' "$2"
}
# fans_in_order FANS: checks each fan's c.state.seen lists m1..mN, N its
# count acknowledged; $sent is the sum, $bad what differs
fans_in_order() {
  sent=0 bad=""
  for i in $(seq 1 "$1"); do
    count=$(cat "$tmp/sent.$i" 2>/dev/null || echo 0)
    sent=$((sent + count))
    want=$(seq 1 "$count" | sed 's/^/m/' | tr '\n' ',')
    got=$(fan_state "$i" seen)
    [ "$got" = "$want" ] || bad="$bad fan $i: want $want got $got;"
  done
}
