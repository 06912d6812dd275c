#!/bin/sh
# bot.env under parley serve, sim, check and test: a bot's settings from the
# config file (env.NAME under [bot NAME]) and the environment
# (PARLEY_BOT_<BOT>_<NAME>, which wins); a reload reads the config file
# again. The secret value is in no answer of the admin API, not in
# --print-config, not in the log, not in the database.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
. tests/e2e/lib/server.sh
trap 'exit 1' INT TERM HUP
. tests/e2e/lib/require.sh
require_tools curl sqlite3
. tests/e2e/lib/tap.sh
lacks() { # description, file, text that must not be in it
  if grep -aqF -- "$3" "$2"; then not_ok "$1" "$(grep -aF -- "$3" "$2" | head -c 400)"; else ok "$1"; fi
}

SECRET=sk_live_e2e_9f8e7d6c5b4a
FILE_SECRET=sk_file_0a1b2c3d4e5f
unset PARLEY_DB PARLEY_SCRIPTS PARLEY_LISTEN PARLEY_PUBLIC_URL PARLEY_LOG PARLEY_LOG_FORMAT
export PARLEY_WEBHOOK_TOKEN=env-hook-1 PARLEY_ADMIN_TOKEN=env-admin-2
# the bot's folder has a '-': its variables are PARLEY_BOT_CLINIC_DESK_...
mkdir -p "$tmp/scripts"
cp -r tests/chat/env "$tmp/scripts/clinic-desk"
# a bot whose name starts like the other's: clinic takes none of its variables
mkdir -p "$tmp/scripts/clinic"
cat > "$tmp/scripts/clinic/bot.lua" <<'EOF'
bot.config{ name = "Clinic", quiet_hours = false }
bot.keyword("DESK", function(c) return "desk key: " .. tostring(bot.env.DESK_API_KEY) end)
EOF
cat > "$tmp/parley.conf" <<EOF
# bot.env of clinic-desk
[bot clinic-desk]
env.STAFF_NUMBER = +15550123
env.PIN = abcde
env.API_KEY = $FILE_SECRET
EOF
export PARLEY_BOT_CLINIC_DESK_API_KEY=$SECRET

# --print-config: the names, never the values
"$PARLEY" serve --config "$tmp/parley.conf" --scripts "$tmp/scripts" --db "$tmp/p.db" \
  --print-config > "$tmp/config.txt" 2>&1
expect "--print-config names the config file's env.STAFF_NUMBER" "$(cat "$tmp/config.txt")" \
  'env\.STAFF_NUMBER +.*\*\*\*\*\*\*\*\* .*# file; bot CLINIC_DESK'
expect "--print-config names the environment's variable and the bot that reads it" \
  "$(cat "$tmp/config.txt")" 'env\.API_KEY .*# env; bot clinic-desk.*PARLEY_BOT_CLINIC_DESK_API_KEY'
lacks "--print-config shows no value of the environment" "$tmp/config.txt" "$SECRET"
lacks "--print-config shows no value of the config file" "$tmp/config.txt" "$FILE_SECRET"
lacks "--print-config shows no staff number" "$tmp/config.txt" "+15550123"

# a server on a free port; sets port, pid, up
start_clinic() {
  PARLEY_LOG=debug start_server "$tmp/log" --config "$tmp/parley.conf" \
    --scripts "$tmp/scripts" --db "$tmp/p.db"
}
start_clinic
if [ "$up" -ne 1 ]; then
  bail "the server starts (its transcripts pass with their own @env)" "$(tail -c 600 "$tmp/log")"
