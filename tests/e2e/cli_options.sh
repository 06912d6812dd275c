#!/bin/sh
# The options of the command line's verbs (all but serve, tested in
# serve_options.sh): --help, an unknown option or one without its value
# named with exit 2, extra arguments refused, and options before or after the
# arguments alike.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh
unset PARLEY_URL PARLEY_LISTEN PARLEY_ADMIN_TOKEN_FILE
export PARLEY_ADMIN_TOKEN=cli-options-admin
# nothing listens on port 1: a verb that got that far parsed its options
nowhere=http://127.0.0.1:1

mkdir -p "$tmp/ok/tests"
printf 'bot.keyword("hi", function(c) return "hello " .. (bot.env.GREETING or "-") end)\n' \
  > "$tmp/ok/bot.lua"
printf '> +15550001 hi\n< hello -\n' > "$tmp/ok/tests/good.chat"

# ---------------------------------------------------------------- parley
check "parley help prints the commands" 0 "^  sim BOTDIR \[--db FILE\]" "$PARLEY" help
check "parley --help too" 0 "^usage: parley <command> \[options\]" "$PARLEY" --help
check "parley -h too" 0 "^usage: parley <command> \[options\]" "$PARLEY" -h
check "parley with no command prints the usage, exit 2" 2 "^usage: parley <command>" "$PARLEY"
check "parley version" 0 "^parley [0-9]+\.[0-9]+\.[0-9]+$" "$PARLEY" version
check "parley --version" 0 "^parley [0-9]+\.[0-9]+\.[0-9]+$" "$PARLEY" --version

# ---------------------------------------------------------------- sim
known_sim="(known: --db FILE, --as NUMBER, --env NAME=value)"
check_text "sim --help" 0 "usage: parley sim BOTDIR [--db FILE] [--as NUMBER] [--env NAME=value]..." \
  "$PARLEY" sim --help
check_text "sim -h" 0 "usage: parley sim BOTDIR" "$PARLEY" sim -h
check_text "sim without a folder prints the usage, exit 2" 2 "usage: parley sim BOTDIR" \
  "$PARLEY" sim
check_text "sim: an unknown option is named" 2 "parley sim: unknown option '--fast' $known_sim" \
  "$PARLEY" sim "$tmp/ok" --fast
check_text "sim: an unknown short option is named" 2 "parley sim: unknown option '-x' $known_sim" \
  "$PARLEY" sim -x "$tmp/ok"
check_text "sim: --db without its value is named" 2 "parley sim: unknown option '--db' $known_sim" \
  "$PARLEY" sim "$tmp/ok" --db
check_text "sim: --as takes E.164 numbers only" 2 \
  "parley sim: --as '555' is not a number like +15550002" "$PARLEY" sim "$tmp/ok" --as 555
check "sim: --env takes NAME=value" 2 "^parley sim: --env: " \
  "$PARLEY" sim "$tmp/ok" --env novalue
check_text "sim: one bot folder at a time" 2 \
  "parley sim: one bot folder at a time ('$tmp/ok' and '$tmp/other')" \
  "$PARLEY" sim "$tmp/ok" "$tmp/other"
check "sim: options after the folder" 0 "^\+15550009> hi$" \
  sh -c "printf 'hi\n' | '$PARLEY' sim '$tmp/ok' --as +15550009 --db '$tmp/after.db'"
check "sim: options before the folder" 0 "^ok: hello there$" \
  sh -c "printf 'hi\n' | '$PARLEY' sim --env GREETING=there --as +15550009 '$tmp/ok'"
check "sim: options on both sides of the folder" 0 "^\+15550008> hi$" \
  sh -c "printf 'hi\n' | '$PARLEY' sim --db '$tmp/both.db' '$tmp/ok' --as +15550008"
