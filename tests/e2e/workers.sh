#!/bin/sh
# parley serve with several engine workers (PARLEY_ENGINE_THREADS, 2 unless
# set) on a file database, loaded by parallel HTTP clients
# (tests/e2e/workers/workers.py; a conversation's next message is sent once
# the previous one is answered):
#   - 40 conversations x 25 numbered messages at once: each handled in its
#     order, none lost, none twice, in the answers and in the database; and
#     bot.store.count, incremented by every message, loses no update and
#     survives a restart;
#   - a reload and then a rollback while the clients send: every request is
#     answered, each message runs once on one version, and per conversation
#     the versions move forward at the reload and back at the rollback only;
#   - handlers past their time limit in several conversations at once are
#     each stopped with its error, while the others are answered;
#   - SIGKILL while the clients send, and a restart: every answered message
#     is stored with its reply, every counter equals the stored messages.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
. tests/e2e/lib/server.sh
trap 'exit 1' INT TERM HUP
. tests/e2e/lib/require.sh
require_tools python3 sqlite3 curl
. tests/e2e/lib/tap.sh

export PARLEY_ENGINE_THREADS="${PARLEY_ENGINE_THREADS:-2}"
unset PARLEY_DB PARLEY_SCRIPTS PARLEY_LISTEN PARLEY_PUBLIC_URL PARLEY_LOG PARLEY_LOG_FORMAT
export PARLEY_WEBHOOK_TOKEN=workers-hook-1 PARLEY_ADMIN_TOKEN=workers-admin-2
db="$tmp/workers.db"
mkdir -p "$tmp/scripts/order" "$tmp/scripts/tagged" "$tmp/scripts/spin" "$tmp/scripts/counter"
cat >"$tmp/scripts/order/bot.lua" <<'EOF'
-- message "m<k>": c.state.seen lists the k's in the order they were handled
-- and the answer lists them; every message counts once in bot.store.count
bot.keyword("total", function(c) return "total=" .. tostring(bot.store.count) end)
bot.fallback(function(c, msg)
  local seen = c.state.seen or {}
  seen[#seen + 1] = tonumber(msg.text:sub(2))
  c.state.seen = seen
  bot.store.count = (bot.store.count or 0) + 1
  return table.concat(seen, ",")
end)
EOF
# version 1 of the bot that is reloaded (workers.py ships v2 the same way)
cat >"$tmp/scripts/tagged/bot.lua" <<'EOF'
-- v1: each message answered "v1:<k> n=<count>"
bot.fallback(function(c, msg)
  c.state.n = (c.state.n or 0) + 1
  return "v1:" .. msg.text:sub(2) .. " n=" .. c.state.n
end)
EOF
cat >"$tmp/scripts/spin/bot.lua" <<'EOF'
-- "spin" runs past the time limit; anything else is answered
bot.config{ limits = { time = "100ms", instructions = 1e9 } }
bot.keyword("spin", function(c)
  c.state.spun = true
  while true do end
end)
bot.fallback(function(c, msg) return "ok " .. msg.text end)
EOF
cat >"$tmp/scripts/counter/bot.lua" <<'EOF'
-- every message counted once in its conversation and once bot-wide
bot.fallback(function(c, msg)
  c.state.n = (c.state.n or 0) + 1
  bot.store.count = (bot.store.count or 0) + 1
  return "n=" .. c.state.n
end)
EOF

# step STEP ARGS...: workers.py's checks against the running server, each
# numbered and counted here
step() {
  PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/workers/workers.py "$@" --port "$port" --db "$db" \
    >"$tmp/step.out" 2>"$tmp/step.err"
  step_status=$?
  desc=""
  while IFS= read -r line; do
    case $line in
      "ok - "* | "not ok - "*)
        [ -n "$desc" ] && result "$verdict" "$desc" "$(printf '%s' "$detail")"
        case $line in ok*) verdict=0 ;; *) verdict=1 ;; esac
        desc=${line#*ok - }
        detail=""
        ;;
      "#   "*) detail="$detail${line#"#   "}
" ;;
      *) echo "$line" ;;
    esac
  done <"$tmp/step.out"
  [ -n "$desc" ] && result "$verdict" "$desc" "$(printf '%s' "$detail")"
  [ "$step_status" -eq 0 ] || not_ok "workers.py $1 runs to the end" "$(tail -n 15 "$tmp/step.err")"
}

start() { # what the start is for
  if start_server "$tmp/log" --db "$db" --scripts "$tmp/scripts"; then
    ok "the server starts with PARLEY_ENGINE_THREADS=$PARLEY_ENGINE_THREADS ($1)"
    return 0
  fi
  bail "the server starts ($1)" "$(tail -n 20 "$tmp/log")"
}

stop() { # SIGTERM; the exit status must be 0
  kill "$pid"
  wait "$pid"
  status=$?
  pid=""
  result "$status" "SIGTERM stops the server cleanly ($1)" "exit status $status; $(tail -n 10 "$tmp/log")"
}

# the server really runs the workers asked for (once parley has the setting)
setting=$("$PARLEY" serve --print-config 2>&1 | grep -E '^engine_threads ')
if [ -n "$setting" ]; then
  expect "parley serve takes PARLEY_ENGINE_THREADS=$PARLEY_ENGINE_THREADS" "$setting" \
    "^engine_threads +(= +)?$PARLEY_ENGINE_THREADS( |$)"
else
  echo "# engine_threads is not a setting of this parley yet: its engine has one worker"
fi
start "a fresh database"
step order --bot order --contacts 40 --messages 25 --clients 10
step versions --bot tagged --contacts 12 --messages 400 --clients 6 --answers-between 120
step limits --bot spin --contacts 8 --messages 5 --clients 4
stop "after the load"

start "again on the same database"
step total --bot order --expect 1000

# three rounds: a SIGKILL lands at a random point of a batch's way
for round in 1 2 3; do
  step crash --round "$round" --bot counter --contacts 16 --messages 400 --clients 8 --pid "$pid" \
    --kill-after 150 --state "$tmp/crash.json"
  wait "$pid"
  status=$?
  pid=""
  result "$([ "$status" -eq 137 ] && echo 0 || echo 1)" "crash $round: the server died of the SIGKILL" \
    "exit status $status"
  start "after SIGKILL $round"
  step recovered --round "$round" --bot counter --clients 8 --more 3 --state "$tmp/crash.json"
done
stop "after the recoveries"

check_text "the database passes PRAGMA integrity_check" 0 ok sqlite3 "$db" "PRAGMA integrity_check"
errors=$(grep -a 'level=error' "$tmp/log")
result "$([ -z "$errors" ] && echo 0 || echo 1)" "the server logged no error" "$errors"
summary
