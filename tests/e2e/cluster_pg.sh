#!/bin/sh
# Three parley serve nodes on one PostgreSQL, one of them SIGKILLed and
# started again 20 times while fans text all three, then PostgreSQL itself
# restarted under the same load: the nodes connect again by themselves. Each fan sends its
# messages one after the other, like a provider with a fallback URL: a
# message that is not acknowledged (the node died, or answered 503) is
# sent again, with the same id, to the next node. At the end every
# acknowledged message was handled exactly once and in order: each fan's
# c.state lists its texts m1, m2, ... with none missing, doubled or
# swapped, and the messages table holds each once; every tenth message
# starts a timer due 2 s later, and each fires once, as does each step of
# the drip every fan's third message starts; a broadcast to 20,000
# imported contacts runs across the kills and texts each exactly once.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
. tests/e2e/lib/tap.sh
. tests/e2e/lib/require.sh
. tests/e2e/lib/cluster.sh
require_tools curl psql python3

KILLS=${CLUSTER_KILLS:-20}
FANS=${CLUSTER_FANS:-24}
NODES=3
cluster_start
mkdir -p "$tmp/scripts/counter"
cat > "$tmp/scripts/counter/bot.lua" <<'EOF'
bot.fallback(function(c, msg)
  c.state.seen = (c.state.seen or '') .. msg.text .. ','
  -- every tenth message starts a timer, due 2 s later (during the kills)
  local n = tonumber(msg.text:sub(2))
  if n and n % 10 == 0 then bot.after(2, 'tick') end
  -- the third enrolls the fan in a drip whose steps come during the kills
  if msg.text == 'm3' then c:start_drip('series') end
  return 'got ' .. msg.text
end)
bot.handler('tick', function(c)
  c.state.ticks = (c.state.ticks or 0) + 1
end)
bot.drip('series', {
  { after = '2s', call = 'step', args = { n = 1 } },
  { after = '3s', call = 'step', args = { n = 2 } },
  { after = '3s', call = 'step', args = { n = 3 } },
})
bot.handler('step', function(c, args)
  c.state.steps = (c.state.steps or '') .. args.n .. ','
end)
EOF

base=$(free_ports 3)
[ -n "$base" ] || bail "three free ports"
for k in 0 1 2; do
  start_node $k || bail "node $k starts" "$(cat "$tmp/log.$k")"
done
ok "three nodes start on one PostgreSQL"
spread=""
for _ in $(seq 1 100); do
  spread="$(held 0) $(held 1) $(held 2)"
  [ "$spread" = "86 86 84" ] || [ "$spread" = "86 84 86" ] || [ "$spread" = "84 86 86" ] && break
  sleep 0.1
done
case "$spread" in
*84*) ok "they share the 256 partitions ($spread)" ;;
*) not_ok "they share the 256 partitions" "$spread" ;;
esac

# 20,000 contacts with their opt-in (imported on one node), then a
# broadcast to all of them at 1,000 a second: it runs across the kills
BROADCAST=${CLUSTER_BROADCAST:-20000}
python3 -c '
import sys
n = int(sys.argv[1])
print("number,consent_source,consent_at")
for i in range(n):
    print("+1555900%04d%s,web form,2026-01-01" % (i // 10, i % 10))
' "$BROADCAST" > "$tmp/list.csv"
imported=$(curl -s -m 300 -H "Authorization: Bearer admin-secret-789" -H 'Content-Type: text/csv' \
  --data-binary @"$tmp/list.csv" "http://127.0.0.1:$base/v1/bots/counter/contacts/import")
expect "$BROADCAST contacts are imported, opted in" "$imported" "\"created\":$BROADCAST[,}]"
broadcast=$(curl -s -m 20 -H "Authorization: Bearer admin-secret-789" \
  -H 'Content-Type: application/json' \
  --data '{"segment":{"status":"subscribed"},"text":"news for {{number}}","rate":1000}' \
  "http://127.0.0.1:$base/v1/bots/counter/broadcasts")
expect "a broadcast to them starts" "$broadcast" '"id":[0-9]+'

for i in $(seq 1 "$FANS"); do
  fan "$i" &
  pids="$pids $!"
done

kills=0 restarts=0
for round in $(seq 1 "$KILLS"); do
  sleep 1
  k=$((round % 3))
  kill -9 "$(cat "$tmp/pid.$k")" 2>/dev/null && kills=$((kills + 1))
  wait "$(cat "$tmp/pid.$k")" 2>/dev/null
  sleep 0.5
  start_node $k && restarts=$((restarts + 1))
  if [ "$round" = $((KILLS / 2)) ]; then # a new version, on whichever node takes it
    sed 's/got /v2 got /' "$tmp/scripts/counter/bot.lua" > "$tmp/v2.lua"
    for try in 0 1 2 3 4 5; do
      reload=$(curl -s -m 20 -w ' %{http_code}' -X PUT -H "Authorization: Bearer admin-secret-789" \
        -H 'Content-Type: text/plain' --data-binary @"$tmp/v2.lua" \
        "http://127.0.0.1:$((base + try % 3))/v1/bots/counter/script")
      case "$reload" in *" 200") break ;; esac
    done
  fi
done
sleep 1
before=$(cat "$tmp"/sent.* | awk '{s += $1} END {print s}')
sh tests/pg_server.sh restart "$PG_DIR" >/dev/null 2>&1
result $? "PostgreSQL restarts under load" ""
for _ in $(seq 1 300); do # 30 s at most; a few on a quiet machine
  after=$(cat "$tmp"/sent.* | awk '{s += $1} END {print s}')
  [ "$after" -gt $((before + FANS)) ] && break
  sleep 0.1
done
[ "$after" -gt $((before + FANS)) ]
result $? "the nodes take messages again after PostgreSQL's restart by themselves" \
  "$before before, $after after"
sleep 2 # and the fans go on a little while
touch "$tmp/stop"
for p in $pids; do wait "$p"; done
pids=""
[ "$kills" = "$KILLS" ] && [ "$restarts" = "$KILLS" ]
result $? "a node was SIGKILLed and started again $KILLS times" "$kills kills, $restarts restarts"
[ -z "$(ls "$tmp"/gaveup.* 2>/dev/null)" ]
result $? "every message was acknowledged by some node in the end" "$(ls "$tmp"/gaveup.* 2>/dev/null)"

# every partition is held again, then the inbox empties
all_held() { echo $(( $(held 0) + $(held 1) + $(held 2) )); }
want=256
until_got 100 all_held
result $? "after the kills the three nodes hold all 256 partitions" "$got"
want=0
until_got 100 sql "select count(*) from parley_inbox where state <> 'done'"
result $? "every message handed over was handled" "$got left in the inbox"

expect "a new version was taken during the kills" "$reload" '"version":2.* 200$'
# answered_by VERSION PREFIX: how many of 12 new fans (numbers PREFIX01..12,
# over the three nodes) are answered by that version's script
answered_by() {
  count=0
  for i in $(seq 1 12); do
    answer=$(curl -s -m 10 -H "Authorization: Bearer hook-secret-456" \
      -H 'Content-Type: application/json' \
      --data "{\"from\":\"$2$(printf %02d "$i")\",\"text\":\"hello\",\"id\":\"$2-$i\"}" \
      "http://127.0.0.1:$((base + i % 3))/v1/bots/counter/messages")
    case "$answer" in *"$1 got hello"*) count=$((count + 1)) ;; esac
  done
  echo "$count"
}
sleep 2 # every node follows the active version within a second
v2=$(answered_by v2 +155540000)
[ "$v2" = 12 ]
result $? "after the reload every node's conversations answer with version 2" "$v2 of 12"
# no restart now: the two other nodes load version 3 by themselves
sed 's/got /v3 got /' "$tmp/scripts/counter/bot.lua" > "$tmp/v3.lua"
reload=$(curl -s -m 20 -w ' %{http_code}' -X PUT -H "Authorization: Bearer admin-secret-789" \
  -H 'Content-Type: text/plain' --data-binary @"$tmp/v3.lua" \
  "http://127.0.0.1:$base/v1/bots/counter/script")