[ -s "$tmp/after.db" ] && [ -s "$tmp/both.db" ]
result $? "sim: --db after and before the folder both make the database"
check "sim: --env repeats" 0 "^ok: hello twice$" \
  sh -c "printf 'hi\n' | '$PARLEY' sim '$tmp/ok' --env GREETING=once --env GREETING=twice"

# ---------------------------------------------------------------- test
check_text "test --help" 0 "usage: parley test [--update] [--db URL] [PATH...]" "$PARLEY" test --help
check_text "test: an unknown option is named" 2 \
  "parley test: unknown option '--fast' (known: --update, --db)" "$PARLEY" test "$tmp/ok" --fast
check_text "test: a missing path is named" 2 "parley test: $tmp/none: no such file or folder" \
  "$PARLEY" test "$tmp/none"
check "test: a folder and a file" 0 "^2 passed, 0 failed" \
  "$PARLEY" test "$tmp/ok" "$tmp/ok/tests/good.chat"
printf '> +15550001 hi\n< hello wrong\n' > "$tmp/ok/tests/update.chat"
check "test: --update after the path" 0 "^ok 1 - $tmp/ok/tests/update.chat \(updated\)" \
  "$PARLEY" test "$tmp/ok/tests/update.chat" --update
printf '> +15550001 hi\n< hello wrong\n' > "$tmp/ok/tests/update.chat"
check "test: --update before the path" 0 "^ok 1 - $tmp/ok/tests/update.chat \(updated\)" \
  "$PARLEY" test --update "$tmp/ok/tests/update.chat"

# ---------------------------------------------------------------- check
check "check: two folders, one line each" 0 "^$tmp/ok: ok \(bot 'ok'\)" \
  "$PARLEY" check "$tmp/ok" "$tmp/ok"
check_text "check without a folder prints the usage, exit 2" 2 "usage: parley check BOTDIR..." \
  "$PARLEY" check
check_text "check --help" 0 "usage: parley check BOTDIR..." "$PARLEY" check --help
check_text "check: an unknown option is named (not loaded as a folder)" 2 \
  "parley check: unknown option '--fast' (known: --help)" "$PARLEY" check "$tmp/ok" --fast

# ---------------------------------------------------------------- getopt_long
check_text "an option is known by its whole name only (no abbreviation)" 2 \
  "parley sim: unknown option '--d' $known_sim" "$PARLEY" sim "$tmp/ok" --d "$tmp/x.db"
check_text "-- ends the options: what follows is an argument" 2 \
  "parley sim: one bot folder at a time ('$tmp/ok' and '--db')" "$PARLEY" sim "$tmp/ok" -- --db
check "--name=value is the value" 0 "^\+15550007> hi$" \
  sh -c "printf 'hi\n' | '$PARLEY' sim '$tmp/ok' --as=+15550007"
check "options after the folder with POSIXLY_CORRECT set too" 0 "^\+15550006> hi$" \
  sh -c "printf 'hi\n' | POSIXLY_CORRECT=1 '$PARLEY' sim '$tmp/ok' --as +15550006"

# ---------------------------------------------------------------- segments
check_text "segments --help" 0 "usage: parley segments [--help]" "$PARLEY" segments --help
check_text "segments: an unknown option is named" 2 \
  "parley segments: unknown option '--fast' (known: --help)" "$PARLEY" segments --fast
check_text "segments: an argument is refused" 2 \
  "parley segments: unexpected argument 'hello' (texts are read from stdin, one per line)" \
  "$PARLEY" segments hello

# ---------------------------------------------------------------- reload
known_reload="(known: --dir, --dry-run, --accept-errors, --url, --config)"
check_text "reload --help" 0 "usage: parley reload BOT [--dir FOLDER] [--dry-run] [--accept-errors] [--url URL]" \
  "$PARLEY" reload --help
check_text "reload without a bot prints the usage, exit 2" 2 "usage: parley reload BOT" \
  "$PARLEY" reload
check_text "reload: an unknown option is named" 2 \
  "parley reload: unknown option '--fast' $known_reload" "$PARLEY" reload ok --fast
