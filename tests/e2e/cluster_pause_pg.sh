#!/bin/sh
# Two parley serve nodes on one PostgreSQL; one is paused (SIGSTOP) for
# longer than its lease while fans text both, as a machine that stalls or
# a network that parts would: the other takes every partition and answers
# for it. When the paused node goes on (SIGCONT) it commits nothing it
# handled under the lease it lost: it finds itself fenced, joins again
# with a new fencing number and takes its share back, without a restart.
# Each fan sends its messages one after the other, to the next node when
# one does not answer within 3 s; at the end each fan's messages were
# handled once each and in order.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
. tests/e2e/lib/tap.sh
. tests/e2e/lib/require.sh
. tests/e2e/lib/cluster.sh
require_tools curl psql python3

FANS=${PAUSE_FANS:-8} NODES=2 FAN_TIMEOUT=3
cluster_start
mkdir -p "$tmp/scripts/counter"
cat > "$tmp/scripts/counter/bot.lua" <<'LUA'
bot.fallback(function(c, msg)
  c.state.seen = (c.state.seen or '') .. msg.text .. ','
  return 'got ' .. msg.text
end)
LUA
base=$(free_ports 2)
[ -n "$base" ] || bail "two free ports"
for k in 0 1; do
  start_node $k || bail "node $k starts" "$(cat "$tmp/log.$k")"
done
want="128 128"
until_got 100 eval 'echo "$(held 0) $(held 1)"'
result $? "two nodes share the 256 partitions" "$got"

for i in $(seq 1 "$FANS"); do
  fan "$i" &
  pids="$pids $!"
done
sleep 1
paused=$(cat "$tmp/pid.1")
kill -STOP "$paused"
want=256
until_got 150 held 0
result $? "while node 1 is paused past its lease, node 0 takes every partition" "$got"
sleep 2 # the fans go on through node 0
before=$(cat "$tmp"/sent.* | awk '{s += $1} END {print s}')
kill -CONT "$paused"
for _ in $(seq 1 100); do
  grep -q node_fenced "$tmp/log.1" && break
  sleep 0.1
done
grep -q node_fenced "$tmp/log.1"
result $? "node 1, going on, finds itself fenced" "$(tail -n 5 "$tmp/log.1")"
want="128 128"
until_got 200 eval 'echo "$(held 0) $(held 1)"'
result $? "it joins again and takes its share back" "held: $got; node 1 logged: $(grep -E 'node_|partitions_' "$tmp/log.1" | tail -n 6)"
kill -0 "$paused"
result $? "without a restart" ""
sleep 2 # the fans text both again
touch "$tmp/stop"
for p in $pids; do wait "$p"; done
pids=""
after=$(cat "$tmp"/sent.* | awk '{s += $1} END {print s}')
[ "$after" -gt "$before" ] && [ "$before" -gt "$FANS" ]
result $? "the fans were answered before, during and after the pause" \
  "$before by the end of the pause, $after in all"
[ -z "$(ls "$tmp"/gaveup.* 2>/dev/null)" ]
result $? "every message was acknowledged by some node in the end" "$(ls "$tmp"/gaveup.* 2>/dev/null)"
want=0
until_got 100 sql "select count(*) from parley_inbox where state <> 'done'"
result $? "every message handed over was handled" "$got left in the inbox"
fans_in_order "$FANS"
[ -z "$bad" ]
result $? "each fan's messages were handled once each, in order" "$bad"
rows=$(sql "select count(*), count(distinct provider_id) from messages
  where direction = 'in' and provider_id like 'f%'")
[ "$rows" = "$sent|$sent" ]
result $? "the store holds each acknowledged message once" "want $sent|$sent, got $rows"
summary