expect "version 3 is taken by the first node" "$reload" '"version":3.* 200$'
sleep 2
v3=$(answered_by v3 +155541000)
[ "$v3" = 12 ]
result $? "within two seconds the other nodes run version 3 too" "$v3 of 12"
grep -q version_followed "$tmp/log.1" && grep -q version_followed "$tmp/log.2"
result $? "the two other nodes logged that they followed it" "$(grep -h version_ "$tmp"/log.* | tail -5)"

# what went through the outbox (replies a handed-over webhook could not
# wait for) is sent by the node holding the sending number's partition;
# a send a killed node left in flight goes back to the queue after the
# request's time (2 s) and 10 s more
want=0
until_got 300 sql "select count(*) from messages where status in ('queued', 'sending')
  and text not like 'news for %'"
result $? "every queued reply was sent in the end" "$got queued or sending"

# the broadcast ends (it may still be running after the kills), each of
# its contacts with exactly one text
want=done
until_got 600 sql "select status from broadcasts"
result $? "the broadcast ran to its end across the kills" "status $got"
rows=$(psql "$PG_URL" -Atc "select count(*), count(distinct contact_id),
  count(*) filter (where number like '+1555900%') from messages
  where direction = 'out' and text like 'news for %'")
[ "$(echo "$rows" | cut -d'|' -f1)" = "$(echo "$rows" | cut -d'|' -f2)" ] &&
  [ "$(echo "$rows" | cut -d'|' -f3)" = "$BROADCAST" ]
result $? "each of its $BROADCAST contacts (and the fans subscribed meanwhile) got exactly one text" \
  "got $rows (texts|contacts|of the list)"

sleep 3 # the last timers come due
fans_in_order "$FANS"
ticks_bad="" steps_bad=""
for i in $(seq 1 "$FANS"); do
  count=$(cat "$tmp/sent.$i" 2>/dev/null || echo 0)
  ticks=$(fan_state "$i" ticks)
  [ "${ticks:-0}" = $((count / 10)) ] || ticks_bad="$ticks_bad fan $i: $ticks of $((count / 10));"
  want_steps=""
  [ "$count" -ge 3 ] && want_steps="1,2,3,"
  steps=$(fan_state "$i" steps)
  [ "$steps" = "$want_steps" ] || steps_bad="$steps_bad fan $i: steps '$steps';"
done
[ "$sent" -gt $((FANS * 5)) ]
result $? "the fans sent messages all along ($sent acknowledged)" "$sent"
[ -z "$bad" ]
result $? "each fan's messages were handled once each, in order" "$bad"
[ -z "$ticks_bad" ]
result $? "each timer (one per ten messages, due during the kills) fired once" "$ticks_bad"
[ -z "$steps_bad" ]
result $? "each fan's drip steps (due 2, 5 and 8 s after its third message) ran once, in order" \
  "$steps_bad"
rows=$(psql "$PG_URL" -Atc "select count(*), count(distinct provider_id) from messages
  where direction = 'in' and provider_id like 'f%'")
[ "$rows" = "$sent|$sent" ]
result $? "the store holds each acknowledged message once" "want $sent|$sent, got $rows"
summary
