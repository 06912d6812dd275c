#!/bin/sh
# make bench, cluster part: parley serve on PostgreSQL, one node and two
# nodes, next to one node on SQLite in the same run, under the same signed
# Twilio webhooks (bench/http/gen.py: the workload's first N messages over
# its 10,000 contacts) sent by wrk over 127.0.0.1; then a failover: one of
# two nodes SIGKILLed, and the time until the other holds every partition
# and answers a conversation the dead one held.
#
#   sh bench/cluster.sh         (from anywhere; N=40000 by default)
#
# Two nodes run twice. First each gets only the messages of the
# conversations it holds (nothing relayed: no load balancer can route
# Twilio's webhooks so, but it shows what the relay costs). Then each gets
# half of the list (even and odd messages: every message of a contact to
# one node), as a load balancer without affinity would spread them: a node
# relays the messages of conversations it does not hold to their holder
# and answers with its reply. A throwaway
# PostgreSQL server (tests/pg_server.sh) shares the cores with everything.
# Environment: N, WRK_CONNECTIONS (64 in all), NODE_LEASE_MS (1000),
# BENCH_CLUSTER_KEEP=1.
set -eu
cd "$(dirname "$0")/.."

N=${N:-40000}
T=2
C=${WRK_CONNECTIONS:-64}
LEASE=${NODE_LEASE_MS:-1000}
command -v wrk >/dev/null || { echo "bench/cluster.sh: needs wrk" >&2; exit 2; }
[ -x ./parley ] || make parley

tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-cluster-bench.XXXXXX")
pids=""
pg_dir=""
cleanup() { # BENCH_CLUSTER_KEEP=1 keeps the folder (lists, logs, wrk's output)
  for p in $pids; do kill -9 "$p" 2>/dev/null || :; done
  [ -n "$pg_dir" ] && sh tests/pg_server.sh stop "$pg_dir" >/dev/null 2>&1
  if [ "${BENCH_CLUSTER_KEEP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(sh tests/pg_server.sh start $$ 2>&1) || { echo "bench/cluster.sh: $started" >&2; exit 1; }
eval "$started"
pg_dir=$PG_DIR

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
mkdir -p "$tmp/scripts/workload"
cp bench/workload/bot.lua "$tmp/scripts/workload/bot.lua"
p1=$(free_port)
p2=$(free_port)
public="http://127.0.0.1:$p1" # what Twilio signs: the same for both nodes
token="bench-twilio-token-$$"
python3 bench/http/gen.py "$public/twilio/workload" "$token" "$N" > "$tmp/all.txt"
awk 'NR % 2 == 1' "$tmp/all.txt" > "$tmp/even.txt"
awk 'NR % 2 == 0' "$tmp/all.txt" > "$tmp/odd.txt"

# node NAME PORT DB: a node, its pid in $tmp/NAME.pid
node() {
  PARLEY_TWILIO_AUTH_TOKEN=$token ./parley serve --listen "127.0.0.1:$2" --db "$3" \
    --scripts "$tmp/scripts" --public-url "$public" --node-id "$1" --node-lease-ms "$LEASE" \
    2> "$tmp/$1.log" &
  echo $! > "$tmp/$1.pid"
  pids="$pids $!"
  i=0
  until curl -sf -o /dev/null "http://127.0.0.1:$2/healthz"; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "bench/cluster.sh: $1 did not start: $(tail -n 3 "$tmp/$1.log")" >&2; exit 1; }
    sleep 0.1
  done
}
stop_node() { kill -TERM "$(cat "$tmp/$1.pid")" 2>/dev/null || :; wait "$(cat "$tmp/$1.pid")" 2>/dev/null || :; }
partitions() {
  curl -s -m 2 "http://127.0.0.1:$1/healthz" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("partitions", 0))' 2>/dev/null || echo 0
}
wait_partitions() { # PORT N
  i=0
  until [ "$(partitions "$1")" = "$2" ]; do
    i=$((i + 1)); [ $i -gt 200 ] && return 1; sleep 0.05
  done
}
# load NAME PORT LIST: wrk sends LIST to the node at PORT (C/2 connections
# when two run at once, else C); the result line in $tmp/NAME.line
load() {
  rm -rf "$tmp/done.$1" && mkdir -p "$tmp/done.$1"
  wrk -t"$T" -c"$4" -d300s --timeout 10s -s bench/http/twilio.lua "http://127.0.0.1:$2" \
    -- "$3" "$T" "$tmp/done.$1" > "$tmp/$1.wrk" 2>&1 &
  w=$!
  while kill -0 "$w" 2>/dev/null; do
    if [ "$(ls "$tmp/done.$1" | grep -c "^done\.")" -ge "$T" ]; then
      sleep 2; kill -INT "$w" 2>/dev/null || :; break
    fi
    sleep 0.2
  done
  wait "$w" || :
  grep '^parley-bench:' "$tmp/$1.wrk" > "$tmp/$1.line" || :
}
field() { tr ' ' '\n' < "$tmp/$1.line" | sed -n "s/^$2=//p"; }
rps() { awk -v n="$(field "$1" posts)" -v d="$(field "$1" list_us)" 'BEGIN { if (d > 0) printf "%.0f", n / (d / 1e6); else print "?" }'; }
stored() { psql "$PG_URL" -Atc "select count(*) from messages where direction = 'in'"; }

