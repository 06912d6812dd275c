#!/bin/sh
# parley serve on PostgreSQL: a throwaway server (tests/pg_server.sh), the
# default bot's conversation over the JSON webhook, a retried message
# acknowledged once, an opt-out in the consent ledger, a restart that keeps
# all of it, a reload kept over the restart; a second node sharing the
# partitions (/healthz says which), and the first taking them all back when
# the second leaves. The password in the URL never shows.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
. tests/e2e/lib/server.sh
. tests/e2e/lib/require.sh
require_tools curl psql python3

started=$(sh tests/pg_server.sh start $$ 2>&1) || bail "a PostgreSQL server starts" "$started"
eval "$started"
trap 'cleanup; sh tests/pg_server.sh stop "$PG_DIR"' EXIT
# the same server with a password in its URL (trust ignores it): never shown
db=$(printf '%s' "$PG_URL" | sed 's|//parley@|//parley:hunter2@|')

export PARLEY_WEBHOOK_TOKEN=hook-secret-456
export PARLEY_ADMIN_TOKEN=admin-secret-789
mkdir -p "$tmp/scripts/slowpoke"
cp -r scripts/fanclub "$tmp/scripts/"
# a bot whose handler counts to the number it is sent (a slow handler)
cat > "$tmp/scripts/slowpoke/bot.lua" <<'EOF'
bot.config{ limits = { instructions = 1e9, time = "10s" } }
bot.fallback(function(c, msg)
  local x = 0
  for i = 1, tonumber(msg.text) or 0 do x = x + i end
  return "counted to " .. msg.text
end)
EOF
# the replies a webhook waits for do not go out with its answer after
# 3 s: longer here, where a handler runs for a second
export PARLEY_REPLY_DEADLINE_MS=20000
serve() {
  start_server "$tmp/log" --db "$db" --scripts "$tmp/scripts" \
    --test-clock "2026-03-02 12:00 America/New_York"
}
# the partitions a node at PORT holds, from its /healthz
held() {
  curl -s -m 2 "http://127.0.0.1:$1/healthz" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["partitions"])' 2>/dev/null
}
# waits up to 10 s until the node at PORT holds N partitions
wait_held() {
  for _ in $(seq 1 100); do
    [ "$(held "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
serve
[ "$up" -eq 1 ] || bail "parley serve starts on PostgreSQL" "$(cat "$tmp/log")"
ok "parley serve starts on PostgreSQL"
wait_held "$port" 256
result $? "alone, the node takes all 256 partitions" "$(curl -s "http://127.0.0.1:$port/healthz")"
expect "/healthz names the node and says the store answers" \
  "$(curl -s "http://127.0.0.1:$port/healthz")" '"node":"[^"]*:'"$port"'".*"store":"ok"'

url="http://127.0.0.1:$port"
post() { # body
  curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer hook-secret-456" \
    -H 'Content-Type: application/json' --data "$1" "$url/v1/bots/fanclub/messages"
}
admin() { # path
  curl -s -m 5 -H "Authorization: Bearer admin-secret-789" "$url$1"
}
expect "a new fan gets the welcome" "$(post '{"from":"+15550001","text":"hi","id":"p1"}')" \
  "Welcome to the fan club.* 200$"
expect "the conversation goes on (its state read back from PostgreSQL)" \
  "$(post '{"from":"+15550001","text":"Austin","id":"p2"}')" 'Noted, Austin!.* 200$'
expect "a retry of the same id is acknowledged, not handled again" \
  "$(post '{"from":"+15550001","text":"Austin","id":"p2"}')" '"replies":\[\].* 200$'
expect "STOP opts the fan out" "$(post '{"from":"+15550002","text":"STOP","id":"p3"}')" \
  'unsubscribed.* 200$'

# a second node: the two share the partitions; when it leaves, the first
# takes them all back. It says the others reach it at a port where nobody
# listens: the first node's relays to it fail, and those messages go
# through the inbox (the second's relays to the first get through)
first_port=$port first_pid=$pid
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server "$tmp/log2" --db "$db" --scripts "$tmp/scripts" --node-id second \
  --node-address "127.0.0.1:$closed" --test-clock "2026-03-02 12:00 America/New_York"
[ "$up" -eq 1 ] || bail "a second node starts on the same database" "$(cat "$tmp/log2")"
ok "a second node starts on the same database"
second_port=$port second_pid=$pid
wait_held "$second_port" 128 && wait_held "$first_port" 128
result $? "each node holds half of the partitions" \
  "$(held "$first_port") and $(held "$second_port")"
# a node counts the others at its first renewal, a third of the lease after
# it starts (until then its /healthz says "nodes":1), and reads where they
# listen within half a second after that: the relays below need both
for _ in $(seq 1 100); do
  case "$(curl -s -m 2 "http://127.0.0.1:$second_port/healthz")" in *'"nodes":2'*) break ;; esac
  sleep 0.1
done
sleep 1
expect "the second node's /healthz names it" "$(curl -s "http://127.0.0.1:$second_port/healthz")" \
  '"node":"second".*"nodes":2'
# new fans, each texting one node or the other: the node that does not
# hold a fan's conversation hands the message over (relayed, or through
# the inbox), and the webhook still answers with the holder's reply
welcomed=0
for i in $(seq 10 29); do
  p=$first_port
  [ $((i % 2)) = 0 ] && p=$second_port
  answer=$(curl -s -m 10 -w ' %{http_code}' -H "Authorization: Bearer hook-secret-456" \
    -H 'Content-Type: application/json' \
    --data "{\"from\":\"+155502$i\",\"text\":\"hi\",\"id\":\"n$i\"}" \
    "http://127.0.0.1:$p/v1/bots/fanclub/messages")
  case "$answer" in *"Welcome to the fan club"*" 200") welcomed=$((welcomed + 1)) ;; esac
done
[ "$welcomed" = 20 ]
result $? "20 new fans over both nodes, each welcomed in the webhook's answer" "$welcomed of 20"
rows=$(psql "$PG_URL" -Atc "select count(*), count(distinct provider_id) from messages
  where direction = 'in' and provider_id like 'n%'")
[ "$rows" = "20|20" ]
result $? "each of their messages is stored once" "got $rows"
rows=$(psql "$PG_URL" -Atc "select count(*) from messages m join contacts c on c.id = m.contact_id
  where m.direction = 'out' and m.status = 'sent' and c.number like '+155502%'")
[ "$rows" = 20 ]
result $? "and each welcome once, sent in the answer" "got $rows"
rows=$(psql "$PG_URL" -Atc "select count(*) from parley_inbox")
[ "$rows" = 0 ]
result $? "the inbox is empty once the answers are read" "got $rows"
metric() { # PORT NAME: its value in the node's /metrics
  curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}
relayed=$(metric "$second_port" 'parley_handed_over_total{via="relay"}')
failed=$(metric "$second_port" parley_relay_failures_total)
[ "${relayed:-0}" -gt 0 ] && [ "$failed" = 0 ]
result $? "the second node relayed the first's conversations to it" \
  "relayed $relayed, failed $failed"
batches=$(metric "$second_port" parley_relay_batches_total)
[ "${batches:-0}" -gt 0 ] && [ "$batches" -le "$relayed" ]
result $? "in batches (one at a time here)" "$batches batches for $relayed messages"
failed=$(metric "$first_port" parley_relay_failures_total)
inbox=$(metric "$first_port" 'parley_handed_over_total{via="inbox"}')
# (a message that came before the node read where the second listens goes
# through the inbox too, without a relay)
[ "${failed:-0}" -gt 0 ] && [ "${inbox:-0}" -ge "$failed" ]
result $? "the first node's relays to the second failed, and those went through the inbox" \
  "failed $failed, through the inbox $inbox"
# an inbox item that is not one (another version's, a hand-made row) is
# logged once by its holder, which reads the inbox before every round;
# 600 of them (more than a look reads) do not hide the items behind them
behind=$(psql "$PG_URL" -Atc "select n || ' ' || p.partition from (select '+1555033' || lpad(g::text, 4, '0') n
  from generate_series(0, 99) g) x join parley_partitions p on p.partition =
  parley_partition((select id from bots where name = 'fanclub'), n) where p.node_id <> 'second' limit 1")
psql "$PG_URL" -qc "insert into parley_inbox(ticket, partition, bot_id, item, state)
  select 'hand-made-' || g, ${behind#* }, 1, 'not an item', 'new' from generate_series(1, 600) g;
  insert into parley_inbox(ticket, partition, bot_id, item, state) values('hand-made-behind', ${behind#* },
  1, '{\"bot\":\"fanclub\",\"from\":\"${behind% *}\",\"text\":\"hi\",\"provider_id\":\"behind\"}', 'new')"
for _ in 1 2 3 4 5 6 7 8; do post '{"from":"+15550003","text":"hi","id":"u'"$_"'"}' >/dev/null; done
i=0
until [ "$(psql "$PG_URL" -Atc "select count(*) from messages where provider_id = 'behind'")" = 1 ] ||
  [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
unreadable=$(grep -c 'event=inbox_unreadable' "$tmp/log")
[ "$unreadable" = 600 ]
result $? "an inbox item that cannot be read is logged once" "$unreadable lines for 600 items"
rows=$(psql "$PG_URL" -Atc "select count(*) from messages where provider_id = 'behind'")
[ "$rows" = 1 ]
result $? "and 600 of them do not hide an item behind them" "got $rows"
psql "$PG_URL" -qc "delete from parley_inbox where ticket like 'hand-made-%'"
check "a node_address that is not HOST:PORT is refused" 2 "node_address = 'nowhere' is not HOST:PORT" \
  "$PARLEY" serve --db "$db" --scripts "$tmp/scripts" --listen 127.0.0.1:1 --node-address nowhere
# the relay's endpoint takes the cluster's secret only, and a message of a
# conversation the node holds only
relay() { # PORT SECRET BODY
  curl -s -m 10 -w ' %{http_code}' -H "X-Parley-Relay: $2" -H 'Content-Type: application/json' \
    --data "$3" "http://127.0.0.1:$1/v1/cluster/relay"
}
secret=$(psql "$PG_URL" -Atc "select secret from parley_cluster")
[ "${#secret}" = 64 ]
result $? "the cluster's secret is 64 characters, made once" "$secret"
held_by_first=$(psql "$PG_URL" -Atc "select n from (select '+1555031' || lpad(g::text, 4, '0') n
  from generate_series(0, 99) g) x join parley_partitions p on p.partition =
  parley_partition((select id from bots where name = 'fanclub'), n) where p.node_id <> 'second' limit 1")
held_by_second=$(psql "$PG_URL" -Atc "select n from (select '+1555032' || lpad(g::text, 4, '0') n
  from generate_series(0, 99) g) x join parley_partitions p on p.partition =
  parley_partition((select id from bots where name = 'fanclub'), n) where p.node_id = 'second' limit 1")
message='{"bot":"fanclub","from":"'$held_by_first'","text":"hi","provider_id":"r1","inline_max":5,"reply_ms":5000}'
elsewhere='{"bot":"fanclub","from":"'$held_by_second'","text":"hi","provider_id":"r2","inline_max":5,"reply_ms":5000}'
body='{"messages":['$message']}'
expect "a relay without the secret is refused" \
  "$(curl -s -m 5 -w ' %{http_code}' --data "$body" "http://127.0.0.1:$first_port/v1/cluster/relay")" \
  'X-Parley-Relay.* 401$'
expect "and with another secret" "$(relay "$first_port" "x$secret" "$body")" ' 401$'
expect "a relayed message of a conversation the node does not hold is answered 409" \
  "$(relay "$second_port" "$secret" "$body")" '^\{"results":\[\{"status":409,"error":"[^"]*does not hold[^"]*"\}\]\} 200$'
expect "the holder answers a relayed message with its replies and their message ids" \
  "$(relay "$first_port" "$secret" "$body")" \
  '^\{"results":\[\{"replies":\["[^"]*Welcome to the fan club[^"]*"\],"reply_ids":\[[0-9]+\]\}\]\} 200$'
expect "a batch is answered a result a message, in order: handled once, not held, not a message" \
  "$(relay "$first_port" "$secret" '{"messages":['"$message"','"$elsewhere"',{"bot":"fanclub"}]}')" \
  '^\{"results":\[\{"replies":\[\],"reply_ids":\[\]\},\{"status":409,[^}]*\},\{"status":400,"error":"a relayed message is[^"]*"\}\]\} 200$'
expect "a relay that is not a batch of messages is 400" \
  "$(relay "$first_port" "$secret" "$message")" 'messages.* 400$'
expect "and an empty batch" "$(relay "$first_port" "$secret" '{"messages":[]}')" ' 400$'
rows=$(psql "$PG_URL" -Atc "select count(*) from messages where provider_id in ('r1', 'r2')")
[ "$rows" = 1 ]
result $? "of the relayed messages, the one the node held is stored, once" "got $rows"
python3 -c 'import json; print(json.dumps({"messages": [{"bot": "fanclub", "from": "+15550009",
  "text": "x" * 300000, "provider_id": "big%d" % i} for i in range(6)]}))' > "$tmp/big.json"
expect "a batch may be larger than max_body (its messages are not)" \
  "$(relay "$first_port" "$secret" "@$tmp/big.json" | tail -c 4)" '200'
# their delivery reports, to one node or the other: the report of a
# conversation the node does not hold goes to its holder
k=0
for id in $(psql "$PG_URL" -Atc "select m.id from messages m join contacts c on
  c.id = m.contact_id where m.direction = 'out' and c.number like '+155502%'"); do
  k=$((k + 1))
  p=$first_port
  [ $((k % 2)) = 0 ] && p=$second_port
  curl -s -m 10 -o /dev/null -H "Authorization: Bearer hook-secret-456" \
    -H 'Content-Type: application/json' --data "{\"id\":$id,\"status\":\"delivered\"}" \
    "http://127.0.0.1:$p/v1/bots/fanclub/status"
done
for _ in $(seq 1 50); do
  rows=$(psql "$PG_URL" -Atc "select count(*) from messages m join contacts c on
    c.id = m.contact_id where m.direction = 'out' and m.status = 'delivered'
    and c.number like '+155502%'")
  [ "$rows" = 20 ] && break
  sleep 0.1
done
[ "$rows" = 20 ]
result $? "20 delivery reports over both nodes: each welcome is delivered" "got $rows"
# a webhook whose caller hangs up (a reset) while its slow handler runs:
# the inline reply it was to carry goes through the provider instead (sim:
# provider id sim-ID), on the node that holds the conversation and on the
# one that handed it over and waited for the holder's reply
hang_up() { # PORT NUMBER: the message "COUNT" from NUMBER, reset after 0.3 s
  python3 - "$1" "$2" <<'PY'
import socket, struct, sys, time
body = '{"from":"%s","text":"200000000","id":"slow%s"}' % (sys.argv[2], sys.argv[2])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v1/bots/slowpoke/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Authorization: Bearer hook-secret-456\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
}
# the node holding NUMBER's conversation: first or second
holder() {
  psql "$PG_URL" -Atc "select case when node_id = 'second' then 'second' else 'first' end
    from parley_partitions where partition = parley_partition(
    (select id from bots where name = 'slowpoke'), '$1')"
}
for number in +15550801 +15550802; do
  h=$(holder "$number")
  if [ "$number" = +15550801 ]; then to=$h; else to=first; [ "$h" = first ] && to=second; fi
  p=$first_port
  [ "$to" = second ] && p=$second_port
  hang_up "$p" "$number"
done
for _ in $(seq 1 300); do # each handler counts for a second or more
  rows=$(psql "$PG_URL" -Atc "select string_agg(c.number || '=' || m.status || ':' ||
    coalesce(left(m.provider_id, 4), 'inline'), ',' order by c.number) from messages m
    join contacts c on c.id = m.contact_id where m.direction = 'out' and c.number like '+1555080%'")
  [ "$rows" = "+15550801=sent:sim-,+15550802=sent:sim-" ] && break
  sleep 0.1
done
[ "$rows" = "+15550801=sent:sim-,+15550802=sent:sim-" ]
result $? "a caller that hangs up gets its reply through the provider, from its holder (+15550801) or handed over (+15550802)" \
  "got $rows; $(grep -h 'slowpoke\|level=error' "$tmp/log" "$tmp/log2")"
# an admin call that writes a contact another node holds (and has in its
# cache) runs on that node: what the call set is not lost when the fan
# texts that node next, and an erased contact starts over
on() { # PORT METHOD PATH [BODY]
  curl -s -m 15 -w ' %{http_code}' -X "$2" -H "Authorization: Bearer admin-secret-789" \
    -H 'Content-Type: application/json' ${4:+--data "$4"} "http://127.0.0.1:$1$3"
}
text() { # PORT NUMBER TEXT ID
  curl -s -m 10 -H "Authorization: Bearer hook-secret-456" -H 'Content-Type: application/json' \
    --data "{\"from\":\"$2\",\"text\":\"$3\",\"id\":\"$4\"}" \
    "http://127.0.0.1:$1/v1/bots/fanclub/messages"
}
fan_holder() { # NUMBER: the port of the node holding its conversation, then the other's
  h=$(psql "$PG_URL" -Atc "select node_id = 'second' from parley_partitions where partition =
    parley_partition((select id from bots where name = 'fanclub'), '$1')")
  if [ "$h" = t ]; then echo "$second_port $first_port"; else echo "$first_port $second_port"; fi
}
set -- $(fan_holder +15550901)
holds=$1 other=$2
expect "a fan joins through the node holding them" "$(text "$holds" +15550901 hi a1)" 'Welcome'
expect "an admin call to the other node sets a field of theirs" \
  "$(on "$other" PATCH /v1/bots/fanclub/contacts/%2B15550901 '{"fields":{"level":"gold"}}')" \
  '"level":"gold".* 200$'
expect "the fan answers the holder" "$(text "$holds" +15550901 Lyon a2)" 'Noted, Lyon!'
expect "and both the field the call set and the one the script set are kept" \
  "$(on "$other" GET /v1/bots/fanclub/contacts/%2B15550901)" '"city":"Lyon".*"level":"gold"'
expect "an admin call to the other node erases them" \
  "$(on "$other" DELETE /v1/bots/fanclub/contacts/%2B15550901)" '"erased".* 200$'
expect "texting the holder again, they are a new fan" "$(text "$holds" +15550901 hello a3)" \
  'Welcome'
rows=$(psql "$PG_URL" -Atc "select count(*) from contacts where number = '+15550901'")
[ "$rows" = 1 ]
result $? "with one contact row" "got $rows"
# an import through the other node: the holder forgets the contacts it
# cached (told through PostgreSQL), so the imported field is not lost
# when the fan texts it next
set -- $(fan_holder +15550902)
holds=$1 other=$2
expect "another fan joins through the node holding them" "$(text "$holds" +15550902 hi b1)" \
  'Welcome'
imported=$(curl -s -m 15 -H "Authorization: Bearer admin-secret-789" -H 'Content-Type: text/csv' \
  --data-binary "$(printf 'number,fields.level\n+15550902,silver\n')" \
  "http://127.0.0.1:$other/v1/bots/fanclub/contacts/import")
expect "the other node imports a field of theirs" "$imported" '"updated":1'
sleep 1 # the holder is told within a few milliseconds
expect "the fan answers the holder" "$(text "$holds" +15550902 Nice b2)" 'Noted, Nice!'
expect "and both the imported field and the one the script set are kept" \
  "$(on "$other" GET /v1/bots/fanclub/contacts/%2B15550902)" '"city":"Nice".*"level":"silver"'
expect "an unknown contact is still 404 through the other node" \
  "$(on "$other" PATCH /v1/bots/fanclub/contacts/%2B15550999 '{"fields":{"a":1}}')" \
  'no such contact.* 404$'
expect "and a bad body is 400 there" \
  "$(on "$other" PATCH /v1/bots/fanclub/contacts/%2B15550901 '{"fields":3}')" \
  'fields must be an object.* 400$'
# a node stopped (SIGTERM) while it relays a message waits for the
# holder's answer, answers the webhook with its reply, and exits cleanly
slow_first=$(psql "$PG_URL" -Atc "select n from (select '+1555071' || lpad(g::text, 4, '0') n
  from generate_series(0, 99) g) x join parley_partitions p on p.partition =
  parley_partition((select id from bots where name = 'slowpoke'), n) where p.node_id <> 'second'
  limit 1")
curl -s -m 30 -w ' %{http_code}' -H "Authorization: Bearer hook-secret-456" \
  -H 'Content-Type: application/json' --data "{\"from\":\"$slow_first\",\"text\":\"100000000\",\"id\":\"stop1\"}" \
  "http://127.0.0.1:$second_port/v1/bots/slowpoke/messages" > "$tmp/stopping.out" &
asked=$!
sleep 0.3
kill -TERM "$second_pid"
wait "$second_pid"
stopped=$?
wait "$asked"
expect "a node stopped while it relays a message answers it with the holder's reply" \
  "$(cat "$tmp/stopping.out")" 'counted to 100000000.* 200$'
[ "$stopped" = 0 ]
result $? "and exits cleanly" "exit $stopped; $(tail -n 3 "$tmp/log2")"
wait_held "$first_port" 256
result $? "once the second node stops, the first holds all 256 again" "$(held "$first_port")"
port=$first_port pid=$first_pid
if grep -q hunter2 "$tmp/log2"; then not_ok "the second node's log shows no password"; else ok "the second node's log shows no password"; fi

# a new version (the same bot, one comment more), then a restart: all of
# it is still there
{ cat "$tmp/scripts/fanclub/bot.lua"; echo "-- version two"; } > "$tmp/bot2.lua"
reload=$(curl -s -m 20 -w ' %{http_code}' -X PUT -H "Authorization: Bearer admin-secret-789" \
  -H 'Content-Type: text/plain' --data-binary @"$tmp/bot2.lua" "$url/v1/bots/fanclub/script")
expect "a reload is taken (version 2)" "$reload" '"version":2.* 200$'
kill -TERM "$pid"
wait "$pid" 2>/dev/null
serve
[ "$up" -eq 1 ] || bail "parley serve starts again on the same database" "$(cat "$tmp/log")"
ok "parley serve starts again on the same database"
wait_held "$port" 256 || not_ok "the restarted node takes the partitions" "$(held "$port")"
url="http://127.0.0.1:$port"
expect "the contact's field survived the restart" "$(admin /v1/bots/fanclub/contacts/%2B15550001)" \
  '"city":"Austin"'
expect "what another node's admin calls did on the holder survived it too (erased: a new fan)" \
  "$(admin /v1/bots/fanclub/contacts/%2B15550901)" '"number":"\+15550901","status":"subscribed","fields":\{\}'
expect "and what the other node imported" "$(admin /v1/bots/fanclub/contacts/%2B15550902)" \
  '"city":"Nice".*"level":"silver"'
expect "its messages did too" "$(admin /v1/bots/fanclub/contacts/%2B15550001/messages)" \
  'Noted, Austin!'
expect "the opt-out is in the consent ledger" "$(admin /v1/bots/fanclub/consent.csv)" \
  '"\+15550002","optout","keyword","STOP"'
expect "the opted-out fan stays opted out" "$(admin /v1/bots/fanclub/contacts/%2B15550002)" \
  '"status":"opted_out"'
[ "$(psql "$PG_URL" -Atc "select secret from parley_cluster")" = "$secret" ]
result $? "the cluster's secret is the same after the restart" ""
expect "version 2 is the active one after the restart" "$(admin /v1/bots/fanclub/versions)" \
  '"version":2,[^}]*"active":true'
expect "a retry from before the restart is still known" \
  "$(post '{"from":"+15550001","text":"Austin","id":"p2"}')" '"replies":\[\].* 200$'
rows=$(psql "$PG_URL" -Atc "select count(*) from messages where direction = 'in' and provider_id like 'p%'")
[ "$rows" = 3 ]
result $? "PostgreSQL holds the three inbound messages, each once" "got $rows"
if grep -q hunter2 "$tmp/log"; then not_ok "the server's log shows no password" "$(grep hunter2 "$tmp/log")"; else ok "the server's log shows no password"; fi
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""
summary
