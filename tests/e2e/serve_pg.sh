#!/bin/sh
# parley serve on PostgreSQL (one node): a throwaway server
# (tests/pg_server.sh), the default bot's conversation over the JSON
# webhook, a retried message acknowledged once, an opt-out in the consent
# ledger, a restart that keeps all of it, a reload kept over the restart,
# and a second node refused while the first writes. The password in the
# URL never shows.
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
mkdir -p "$tmp/scripts"
cp -r scripts/fanclub "$tmp/scripts/"
serve() {
  start_server "$tmp/log" --db "$db" --scripts "$tmp/scripts" \
    --test-clock "2026-03-02 12:00 America/New_York"
}
serve
[ "$up" -eq 1 ] || bail "parley serve starts on PostgreSQL" "$(cat "$tmp/log")"
ok "parley serve starts on PostgreSQL"
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

check "a second node on the same database is refused" 1 "another parley is already writing" \
  "$PARLEY" serve --listen "127.0.0.1:$((port + 1))" --db "$db" --scripts "$tmp/scripts"
case "$out" in
*hunter2*) not_ok "the refusal shows no password" "$out" ;;
*) ok "the refusal shows no password" ;;
esac

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
url="http://127.0.0.1:$port"
expect "the contact's field survived the restart" "$(admin /v1/bots/fanclub/contacts/%2B15550001)" \
  '"city":"Austin"'
expect "its messages did too" "$(admin /v1/bots/fanclub/contacts/%2B15550001/messages)" \
  'Noted, Austin!'
expect "the opt-out is in the consent ledger" "$(admin /v1/bots/fanclub/consent.csv)" \
  '"\+15550002","optout","keyword","STOP"'
expect "the opted-out fan stays opted out" "$(admin /v1/bots/fanclub/contacts/%2B15550002)" \
  '"status":"opted_out"'
expect "version 2 is the active one after the restart" "$(admin /v1/bots/fanclub/versions)" \
  '"version":2,[^}]*"active":true'
expect "a retry from before the restart is still known" \
  "$(post '{"from":"+15550001","text":"Austin","id":"p2"}')" '"replies":\[\].* 200$'
rows=$(psql "$PG_URL" -Atc "select count(*) from messages where direction = 'in'")
[ "$rows" = 3 ]
result $? "PostgreSQL holds the three inbound messages, each once" "got $rows"
if grep -q hunter2 "$tmp/log"; then not_ok "the server's log shows no password" "$(grep hunter2 "$tmp/log")"; else ok "the server's log shows no password"; fi
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""
summary