echo "cluster: the workload's first $N messages as signed Twilio webhooks, wrk -t$T -c$C in all, on"
echo "  127.0.0.1 with a throwaway PostgreSQL 15 (fsync off), sharing the $(nproc) cores"

# 1. SQLite, one node
node sqlite "$p1" "$tmp/bench.db"
load sqlite "$p1" "$tmp/all.txt" "$C"
stop_node sqlite

# 2. PostgreSQL, one node
node pg1 "$p1" "$PG_URL"
wait_partitions "$p1" 256 || :
load pg1 "$p1" "$tmp/all.txt" "$C"
one_stored=$(stored)
stop_node pg1

fresh_database() {
  psql "$PG_URL" -qc "set client_min_messages = warning; drop schema public cascade;
    create schema public" >/dev/null
}

# 3. PostgreSQL, two nodes, each sent only the webhooks of the conversations
# it holds: no message is relayed. No load balancer can route Twilio's
# webhooks so (the sender is in the body); the figure shows what the relay
# costs in 4.
fresh_database
node ownA "$p1" "$PG_URL"
node ownB "$p2" "$PG_URL"
wait_partitions "$p1" 128 || :
wait_partitions "$p2" 128 || :
bot=$(psql "$PG_URL" -Atc "select id from bots where name = 'workload'")
python3 -c '
import sys, urllib.parse
for line in open(sys.argv[1]):
    print(urllib.parse.parse_qs(line.split(" ", 1)[1])["From"][0])' "$tmp/all.txt" > "$tmp/from.txt"
psql "$PG_URL" -qc "create table bench_from(n serial, number text)" \
  -c "\\copy bench_from(number) from '$tmp/from.txt'" >/dev/null
psql "$PG_URL" -Atc "select p.node_id from bench_from f join parley_partitions p
  on p.partition = parley_partition($bot, f.number) order by f.n" > "$tmp/holder.txt"
paste -d' ' "$tmp/holder.txt" "$tmp/all.txt" | awk -v dir="$tmp" \
  '{ list = $1; sub(/^[^ ]+ /, ""); print > (dir "/own." list ".txt") }'
load ownA "$p1" "$tmp/own.ownA.txt" $((C / 2)) &
la=$!
load ownB "$p2" "$tmp/own.ownB.txt" $((C / 2))
wait "$la" || :
a=$(field ownA list_us) b=$(field ownB list_us)
own_rps=$(awk -v n="$(( $(field ownA posts) + $(field ownB posts) ))" -v d="$(( a > b ? a : b ))" 'BEGIN { if (d > 0) printf "%.0f", n / (d / 1e6); else print "?" }')
own_stored=$(stored)
own_relayed=$(for p in "$p1" "$p2"; do curl -s -m 5 "http://127.0.0.1:$p/metrics"; done |
  awk '$1 == "parley_handed_over_total{via=\"relay\"}" {s += $2} END {print s + 0}')
stop_node ownA
stop_node ownB

# 4. PostgreSQL, two nodes, half of the list each (a fresh database)
fresh_database
node pgA "$p1" "$PG_URL"
node pgB "$p2" "$PG_URL"
wait_partitions "$p1" 128 || :
wait_partitions "$p2" 128 || :
load pgA "$p1" "$tmp/even.txt" $((C / 2)) &
la=$!
load pgB "$p2" "$tmp/odd.txt" $((C / 2))
wait "$la" || :
# a webhook that gave up waiting for its holder's reply left its item in
# the inbox, which the holder empties
i=0
until [ "$(psql "$PG_URL" -Atc "select count(*) from parley_inbox where state <> 'done'")" = 0 ] ||
  [ $i -gt 200 ]; do i=$((i + 1)); sleep 0.05; done