check_text "reload: --url without its value is named" 2 \
  "parley reload: unknown option '--url' $known_reload" "$PARLEY" reload ok --url
check_text "reload: one bot at a time" 2 "parley reload: one bot at a time ('a' and 'b')" \
  "$PARLEY" reload a b
check_text "reload: options after the bot (the server is asked)" 1 \
  "is parley serve running there?" "$PARLEY" reload ok --dir "$tmp/ok" --url "$nowhere"
check_text "reload: options before the bot (the server is asked)" 1 \
  "is parley serve running there?" "$PARLEY" reload --url "$nowhere" --dir "$tmp/ok" ok
check "reload: --dir is read (a missing folder is named)" 1 "$tmp/none" \
  "$PARLEY" reload --url "$nowhere" ok --dir "$tmp/none"

# ---------------------------------------------------------------- contacts
# ---------------------------------------------------------------- pull
known_pull="(known: --last, --mask, --output, --bot-dir, --url, --config)"
check_text "pull --help" 0 "usage: parley pull BOT NUMBER [--last N] [--mask]" "$PARLEY" pull --help
check_text "pull without a number prints the usage, exit 2" 2 "usage: parley pull BOT NUMBER" \
  "$PARLEY" pull ok
check_text "pull: an unknown option is named" 2 \
  "parley pull: unknown option '--fast' $known_pull" "$PARLEY" pull ok +15550001 --fast
check_text "pull: --last must be a count" 2 \
  "parley pull: --last is 1 to 10000 messages, not 'many'" "$PARLEY" pull ok +15550001 --last many
check_text "pull: the server is asked (options after the arguments)" 1 \
  "parley pull: " "$PARLEY" pull ok +15550001 --url "$nowhere" -o -

known_contacts="(known: --url, --config, --format, --output)"
printf 'number\n+15550001\n' > "$tmp/c.csv"
check_text "contacts --help" 0 "usage: parley contacts import BOT FILE" "$PARLEY" contacts --help
check_text "contacts import --help" 0 "usage: parley contacts import BOT FILE" \
  "$PARLEY" contacts import --help
check_text "contacts without a command prints the usage, exit 2" 2 \
  "usage: parley contacts import BOT FILE" "$PARLEY" contacts
check_text "contacts: an unknown command is named" 2 \
  "parley contacts: unknown command 'delete' (known: import, export)" "$PARLEY" contacts delete
check_text "contacts: an unknown option is named" 2 \
  "parley contacts: unknown option '--fast' $known_contacts" \
  "$PARLEY" contacts import ok "$tmp/c.csv" --fast
check_text "contacts: --format without its value is named" 2 \
  "parley contacts: unknown option '--format' $known_contacts" \
  "$PARLEY" contacts import ok "$tmp/c.csv" --format
check_text "contacts: a bad --format is named" 2 \
  "parley contacts: --format is csv or jsonl, not 'xml'" \
  "$PARLEY" contacts import --format xml ok "$tmp/c.csv"
check_text "contacts: import needs BOT and FILE" 2 "usage: parley contacts import BOT FILE" \
  "$PARLEY" contacts import ok
check_text "contacts: export takes BOT only" 2 "usage: parley contacts import BOT FILE" \
  "$PARLEY" contacts export ok "$tmp/c.csv"
check_text "contacts: three arguments are refused" 2 "usage: parley contacts import BOT FILE" \
  "$PARLEY" contacts import ok "$tmp/c.csv" more
check "contacts: import with options before and after (the server is asked)" 1 \
  "^parley contacts: .*(127\.0\.0\.1|port 1|connect)" \
  "$PARLEY" contacts import --url "$nowhere" ok --format csv "$tmp/c.csv"
check "contacts: export with -o (the server is asked)" 1 \
  "^parley contacts: .*(127\.0\.0\.1|port 1|connect)" \
  "$PARLEY" contacts export ok -o "$tmp/out.csv" --url "$nowhere"

summary
