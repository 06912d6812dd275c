#!/bin/sh
# The command line's answers to bad input: one sentence naming the file and
# line (or the value), and a non-zero exit; and the simulator's basics.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${web:-}" ] && kill "$web" 2>/dev/null' EXIT
. tests/e2e/lib/tap.sh

mkdir -p "$tmp/syntax" "$tmp/ok/tests"
printf 'bot.keyword("hi", function(c)\n  return "x" ..\nend)\n' > "$tmp/syntax/bot.lua"
printf 'bot.keyword("hi", function(c) return "hello" end)\n' > "$tmp/ok/bot.lua"
printf '> +15550001 hi\n< hello\n' > "$tmp/ok/tests/good.chat"
printf '> +15550001 hi\n< hello\nthis line means nothing\n' > "$tmp/ok/tests/bad_line.chat"
printf '> +15550001 hi\n< hello\n~ 5 minutes\n' > "$tmp/ok/tests/bad_duration.chat"
printf '@clock 2026-02-30 10:00 UTC\n' > "$tmp/ok/tests/bad_clock.chat"

check "check: a syntax error is reported as file:line" 1 \
  "^$tmp/syntax/bot.lua:3: unexpected symbol near 'end'" "$PARLEY" check "$tmp/syntax"
mkdir -p "$tmp/filter"
printf 'bot.drip("w", {\n  { after = "1d", text = "See {{urll fields.city}}" },\n})\n' > "$tmp/filter/bot.lua"
check "check: an unknown template filter in a drip text is a load error naming it" 1 \
  "^$tmp/filter/bot.lua:1: bot.drip\\('w'\\) step 1: template [{][{]urll fields.city[}][}]: unknown filter 'urll' \\(known: url\\)" \
  "$PARLEY" check "$tmp/filter"
# shared modules: the lib/ folder beside the bot folders
mkdir -p "$tmp/shared/lib" "$tmp/shared/uses" "$tmp/shared/clash/lib" "$tmp/shared/escape"
printf 'return { x = 1 }\n' > "$tmp/shared/lib/util.lua"
printf 'local u = require("lib.util")\nbot.fallback(function() return "x" .. u.x end)\n' > "$tmp/shared/uses/bot.lua"
printf 'require("lib.util")\n' > "$tmp/shared/clash/bot.lua"
printf 'return {}\n' > "$tmp/shared/clash/lib/util.lua"
printf 'require("lib/../../escape/bot")\n' > "$tmp/shared/escape/bot.lua"
check "check: a bot requiring a shared module loads" 0 "^$tmp/shared/uses: ok" "$PARLEY" check "$tmp/shared/uses"
check "check: lib/ itself is named as the shared modules, not a bot" 0 \
  "^$tmp/shared/lib: shared modules" "$PARLEY" check "$tmp/shared/lib"
check "check: a bot's own lib/util.lua that is also a shared module is refused, naming both" 1 \
  "^$tmp/shared/clash/lib/util.lua: module 'lib.util' is also the shared $tmp/shared/lib/util.lua" \
  "$PARLEY" check "$tmp/shared/clash"
check "check: require takes module names, not paths, for shared modules too" 1 \
  "bad module name 'lib/../../escape/bot'" "$PARLEY" check "$tmp/shared/escape"
mkdir -p "$tmp/dup"
printf 'bot.handler("a", function() end)\n\nbot.handler("a", function() end)\n' > "$tmp/dup/bot.lua"
check "check: a duplicate names the first place as file:line, nothing after it" 1 \
  "^$tmp/dup/bot.lua:3: bot.handler: a handler named 'a' already exists \\($tmp/dup/bot.lua:1\\)\$" \
  "$PARLEY" check "$tmp/dup"
check "check: a missing folder is named" 1 "$tmp/none: not a bot folder" \
  "$PARLEY" check "$tmp/none"
mkdir -p "$tmp/toplevel_send" "$tmp/half_chars"
printf '\nsend("+15550001", "x")\n' > "$tmp/toplevel_send/bot.lua"
printf 'bot.config{ max_message_chars = 10.5 }\n' > "$tmp/half_chars/bot.lua"
check "check: send at the top level is reported at the script's line" 1 \
  "^$tmp/toplevel_send/bot.lua:2: send is available only inside handlers" \
  "$PARLEY" check "$tmp/toplevel_send"