two_stored=$(stored)
summed() { # METRIC: its sum over both nodes
  for p in "$p1" "$p2"; do curl -s -m 5 "http://127.0.0.1:$p/metrics"; done |
    awk -v n="$1" '$1 == n {s += $2} END {print s + 0}'
}
relayed=$(summed 'parley_handed_over_total{via="relay"}')
through_inbox=$(summed 'parley_handed_over_total{via="inbox"}')
relay_batches=$(summed parley_relay_batches_total)
a=$(field pgA list_us) b=$(field pgB list_us)
longest=$(( a > b ? a : b ))
two_rps=$(awk -v n="$(( $(field pgA posts) + $(field pgB posts) ))" -v d="$longest" 'BEGIN { if (d > 0) printf "%.0f", n / (d / 1e6); else print "?" }')

# 5. failover: B dies; A takes its partitions and answers one of its conversations
held_by_b=$(psql "$PG_URL" -Atc "select c.number from contacts c join parley_partitions p on
  p.partition = parley_partition(c.bot_id, c.number) where p.node_id = 'pgB' limit 1")
line=$(grep -n "From=%2B${held_by_b#+}&" "$tmp/all.txt" | head -n 1 | cut -d: -f1 || :)
t_kill=$(now_ms)
kill -9 "$(cat "$tmp/pgB.pid")"
wait_partitions "$p1" 256 || :
t_held=$(now_ms)
answered=""
if [ -n "$line" ]; then # its message again (a retry): answered by its new holder
  sig=$(sed -n "${line}p" "$tmp/all.txt" | cut -d' ' -f1)
  sed -n "${line}p" "$tmp/all.txt" | cut -d' ' -f2- | tr -d '\n' > "$tmp/retry.body"
  answered=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -H "X-Twilio-Signature: $sig" \
    --data-binary @"$tmp/retry.body" "http://127.0.0.1:$p1/twilio/workload")
fi
t_answer=$(now_ms)
stop_node pgA

non200() { echo $(( $(field "$1" non200) + $(field "$1" connect_errors) + $(field "$1" read_errors) )); }
printf '  %-36s %8s %8s %8s\n' "" "msgs/s" "stored" "non-200"
printf '  %-36s %8s %8s %8s\n' "SQLite, one node" "$(rps sqlite)" "-" "$(non200 sqlite)"
printf '  %-36s %8s %8s %8s\n' "PostgreSQL, one node" "$(rps pg1)" "$one_stored" "$(non200 pg1)"
printf '  %-36s %8s %8s %8s\n' "PostgreSQL, two nodes (own only)" "$own_rps" "$own_stored" \
  "$(( $(non200 ownA) + $(non200 ownB) ))"
printf '  %-36s %8s %8s %8s\n' "PostgreSQL, two nodes (no affinity)" "$two_rps" "$two_stored" \
  "$(( $(non200 pgA) + $(non200 pgB) ))"
echo "  two nodes handed $relayed messages to their holder by relay (in $relay_batches requests), $through_inbox through the inbox"
echo "  ratios: two nodes / one node on PostgreSQL $(awk -v a="$two_rps" -v b="$(rps pg1)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }') (target > 1:$(awk -v a="$two_rps" -v b="$(rps pg1)" 'BEGIN { print (a > b ? " met" : " MISSED") }')); one node PostgreSQL / SQLite $(awk -v a="$(rps pg1)" -v b="$(rps sqlite)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }') (target >= 20000 msgs/s:$(awk -v a="$(rps pg1)" 'BEGIN { print (a >= 20000 ? " met" : " MISSED") }'))"
echo "  two nodes with nothing to relay (each sent its own conversations' webhooks) / one node $(awk -v a="$own_rps" -v b="$(rps pg1)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')"
echo "  failover (lease ${LEASE} ms): SIGKILL to every partition held by the other node $((t_held - t_kill)) ms;"
echo "    to the answer ($answered) for a conversation the dead node held $((t_answer - t_kill)) ms (target < 5000:$( [ $((t_answer - t_kill)) -lt 5000 ] && echo " met" || echo " MISSED"))"
check() { if [ "$2" = "$3" ]; then echo "  check: $1: $2"; else echo "  check: $1: WRONG ($2, expected $3)"; fi; }
check "one node stored every message once" "$one_stored" "$N"
check "two nodes stored every message once" "$two_stored" "$N"
check "two nodes sent their own conversations' webhooks stored every message once" "$own_stored" "$N"
check "two nodes sent their own conversations' webhooks relayed none" "$own_relayed" 0
