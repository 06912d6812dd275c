#!/bin/sh
# What `parley test` says when a transcript fails: each failure names what
# it compared (the recipient and the simulated time of an extra message,
# the values of a false '?' line, the captures a line used) and why
# --update left a file alone.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh

bot=$tmp/b
mkdir -p "$bot/tests"
cat > "$bot/bot.lua" <<'LUA'
bot.keyword("hi", function(c) return "hello" end)
bot.keyword("two", function(c)
  c:reply("one")
  send("+15550002", "second")
end)
bot.keyword("later", function(c) bot.after("90s", "ping") end)
bot.handler("ping", function(c) c:send("ping") end)
bot.keyword("lines", function(c) return "line one\nline two" end)
bot.keyword("code", function(c) return "Your code is 123456" end)
bot.keyword("count", function(c)
  c.state.n = 2
  c.fields.city = "Dallas"
end)
LUA
t() { printf "$2" > "$bot/tests/$1.chat"; }

t nothing_more '@clock 2026-03-02 10:00 America/Chicago\n> +15550001 two\n< one\n< (nothing)\n'
check_text "nothing more: names the recipient and the simulated time" 1 \
  "nothing_more.chat:4: expected nothing more, but the bot sent to +15550002 at 2026-03-02 10:00 America/Chicago: second" \
  "$PARLEY" test "$bot/tests/nothing_more.chat"
t nothing_after_wait '@clock 2026-03-02 10:00 America/Chicago\n> +15550001 later\n~ 2m\n< (nothing)\n'
check_text "nothing more after ~: the time the message went out, to the second" 1 \
  "nothing_after_wait.chat:4: expected nothing more, but the bot sent to +15550001 at 2026-03-02 10:01:30 America/Chicago: ping" \
  "$PARLEY" test "$bot/tests/nothing_after_wait.chat"
t unexpected '> +15550001 two\n< one\n'
check_text "an unexpected message: names the recipient and the time (UTC without @clock)" 1 \
  "unexpected.chat:2: unexpected message to +15550002 at 2026-01-05 12:00 UTC: second" \
  "$PARLEY" test "$bot/tests/unexpected.chat"
t newline '> +15550001 lines\n< line one\n'
check_text "a text with a newline is shown as written in a transcript (\\\\n)" 1 \
  '#   actual:   < line one\nline two' \
  "$PARLEY" test "$bot/tests/newline.chat"

t assert_eq '> +15550001 count\n? contact("+15550001").state.n == 3\n'
check_text "a false '?' comparison shows both values" 1 \
  '#   compared: 2 == 3' \
  "$PARLEY" test "$bot/tests/assert_eq.chat"
t assert_and '> +15550001 count\n? contact("+15550001").state.n == 2 and contact("+15550001").fields.city == "Austin"\n'
check_text "a false part of an 'and' is named, with its values" 1 \
  '#   false: contact("+15550001").fields.city == "Austin", which compared: "Dallas" == "Austin"' \
  "$PARLEY" test "$bot/tests/assert_and.chat"
t assert_nil '> +15550001 count\n? contact("+15550001").fields.zip\n'
check_text "a false '?' value shows the value" 1 \
  '#   the value: nil' "$PARLEY" test "$bot/tests/assert_nil.chat"
t assert_table '> +15550001 count\n? contact("+15550001").state == 2\n'
check_text "a table is shown with its contents" 1 \
  '#   compared: {n = 2} == 2' "$PARLEY" test "$bot/tests/assert_table.chat"

t capture_unknown '> +15550001 code\n< Your code is {{code:[0-9]+}}\n> {{cdoe}}\n'
check_text "a capture name never captured is named, with the captured ones" 1 \
  "capture_unknown.chat:3: {{cdoe}} names no capture: capture it first in a '<' line, like < Your code is {{cdoe:[0-9]+}} (captured so far: code)" \
  "$PARLEY" test "$bot/tests/capture_unknown.chat"
t capture_unknown_assert '> +15550001 code\n< Your code is 123456\n? {{code}} == "123456"\n'
check_text "... in a '?' line too" 1 \
  "capture_unknown_assert.chat:3: {{code}} names no capture" \
  "$PARLEY" test "$bot/tests/capture_unknown_assert.chat"
t capture_unterminated '> +15550001 code\n< Your code is {{code:[0-9]+\n'
check_text "a capture without its }} is named" 1 \
  "capture_unterminated.chat:2: {{code: has no closing }}" \
  "$PARLEY" test "$bot/tests/capture_unterminated.chat"
t capture_in_send '> +15550001 {{code:[0-9]+}}\n'
check_text "a capture in a '>' line is refused" 1 \
  "capture_in_send.chat:1: {{code:...}} captures only in '<' and '!' lines; to send what it captured, write {{code}}" \
  "$PARLEY" test "$bot/tests/capture_in_send.chat"
t capture_mismatch '> +15550001 code\n< Your code is {{code:[0-9]+}}\n> code\n< Your code is {{code}}0\n'
check_text "a line using a capture that does not match shows the capture's value" 1 \
  'capture_mismatch.chat:4: expected: < Your code is {{code}}0 ({{code}} = 123456)' \
  "$PARLEY" test "$bot/tests/capture_mismatch.chat"

t update_assert '> +15550001 hi\n< hi\n? store.x == 1\n'
cp "$bot/tests/update_assert.chat" "$tmp/before.chat"
check_text "--update says why it did not update a file" 1 \
  "#   not updated: line 3 failed, and --update rewrites only '<' and '!' lines; fix it and run --update again" \
  "$PARLEY" test --update "$bot/tests/update_assert.chat"
check_text "... and the file is as it was" 0 "" cmp "$tmp/before.chat" "$bot/tests/update_assert.chat"

mkdir -p "$tmp/typo"
printf '\nbot.keywrd("hi", function(c) return "hello" end)\n' > "$tmp/typo/bot.lua"
check_text "check: a misspelt bot.* name at the top level suggests the nearest one" 1 \
  "typo/bot.lua:2: bot.keywrd does not exist; did you mean bot.keyword?" \
  "$PARLEY" check "$tmp/typo"

t contact_json_key '@contact +15550001 {"colour":"red"}\n'
check_text "@contact's JSON form: an unknown key is named" 1 \
  "contact_json_key.chat:1: @contact: unknown key 'colour' (known: status, fields, tags, timezone, state, expect, joined)" \
  "$PARLEY" test "$bot/tests/contact_json_key.chat"
t contact_json_kind '@contact +15550001 {"fields":[1,2]}\n'
check_text "@contact's JSON form: a value of the wrong kind is said" 1 \
  "contact_json_kind.chat:1: @contact: fields and state are objects" \
  "$PARLEY" test "$bot/tests/contact_json_kind.chat"
t contact_json_bad '@contact +15550001 {"fields":\n'
check_text "@contact's JSON form: JSON that does not parse is said" 1 \
  "contact_json_bad.chat:1: @contact: the JSON form is one object" \
  "$PARLEY" test "$bot/tests/contact_json_bad.chat"
t click_unsent '> +15550001 hi\n< hello\n@click +15550001 https://shop.example/x\n'
check_text "@click on a URL the contact was sent no link to" 1 \
  "click_unsent.chat:3: @click: +15550001 was sent no link to https://shop.example/x" \
  "$PARLEY" test "$bot/tests/click_unsent.chat"

summary