check "check: a fractional max_message_chars is refused" 1 \
  "bot.lua:1: bot.config: max_message_chars must be a whole number" \
  "$PARLEY" check "$tmp/half_chars"
check "check: a good bot passes" 0 "ok \(bot 'ok'\)" "$PARLEY" check "$tmp/ok"
mkdir -p "$tmp/shortcode" "$tmp/badnumber"
printf 'bot.config{numbers = {"+15550100", "72345"}}\n' > "$tmp/shortcode/bot.lua"
printf 'bot.config{numbers = {"12"}}\n' > "$tmp/badnumber/bot.lua"
check "check: a short code among the bot's numbers is accepted" 0 "ok \(bot 'shortcode'\)" \
  "$PARLEY" check "$tmp/shortcode"
check "check: a number that is neither E.164 nor a short code is named" 1 \
  "numbers\[1\] = '12' is not an E.164 number like \+15550100 or a short code" \
  "$PARLEY" check "$tmp/badnumber"
check "test: a good transcript passes" 0 "^1 passed, 0 failed" \
  "$PARLEY" test "$tmp/ok/tests/good.chat"
check "test: a malformed .chat line is named by file:line" 1 \
  "bad_line.chat:3: cannot read this line" "$PARLEY" test "$tmp/ok/tests/bad_line.chat"
check "test: a bad duration is named" 1 \
  "bad_duration.chat:3: '5 minutes' is not a duration" \
  "$PARLEY" test "$tmp/ok/tests/bad_duration.chat"
check "test: an impossible date is named" 1 "bad_clock.chat:1: @clock: '2026-02-30 10:00'" \
  "$PARLEY" test "$tmp/ok/tests/bad_clock.chat"
check "test: an unknown option is named" 2 "unknown option '--fast'" \
  "$PARLEY" test --fast
check "parley: an unknown command is named" 2 "unknown command 'serv'" "$PARLEY" serv
check "sim: an unknown /command names the input line and fails" 1 \
  "stdin:2: unknown command '/frobnicate'" \
  sh -c "printf 'hi\n/frobnicate\n' | $PARLEY sim $tmp/ok"
check "sim: replies print as the phone shows them" 0 "^ok: hello$" \
  sh -c "printf 'hi\n' | $PARLEY sim $tmp/ok"
check "sim: /advance names a bad duration" 1 "'soon' is not a duration" \
  sh -c "printf '/advance soon\n' | $PARLEY sim $tmp/ok"
check "sim: /as refuses a number that is not E.164" 1 "'555' is not a number" \
  sh -c "printf '/as 555\n' | $PARLEY sim $tmp/ok"

printf 'not a database, just text\n%.0s' $(seq 1 200) > "$tmp/junk.db"
cp "$tmp/junk.db" "$tmp/junk.orig"
check "sim: a corrupt database is reported" 1 "junk.db: not a usable SQLite database" \
  sh -c "$PARLEY sim $tmp/ok --db $tmp/junk.db </dev/null"
cmp -s "$tmp/junk.db" "$tmp/junk.orig"
result $? "sim: the corrupt database is left as it was" "the corrupt database was changed"

check "sim: data survives a restart with --db" 0 "fields +\{\}" \
  sh -c "printf 'hi\n' | $PARLEY sim $tmp/ok --db $tmp/keep.db >/dev/null && printf '/state\n' | $PARLEY sim $tmp/ok --db $tmp/keep.db"
check "sim: the stored messages survive a restart" 0 "^2$" \
  sqlite3 "$tmp/keep.db" "SELECT count(*) FROM messages"

mkdir -p "$tmp/long"
printf 'bot.keyword("long", function(c) return ("a"):rep(161) end)\nbot.keyword("euro", function(c) return ("\\u{20AC}"):rep(80) end)\nbot.keyword("uni", function(c) return ("\\u{0436}"):rep(71) end)\n' > "$tmp/long/bot.lua"
check "every outgoing message records its SMS segment count" 0 "^2\|1\|2$" \
  sh -c "printf 'long\neuro\nuni\n' | $PARLEY sim $tmp/long --db $tmp/long.db >/dev/null && sqlite3 $tmp/long.db \"SELECT group_concat(segments, '|') FROM (SELECT segments FROM messages WHERE direction = 'out' ORDER BY id)\""

