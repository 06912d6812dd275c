#!/bin/sh
# parley serve under SIGKILL: while 8 clients post JSON webhook messages (and
# retry the ones that failed, as providers do), the server is killed with
# SIGKILL several times and restarted on the same database. Afterwards every
# acknowledged message is stored exactly once, each was handled exactly once
# (its state change and reply committed once), and the database passes
# PRAGMA integrity_check. Malformed requests get a clear 4xx, never a crash.
# All of it with one engine worker, then with two (PARLEY_ENGINE_THREADS;
# CRASH_ENGINE_THREADS="1 2" sets the runs).
# The work is done by tests/e2e/crash/crash.py (python3, standard library);
# CRASH_SEED=N replays the kill schedule and the client's choices.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
client=""
cleanup() {
  if [ -n "$client" ]; then
    kill "$client" 2>/dev/null # it kills its server on the way out
    wait "$client" 2>/dev/null
  fi
  # the server the client started last, if it is still there
  if [ -s "$tmp/server.pid" ]; then
    spid=$(cat "$tmp/server.pid")
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

. tests/e2e/lib/require.sh
require_tools python3 sqlite3

# below the ephemeral range (32768+), so no client socket holds it
port=$((10000 + $$ % 20000))
mkdir -p "$tmp/scripts/counter" "$tmp/scripts/probe"
cat >"$tmp/scripts/counter/bot.lua" <<'EOF'
-- every message is counted once in the conversation state and answered
bot.fallback(function(c, msg)
  c.state.n = (c.state.n or 0) + 1
  return "n=" .. c.state.n
end)
EOF
cp "$tmp/scripts/counter/bot.lua" "$tmp/scripts/probe/bot.lua"

export PARLEY_WEBHOOK_TOKEN=crash-hook-token-1
export PARLEY_TWILIO_AUTH_TOKEN=crash-twilio-token-2
unset PARLEY_ADMIN_TOKEN PARLEY_DB PARLEY_SCRIPTS PARLEY_LISTEN PARLEY_PUBLIC_URL PARLEY_MAX_BODY
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/crash/crash.py --parley "$PARLEY" --port "$port" --dir "$tmp" &
client=$!
wait "$client"
status=$?
client=""
exit "$status"
