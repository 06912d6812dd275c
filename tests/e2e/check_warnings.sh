#!/bin/sh
# parley check: what it warns about (a warning is printed, the bot still
# passes) and what it refuses at load (the bot's file:line, exit 1): sends
# that quiet hours would hold, an on_join that would swallow the reply to an
# event, bot.match patterns that are malformed or have capital letters.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh

passed() { # description, 1 if it passed (the output of the last run shown if not)
  result $((1 - $2)) "$1" "exit $rc; output: $(printf '%s' "$out" | head -c 600)"
}

# bot NAME: writes stdin to $tmp/NAME/bot.lua and runs parley check on it
bot() {
  mkdir -p "$tmp/$1"
  cat > "$tmp/$1/bot.lua"
  out=$("$PARLEY" check "$tmp/$1" 2>&1)
  rc=$?
}

warns() { # description, regex (an extended regex on the whole output)
  ok=0
  [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -Eq -- "$2" && ok=1
  passed "$1" $ok
}

clean() { # description: passes with no warning at all
  ok=0
  [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q warning && ok=1
  passed "$1" $ok
}

refuses() { # description, regex
  ok=0
  [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -Eq -- "$2" && ok=1
  passed "$1" $ok
}

# ---------------------------------------------------------------- quiet hours

bot reminder <<'LUA'
bot.config{ timezone = "America/New_York" }
bot.drip("reminder", {
  { of = "fields.appointment_at", before = "1d", at = "10:00", text = "Tomorrow!" },
  { of = "fields.appointment_at", before = "2h", text = "In 2 hours" },
})
LUA
warns "a step counted from a date field, without at, can fall inside quiet hours" \
  "^$tmp/reminder/bot.lua:2: warning: drip 'reminder' step 2 \(2h before fields.appointment_at\) can fall inside quiet hours \(21:00-09:00\) and would then be held until 09:00; mark it urgent = true if the contact asked for it, or give it an at = \"HH:MM\" outside them"
[ "$(printf '%s\n' "$out" | grep -c warning)" -eq 1 ]
passed "... and only that step (step 1 is at 10:00)" $((1 - $?))

bot marked <<'LUA'
bot.drip("reminder", {
  { of = "fields.appointment_at", before = "2h", urgent = true, text = "In 2 hours" },
  { of = "fields.appointment_at", before = "1h", transactional = true, text = "In 1 hour" },
  { of = "fields.appointment_at", before = "30m", call = "soon" },
  { after = "1d", text = "How did it go?" },
})
bot.handler("soon", function(c) return "Soon" end, { urgent = true })
LUA
clean "steps marked urgent or transactional (or calling a marked handler) are not warned about"

bot atnight <<'LUA'
bot.config{ quiet_hours = { "22:00", "07:00" } }
bot.drip("series", {
  { after = "1d", at = "06:30", text = "Good morning!" },
})
LUA
warns "a step at a wall-clock time inside quiet hours is warned about" \
  "atnight/bot.lua:2: warning: drip 'series' step 1 \(at 06:30\) falls inside quiet hours \(22:00-07:00\) and is held until 07:00; mark it urgent = true if the contact asked for it, or move it"

bot noquiet <<'LUA'
bot.config{ quiet_hours = false }
bot.drip("reminder", { { of = "fields.appointment_at", before = "2h", text = "In 2 hours" } })
bot.handler("digest", function() end)
bot.every("daily 23:00", "digest")
LUA
clean "without quiet hours nothing is warned about"

bot every <<'LUA'
bot.handler("digest", function() end)
bot.handler("alarm", function() end, { urgent = true })
bot.handler("noon", function() end)
bot.every("daily 23:00", "digest")
bot.every("daily 23:30", "alarm")
bot.every("weekdays 12:00", "noon")
bot.every("every 15m", "noon")
LUA
warns "a recurring timer at a time inside the bot's quiet hours is warned about" \
  "^$tmp/every/bot.lua:4: warning: bot.every\('daily 23:00', 'digest'\) runs inside quiet hours \(21:00-09:00\) in the bot's zone: what it sends is held until 09:00 in each recipient's zone"
[ "$(printf '%s\n' "$out" | grep -c warning)" -eq 1 ]
passed "... but not a marked handler's, nor one at noon or every 15m" $((1 - $?))

bot badmark <<'LUA'
bot.drip("w", { { after = "1h", urgent = "yes", text = "x" } })
LUA
refuses "a mark must be a boolean" "badmark/bot.lua:1: bot.drip\('w'\) step 1: urgent must be true or false"
bot badopt <<'LUA'
bot.handler("h", function() end, { urgnet = true })
LUA
refuses "a handler's unknown option is named" \
  "badopt/bot.lua:1: bad argument #3 to 'handler' \(unknown option 'urgnet' \(known: urgent, transactional\)\)"

# ---------------------------------------------------------------- on_join and events

bot joinevent <<'LUA'
bot.on_join(function(c, msg)
  return "Welcome!"
end)
bot.on_event("otp.requested", function(c, ev) c:send("Code " .. ev.code, { transactional = true }) end)
LUA
warns "on_join and an event handler: warned that on_join gets the event contact's first message" \
  "^$tmp/joinevent/bot.lua:1: warning: bot.on_join also gets the first message of a contact created by an event \(bot.on_event 'otp.requested' at $tmp/joinevent/bot.lua:4\), like the code an OTP user replies with; return c:continue\(\) from it to route that message on"

bot joincontinue <<'LUA'
bot.on_join(function(c, msg)
  if c.state.code then return c:continue() end
  return "Welcome!"
end)
bot.on_event("otp.requested", function(c, ev) c.state.code = ev.code end)
LUA
clean "an on_join that calls c:continue() is not warned about"

# ---------------------------------------------------------------- patterns

for case in '^x%|malformed pattern \(ends with '"'"'%'"'"'\)' \
            '^y(%d+|unfinished capture' \
            '[a-z|malformed pattern \(missing '"'"'\]'"'"'\)' \
            '^a%b|malformed pattern \(missing arguments to '"'"'%b'"'"'\)' \
            'x%fa|missing '"'"'\['"'"' after '"'"'%f'"'"' in pattern' \
            'x)|invalid pattern capture' \
            '(a%1)|invalid capture index %1' \
            '(a)%2|invalid capture index %2'; do
  pat=${case%%|*}
  msg=${case#*|}
  printf 'bot.keyword("hi", function(c) return "x" end)\nbot.match(%s, function(c, msg) end)\n' \
    "'$pat'" > "$tmp/pattern.lua"
  mkdir -p "$tmp/pattern"
  cp "$tmp/pattern.lua" "$tmp/pattern/bot.lua"
  out=$("$PARLEY" check "$tmp/pattern" 2>&1)
  rc=$?
  re_pat=$(printf '%s' "$pat" | sed 's/[][\.^$*+?(){}|]/\\&/g')
  ok=0
  [ "$rc" -eq 1 ] && printf '%s\n' "$out" |
    grep -Eq -- "^$tmp/pattern/bot.lua:2: bot.match: bad pattern '$re_pat': $msg\$" && ok=1
  passed "a malformed pattern '$pat' is refused at load with the bot's line" $ok
done

mkdir -p "$tmp/pattern/tests"
printf '> +15550001 hi\n< x\n' > "$tmp/pattern/tests/t.chat"
out=$("$PARLEY" test "$tmp/pattern/tests/t.chat" 2>&1)
rc=$?
ok=0
[ "$rc" -eq 1 ] && printf '%s\n' "$out" |
  grep -q "cannot load the bot: $tmp/pattern/bot.lua:2: bot.match: bad pattern" && ok=1
passed "parley test reports a malformed pattern when it loads the bot, not when a message reaches it" $ok

bot capital <<'LUA'
bot.match("^%s*Order (%d+)$", function(c, msg) end)
bot.match("^%S+ %A+ %bAZ$", function(c, msg) end)
bot.match("^code (%w+)$", function(c, msg) end)
LUA
warns "a bot.match pattern with a capital letter (never matching the lowercased text) is warned about" \
  "^$tmp/capital/bot.lua:1: warning: bot.match pattern '\^%s\*Order \(%d\+\)[$]' has a capital letter, but patterns are matched against the lowercased message, so it never matches there; write the pattern in lowercase \(the captures keep the fan's case\)"
[ "$(printf '%s\n' "$out" | grep -c warning)" -eq 2 ] && printf '%s\n' "$out" | grep -q "capital/bot.lua:2: warning"
passed "... and %b's delimiters, but not classes like %S and %A" $((1 - $?))

bot goodpatterns <<'LUA'
bot.match("^book%s+(%d+)%-(%d+)$", function(c, msg) end)
bot.match("[]]x[^%]]%b()%f[%w](a)%1()", function(c, msg) end)
bot.match("^%[(.-)%]$", function(c, msg) end)
LUA
clean "well-formed patterns (sets with ], %b, %f, back references) pass"

# Meta's 24-hour window: a drip's free text on a WhatsApp bot
bot whatsapp <<'LUA'
bot.config{ channels = { "sms", "whatsapp" }, quiet_hours = false }
bot.drip("welcome", { { after = "1d", text = "Hi again" }, { after = "2d", call = "later" } })
bot.handler("later", function(c) c:send{ template = "follow_up" } end)
LUA
warns "a drip step's free text on a WhatsApp bot is warned about (the window)" \
  "^$tmp/whatsapp/bot.lua:2: warning: drip 'welcome' step 1 sends free text; on WhatsApp it only goes within 24 hours"
[ "$(printf '%s\n' "$out" | grep -c warning)" -eq 1 ]
passed "... and only that step (the one calling a handler is not)" $((1 - $?))

bot wabroadcast <<'LUA'
bot.config{ channels = { "whatsapp" }, quiet_hours = false }
bot.keyword("announce", function(c)
  -- bot.broadcast{ in a comment is not a call
  bot.broadcast{ segment = {}, text = "Tonight!" }
end)
LUA
warns "a broadcast on a WhatsApp bot is warned about, at its line" \
  "^$tmp/wabroadcast/bot.lua:4: warning: bot.broadcast sends free text; on WhatsApp it reaches only the contacts who wrote within 24 hours"
[ "$(printf '%s\n' "$out" | grep -c warning)" -eq 1 ]
passed "... once (not for the comment)" $((1 - $?))

bot wabroadcast2 <<'LUA'
bot.config{ channels = { "whatsapp" }, quiet_hours = false }
bot.keyword("announce", function(c)
  bot.broadcast{ segment = {}, text = "Tonight!",
                 template = "show_tonight", params = { "{{fields.name}}" } }
end)
LUA
clean "a broadcast with a template for its WhatsApp recipients is not warned about"

bot smsdrip <<'LUA'
bot.config{ channels = { "sms" }, quiet_hours = false }
bot.drip("welcome", { { after = "1d", text = "Hi again" } })
LUA
clean "the same drip on an SMS bot passes"

bot badchannel <<'LUA'
bot.config{ channels = { "telegram" } }
LUA
refuses "an unknown channel in bot.config is refused, naming it" \
  "bot.lua:1: bot.config: channels\[1\] must be sms, whatsapp, messenger or instagram"

summary