mkdir -p "$tmp/longdrip" "$tmp/badsched"
printf 'bot.config{ max_segments = 1 }\nbot.drip("w", {\n  { after = "1h", text = ("x"):rep(200) },\n})\n' > "$tmp/longdrip/bot.lua"
check "check: warns about a drip text over max_segments, and passes" 0 \
  "bot.lua:2: warning: drip 'w' step 1 is 2 SMS segments \(GSM-7; bot.config max_segments = 1\)" \
  "$PARLEY" check "$tmp/longdrip"
printf 'bot.handler("h", function() end)\nbot.every("sometimes", "h")\n' > "$tmp/badsched/bot.lua"
check "check: an unparseable schedule is named" 1 \
  "bot.lua:2: bot.every: 'sometimes' is not a schedule" "$PARLEY" check "$tmp/badsched"

mkdir -p "$tmp/noallow" "$tmp/otherhost"
printf 'bot.keyword("x", function(c) return http.get("https://api.example.com/").body end)\n' > "$tmp/noallow/bot.lua"
check "check: http.get without bot.config http.allow is named" 1 \
  "noallow/bot.lua:1: http.get: bot.config\{http = \{allow = \{...\}\}\} lists no hosts" \
  "$PARLEY" check "$tmp/noallow"
printf 'bot.config{ http = { allow = { "*.example.com" } } }\nbot.keyword("x", function(c)\n  return http.post("https://example.com/", "b").body\nend)\n' > "$tmp/otherhost/bot.lua"
check "check: a literal URL whose host is not allowed is named" 1 \
  "otherhost/bot.lua:3: http.post: example.com is not in bot.config" "$PARLEY" check "$tmp/otherhost"

mkdir -p "$tmp/userinfo"
printf 'bot.config{ http = { allow = { "api.example.com" } } }\n-- http.get("https://other.example/")\nbot.keyword("x", function(c)\n  return http.get("https://u:p@api.example.com:8443/x").body\nend)\n' > "$tmp/userinfo/bot.lua"
check "check: userinfo, a port and comments do not confuse the http rule" 0 "userinfo: ok" \
  "$PARLEY" check "$tmp/userinfo"
mkdir -p "$tmp/badhttp"
printf 'bot.config{ http = { allow = { "https://api.example.com" } } }\n' > "$tmp/badhttp/bot.lua"
check "check: an http.allow entry that is a URL is named" 1 \
  "badhttp/bot.lua:1: bot.config: http.allow\[1\] = 'https://api.example.com' is not a host name" \
  "$PARLEY" check "$tmp/badhttp"
printf 'bot.config{ http = { allow = { "a.example" }, timeout = "2m" } }\n' > "$tmp/badhttp/bot.lua"
check "check: an http.timeout over 60 s is named" 1 \
  "bot.config: http.timeout = '2m' must be a duration between 1ms and 60s" "$PARLEY" check "$tmp/badhttp"

# each limit out of its range is named with what it must be
mkdir -p "$tmp/badlimit"
for case in \
  "instructions = 10|limits.instructions = 10 must be a whole number between 1000 and 1e9" \
  "memory = '1KB'|limits.memory = '1KB' must be a size between 64KB and 256MB, like '16MB'" \
  "waiting_memory = '1GB'|limits.waiting_memory = '1GB' must be a size between 1MB and 512MB, like '128MB'" \
  "time = '11s'|limits.time = '11s' must be a duration between 1ms and 10s, like '500ms'"; do
  printf 'bot.config{ limits = { %s } }\n' "${case%%|*}" > "$tmp/badlimit/bot.lua"
  check "check: limits { ${case%%|*} } is refused" 1 "bot.config: ${case#*|}" \
    "$PARLEY" check "$tmp/badlimit"
done

# sim and http.get: a /http line answers; anything else really goes out
. tests/e2e/lib/stock_server.sh
stock_server_start "$tmp" "$tmp/fetch"
check "sim: a /http line answers a handler's request" 0 "^Fetch: Left: 9$" \
  sh -c "printf '/http GET http://127.0.0.1:$port/stock.json -> 200 {\"left\": 9}\nstock\n' | $PARLEY sim $tmp/fetch"
check "sim: a request no /http line answers really goes out" 0 "^Fetch: Left: 4$" \
  sh -c "printf 'stock\n' | $PARLEY sim $tmp/fetch"
check "sim: a bad /http line is named" 1 "/http: '700 x' is not a status from 100 to 599" \
  sh -c "printf '/http GET http://127.0.0.1/ -> 700 x\n' | $PARLEY sim $tmp/fetch"
stock_server_stop

summary
