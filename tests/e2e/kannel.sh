#!/bin/sh
# parley against a real gateway: Debian's Kannel (bearerbox, smsbox) and its
# fake SMSC (fakesmsc) on 127.0.0.1 (harness: tests/e2e/kannel/lib.sh).
# A fan's message typed into fakesmsc reaches parley through smsbox's
# get-url; the reply comes back as the answer's body (as UCS-2 when GSM-7
# cannot carry it); a drip and a triggered message go out through sendsms
# (the kannel provider) and arrive at fakesmsc; Kannel's delivery reports
# (dlr-url) mark them delivered.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
. tests/e2e/kannel/lib.sh

. tests/e2e/lib/tap.sh
finish() { summary; exit $?; }

for b in "$KANNEL_BEARERBOX" "$KANNEL_SMSBOX" "$KANNEL_FAKESMSC"; do
  if [ ! -x "$b" ]; then
    not_ok "Kannel is installed ($b)" "apt-get install kannel kannel-extras (make deps does)"
    finish
  fi
done

tmp=$(mktemp -d)
ppid_=""
cleanup() {
  kannel_stop
  [ -n "$ppid_" ] && { kill "$ppid_" 2>/dev/null; wait "$ppid_" 2>/dev/null; }
  [ -n "${KEEP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

read -r PORT ADMIN_PORT SMSBOX_PORT SENDSMS_PORT FAKESMSC_PORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
TOKEN=kannel-hook-token
mkdir -p "$tmp/scripts/fans"
cat > "$tmp/scripts/fans/bot.lua" <<'EOF'
bot.config{ name = "Fans", numbers = { "+15550100" }, quiet_hours = false }
bot.drip("welcome", { { after = "2s", text = "Drip one: behind the scenes" } })
bot.on_join(function(c, msg)
  c:start_drip("welcome")
  return "Welcome! Café ☕"
end)
bot.fallback(function(c, msg) return "echo: " .. msg.text end)
bot.on_event("tickets", function(c, ev) c:send("Olá " .. ev.city .. " ☕ tickets", { transactional = true }) end)
EOF

PARLEY_WEBHOOK_TOKEN=$TOKEN PARLEY_KANNEL_PASSWORD=sendpass PARLEY_LOG=debug \
  "$PARLEY" serve --listen "127.0.0.1:$PORT" --public-url "http://127.0.0.1:$PORT" \
  --db "$tmp/kannel.db" --scripts "$tmp/scripts" --provider kannel \
  --kannel-url "http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms" --kannel-username parley \
  --rate-long-code 20 2> "$tmp/parley.log" &
ppid_=$!
up=0
for _ in $(seq 1 50); do
  curl -s -m 1 "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && { up=1; break; }
  sleep 0.1
done
[ "$up" = 1 ] && ok "parley serve starts with provider kannel" || { not_ok "parley serve starts" "$(cat "$tmp/parley.log")"; finish; }

GET_URL="http://127.0.0.1:$PORT/kannel/fans?token=$TOKEN&from=%p&to=%P&text=%a&id=%I"
if kannel_start "$tmp/kannel" "$ADMIN_PORT" "$SMSBOX_PORT" "$SENDSMS_PORT" "$FAKESMSC_PORT" \
  "$GET_URL" parley sendpass; then
  ok "bearerbox, smsbox and fakesmsc start on 127.0.0.1"
else
  not_ok "Kannel starts" "$(tail -5 "$tmp/kannel/bearerbox.log" 2>/dev/null)"
  finish
fi

db() { sqlite3 "$tmp/kannel.db" "$1"; }

# a fan texts the bot's number
kannel_send_mo +15550001 +15550100 hi
line=$(kannel_wait_mt '^\+15550100 \+15550001 ' 15)
expect "the fan's first message reaches parley through get-url and the welcome comes back" \
  "$line" '^\+15550100 \+15550001 ucs-2 '
expect "as UCS-2 (X-Kannel-Coding: 2), the text intact" "$(kannel_mt_text "$line")" '^Welcome! Café ☕$'
expect "the message is stored once, with Kannel's id" \
  "$(db "SELECT count(*), count(DISTINCT provider_id) FROM messages WHERE direction = 'in'")" '^1\|1$'

# the drip (2 s later) goes out through sendsms
after=$(kannel_mt_count)
line=$(kannel_wait_mt 'Drip one' 20 "$after")
expect "the drip goes out through sendsms and arrives at fakesmsc, from the bot's number" \
  "$line" '^\+15550100 \+15550001 text Drip one: behind the scenes$'
st=""
for _ in $(seq 1 50); do
  st=$(db "SELECT status FROM messages WHERE text = 'Drip one: behind the scenes'")
  [ "$st" = delivered ] && break
  sleep 0.2
done
expect "Kannel's delivery reports (dlr-url) mark it delivered" "$st" '^delivered$'

# a triggered message with text GSM-7 cannot carry
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  --data '{"type":"tickets","contact":"+15550001","data":{"city":"Lisboa"}}' \
  "http://127.0.0.1:$PORT/v1/bots/fans/events")
expect "an event is accepted" "$code" '^200$'
line=$(kannel_wait_mt 'ucs-2' 15 "$(kannel_mt_count)")
expect "its message goes out through sendsms as UCS-2 (coding=2), the text intact" \
  "$(kannel_mt_text "$line")" '^Olá Lisboa ☕ tickets$'

# an ordinary message later
after=$(kannel_mt_count)
kannel_send_mo +15550001 +15550100 tour
line=$(kannel_wait_mt 'echo: tour' 15 "$after")
expect "a later message gets its inline reply" "$line" '^\+15550100 \+15550001 text echo: tour$'
expect "nothing is left in the outbox" \
  "$(db "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')")" '^0$'
expect "no send failed" "$(db "SELECT count(*) FROM messages WHERE status = 'failed'")" '^0$'
expect "the database passes integrity_check" "$(db 'PRAGMA integrity_check')" '^ok$'
finish