fi
ok "the server starts (the bot's transcripts pass with their own @env, not the server's)"
url="http://127.0.0.1:$port"
say() { # bot, text, id
  curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer env-hook-1" \
    -H 'Content-Type: application/json' \
    --data "{\"from\":\"+15550001\",\"text\":\"$2\",\"id\":\"$3\"}" "$url/v1/bots/$1/messages"
}
admin() { # method, path, [curl args]
  m=$1 p=$2
  shift 2
  curl -s -m 10 -w ' %{http_code}' -X "$m" -H "Authorization: Bearer env-admin-2" "$@" "$url$p"
}

expect "the environment wins over the config file (the key has the variable's length)" \
  "$(say clinic-desk key m1)" "key of ${#SECRET} characters.* 200$"
expect "the config file's STAFF_NUMBER, read at the top level" "$(say clinic-desk staff m2)" \
  'Our staff will call you.* 200$'
expect "a bot whose name is a prefix of another's does not take its variables" \
  "$(say clinic desk m3)" 'desk key: nil.* 200$'
expect "an error quoting the key is answered masked" "$(say clinic-desk leak m4)" '200$'
say clinic-desk send m5 > /dev/null
expect "an event whose handler quotes the key is answered 422, masked" \
  "$(curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer env-hook-1" \
    -H 'Content-Type: application/json' --data '{"type":"check.key","contact":"+15550002"}' \
    "$url/v1/bots/clinic-desk/events")" \
  '"error":"[^"]*the API refused key \*\*\*\*\*\*\*\*".* 422$'
out=$(curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer env-hook-1" \
  -H 'Content-Type: application/json' --data '{"type":"check.short","contact":"+15550002"}' \
  "$url/v1/bots/clinic-desk/events")
expect "an event error quoting a value shorter than its mask is answered 422, masked, whole" \
  "$out" '^\{"status":"error","error":"[^"]*pin \*\*\*\*\*\*\*\*éé"\} 422$'
printf '%s' "${out% *}" | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null
result $? "... and the answer is valid JSON (valid UTF-8)" "$out"
expect "... and the server still answers" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$url/healthz")" '^200$'

# a reload reads the config file again, even with the same files
sed -i 's/+15550123/+15550456/' "$tmp/parley.conf"
expect "reload of the same files: active" \
  "$(admin PUT /v1/bots/clinic-desk/script -H 'Content-Type: text/x-lua' --data-binary @"$tmp/scripts/clinic-desk/bot.lua")" \
  '"status":"active".* 200$'
say clinic-desk staff m6 > /dev/null
# a config file that cannot be read refuses the new version; the old one runs on
mv "$tmp/parley.conf" "$tmp/parley.conf.away"
expect "reload without a readable config file: 422 naming it" \
  "$(admin PUT /v1/bots/clinic-desk/script -H 'Content-Type: text/x-lua' --data-binary @"$tmp/scripts/clinic-desk/bot.lua")" \
  'parley.conf cannot be read for bot.env.* 422$'
mv "$tmp/parley.conf.away" "$tmp/parley.conf"
expect "... and the running version still has its settings" "$(say clinic-desk key m7)" \
  "key of ${#SECRET} characters.* 200$"
# a version whose top level fails quoting the key: the 422 masks it
printf 'error("cannot start with key " .. bot.env.API_KEY)\n' > "$tmp/bad.lua"
admin PUT /v1/bots/clinic-desk/script -H 'Content-Type: text/x-lua' --data-binary @"$tmp/bad.lua" \
  > "$tmp/bad_reload.txt"
expect "a refused reload names the error, masked" "$(cat "$tmp/bad_reload.txt")" \
  'cannot start with key \*\*\*\*\*\*\*\*.* 422$'
{
  admin GET /v1/bots/clinic-desk/versions
  admin GET /v1/bots/clinic-desk/contacts
  admin GET /v1/bots/clinic-desk/contacts/+15550001
  admin GET /v1/bots/clinic-desk/consent.csv
  admin GET /metrics
  cat "$tmp/bad_reload.txt"
} > "$tmp/admin.txt" 2>&1
expect "the admin API answered" "$(cat "$tmp/admin.txt")" '"versions".* 200'
lacks "no admin API answer holds the key" "$tmp/admin.txt" "$SECRET"
lacks "... nor the config file's key" "$tmp/admin.txt" "$FILE_SECRET"

kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""
expect "the staff message went to the config file's number" "$(cat "$tmp/log")" \
  'event=sent bot=clinic-desk to=\+15550123'
expect "after the reload, to the file's new number" "$(cat "$tmp/log")" \
  'event=sent bot=clinic-desk to=\+15550456'
expect "the handler errors are logged, masked" "$(cat "$tmp/log")" \
  'handler_error .*refused by the API with key \*\*\*\*\*\*\*\*'
lacks "the log holds no key" "$tmp/log" "$SECRET"
lacks "... nor the config file's key" "$tmp/log" "$FILE_SECRET"
cat "$tmp"/p.db* > "$tmp/db.bytes"
lacks "the database holds no key (errors, versions, messages)" "$tmp/db.bytes" "$SECRET"
errors=$(sqlite3 "$tmp/p.db" "select count(*) from errors where text like '%********%'" 2>&1)
expect "... its errors are stored masked" "$errors" '^[1-9]'

# parley sim: the environment, and --env over it
printf 'key\n' > "$tmp/in"
expect "sim: the environment's key" "$("$PARLEY" sim "$tmp/scripts/clinic-desk" < "$tmp/in" 2>&1)" \
  "key of ${#SECRET} characters"
printf 'leak\n' > "$tmp/in_leak"
out=$("$PARLEY" sim "$tmp/scripts/clinic-desk" < "$tmp/in_leak" 2>&1)
expect "sim: the script's log line and error show the key masked" "$out" \
  'log: the key is \*\*\*\*\*\*\*\*'
if printf '%s' "$out" | grep -qF "$SECRET"; then not_ok "... and nowhere in clear" "$out"; else ok "... and nowhere in clear"; fi
expect "sim: --env wins over the environment" \
  "$("$PARLEY" sim "$tmp/scripts/clinic-desk" --env api_key=abc < "$tmp/in" 2>&1)" \
  'key of 3 characters'
out=$("$PARLEY" sim "$tmp/scripts/clinic-desk" --env "$SECRET" < "$tmp/in" 2>&1)
rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q 'NAME=value' && ! printf '%s' "$out" | grep -qF "$SECRET"
[ $? -eq 0 ] && ok "sim: --env without '=' is refused, without repeating it" ||
  not_ok "sim: --env without '=' is refused, without repeating it" "exit $rc: $out"

# parley check: a top level that needs a setting reads the environment
mkdir -p "$tmp/needs"
printf 'local KEY = assert(bot.env.SHOP_KEY, "set PARLEY_BOT_NEEDS_SHOP_KEY")\nbot.fallback(function(c) return #KEY end)\n' \
  > "$tmp/needs/bot.lua"
out=$("$PARLEY" check "$tmp/needs" 2>&1)
expect "check: without the variable the top level fails, saying so" "$out" 'set PARLEY_BOT_NEEDS_SHOP_KEY'
out=$(PARLEY_BOT_NEEDS_SHOP_KEY=k123 "$PARLEY" check "$tmp/needs" 2>&1)
expect "check: with it the bot is ok" "$out" ': ok'

# parley test: @env lines, and their mistakes
mkdir -p "$tmp/needs/tests"
printf '@bot scripts/clinic-desk\n' > "$tmp/late.chat"
printf '@env shop-key=k1\n> hi\n< 2\n' > "$tmp/needs/tests/good.chat"
printf '> key\n< no key\n@env API_KEY=k1\n' >> "$tmp/late.chat"
printf '@env %s\n> hi\n' "$SECRET" > "$tmp/needs/tests/noeq.chat"
out=$(PARLEY_BOT_NEEDS_SHOP_KEY=ignored-env "$PARLEY" test "$tmp/needs/tests/good.chat" 2>&1)
expect "test: @env sets the value (a transcript ignores the environment)" "$out" '1 passed, 0 failed'
out=$("$PARLEY" test "$tmp/late.chat" 2>&1)
expect "test: @env after the bot started fails, naming the line" "$out" \
  'late.chat:4: @env must come before the bot starts'
out=$("$PARLEY" test "$tmp/needs/tests/noeq.chat" 2>&1)
expect "test: @env without '=' names the line" "$out" "noeq.chat:1: @env: expected NAME=value"
if printf '%s' "$out" | grep -qF "$SECRET"; then
  not_ok "... without repeating it" "$out"
else
  ok "... without repeating it"
fi

summary
