#!/bin/sh
# parley sim drives everything a transcript can: /event, /contact, /timers,
# /reload, /save (a transcript `parley test` passes), /seed, the rule that
# took each message, and piped input echoed so the output reads as a
# session. Bad commands name the input and the usage; the session goes on.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  [ -n "${web:-}" ] && kill "$web" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
. tests/e2e/lib/tap.sh

# has DESCRIPTION FILE REGEX...: every regex matches a line of FILE
has() {
  desc=$1 file=$2
  shift 2
  for re in "$@"; do
    if ! grep -Eq -- "$re" "$file"; then
      not_ok "$desc" "no line matches /$re/ in: $(cat "$file")"
      return
    fi
  done
  ok "$desc"
}

# lacks DESCRIPTION FILE REGEX: no line of FILE matches
lacks() {
  if grep -Eq -- "$3" "$2"; then
    not_ok "$1" "a line matches /$3/ in: $(cat "$2")"
  else
    ok "$1"
  fi
}

# session NAME [BOT]: runs the lines on stdin through parley sim BOT
# (default shop), output and errors to $tmp/NAME.out, exit status to
# $tmp/NAME.rc
session() {
  "$PARLEY" sim "$tmp/${2:-shop}" >"$tmp/$1.out" 2>&1
  echo $? >"$tmp/$1.rc"
}

mkdir -p "$tmp/shop"
cat >"$tmp/shop/bot.lua" <<'EOF'
bot.config{ name = "Shop", quiet_hours = false, http = { allow = { "api.shop.example" } } }
bot.drip("welcome", {
  { after = "1h", text = "Tip: text ORDER to track an order." },
  { after = "1d", text = "Day two: new arrivals." },
})
bot.on_join(function(c, msg)
  c:start_drip("welcome")
  return "Hi! Text ORDER, CODE or STOCK."
end)
bot.keyword("order", function(c, msg)
  c:expect("order_id")
  return "Which order?"
end)
bot.handler("order_id", function(c, msg)
  bot.after("2h", "check_order", { id = msg.text })
  return "Looking up " .. msg.text
end)
bot.handler("check_order", function(c, args)
  c:send("Order " .. args.id .. " shipped")
end)
bot.keyword("code", function(c, msg)
  return "Your code is " .. math.random(100000, 999999)
end)
bot.keyword("stock", function(c, msg)
  local res = http.get("https://api.shop.example/stock")
  return "In stock: " .. res.json.left
end)
bot.keyword("boom", function(c, msg)
  error("the stock room is on fire")
end)
bot.keyword("braces", function(c, msg) return "Write {" .. "{code}} in a template" end)
bot.hear("thanks", function(c, msg) return "You're welcome!" end)
bot.match("^size (%d+)$", function(c, msg, n) return "Size " .. n .. " noted" end)
bot.on_event("order.paid", function(c, ev)
  c:send("Paid: " .. ev.order_id)
end)
bot.fallback(function(c, msg)
  return "Hello " .. (c.fields.name or "friend")
end)
EOF

# ------------------------------------------------------------ piped input echoed, rules named

printf 'hi\norder\nA7\nthanks a lot\nsize 9\nwhat?\nHELP\nSTOP\nhello\n' | session rules
has "sim: piped input is echoed after the prompt, so the output reads as a session" \
  "$tmp/rules.out" '^\+15550001> hi$' '^\+15550001> order$' '^\+15550001> STOP$'
has "sim: each message names the rule that took it" "$tmp/rules.out" \
  '^  \. rule: on_join$' '^  \. rule: keyword order$' '^  \. rule: expect order_id$' \
  '^  \. rule: hear .*bot\.lua:32$' '^  \. rule: match \^size \(%d\+\)\$$' \
  '^  \. rule: fallback$' '^  \. rule: compliance \(HELP\)$' '^  \. rule: compliance \(STOP\)$' \
  '^  \. rule: none \(the number opted out'
has "sim: the rule line comes before the reply it leads to" "$tmp/rules.out" \
  '^Shop: Which order\?$'
if grep -A2 'rule: keyword order' "$tmp/rules.out" | grep -q '^Shop: Which order?$'; then
  ok "sim: the reply follows its rule line"
else
  not_ok "sim: the reply follows its rule line" "$(cat "$tmp/rules.out")"
fi

# ------------------------------------------------------------ /event and /contact

cat <<'EOF' | session events
/event order.paid {"order_id": "A1"}
/contact +15550002 name=Kim city=Austin tags=vip,early tz=America/Chicago
/as +15550002
hi
what?
/state
/event order.paid {"order_id": 
/event Bad!type {}
/event
/contact +15550003 city
/contact 555 city=Austin
/contact +15550003 tz=Mars/Base
/contact +15550003 status=gone
/contact
what?
EOF
has "sim: /event runs the bot's on_event handler for the current fan" "$tmp/events.out" \
  '^Shop: Paid: A1$' '^  \. rule: on_event order\.paid$'
has "sim: /contact sets fields, tags and zone like @contact" "$tmp/events.out" \
  '^Shop: Hello Kim$' '^fields +\{"city":"Austin","name":"Kim"\}$' '^tags +\["vip","early"\]$' \
  '^timezone America/Chicago$'
has "sim: a contact made by /contact has not joined: its first message goes to on_join" \
  "$tmp/events.out" '^Shop: Hi! Text ORDER, CODE or STOCK\.$'
has "sim: bad /event lines name the input and the usage" "$tmp/events.out" \
  "/event: the data is not a JSON object: \{\"order_id\": " \
  "/event: .*'Bad!type'" \
  'usage: /event TYPE \{JSON\}'
has "sim: bad /contact lines name the input and the usage" "$tmp/events.out" \
  "/contact: 'city' is not key=value" \
  "/contact: '555' is not a number like \+15550001" \
  "/contact: 'tz=Mars/Base' is not a time zone" \
  "/contact: 'status=gone' is not a status \(subscribed, not_opted_in or opted_out\)" \
  'usage: /contact NUMBER key=value'
if [ "$(grep -c '^Shop: Hello Kim$' "$tmp/events.out")" -eq 2 ] && [ "$(cat "$tmp/events.rc")" -eq 1 ]; then
  ok "sim: the session goes on after bad commands, and piped input exits 1"
else
  not_ok "sim: the session goes on after bad commands, and piped input exits 1" \
    "exit $(cat "$tmp/events.rc"): $(cat "$tmp/events.out")"
fi

# ------------------------------------------------------------ /timers

cat <<'EOF' | session timers
/timers
hi
order
A7
/timers
/advance 2h
/timers
/timers now
EOF
has "sim: /timers with nothing pending says so" "$tmp/timers.out" '^no pending timers or drip steps$'
has "sim: /timers lists drip steps and timers with their due times" "$tmp/timers.out" \
  '^drip welcome step 1 for \+15550001, due [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+ UTC \(in 1h\)$' \
  '^timer #[0-9]+ check_order for \+15550001, due [0-9-]+ [0-9:]+ UTC \(in 2h\)$' \
  '^drip welcome step 2 for \+15550001, due [0-9-]+ [0-9:]+ UTC \(in 23h\)$'
has "sim: /advance runs them" "$tmp/timers.out" '^Shop: Order A7 shipped$' \
  '^Shop: Tip: text ORDER to track an order\.$'
has "sim: /timers takes no argument" "$tmp/timers.out" "/timers: unexpected 'now' \(usage: /timers\)"

# ------------------------------------------------------------ the other commands

cat <<'EOF' | session others
/clock
/advance 90s
/clock
/contacts
hi
/contacts
/broadcasts
/as 555
/as +15550009
/state
/advance soon
/clock now
/reset
/contacts
/exit
hi
EOF
has "sim: /clock, /advance, /contacts, /broadcasts, /as, /state, /reset answer" "$tmp/others.out" \
  '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC$' '^  \. clock: [0-9-]+ [0-9:]+ UTC$' \
  '^0 contacts$' '^1 contact$' '^\* \+15550001  subscribed' '^no broadcasts$' \
  '^\+15550009 has not texted this bot yet$' '^  \. reset: empty in-memory store$'
has "sim: their bad arguments name the input and the usage" "$tmp/others.out" \
  "/as: '555' is not a number like \+15550002 \(usage: /as NUMBER\)" \
  "/advance: 'soon' is not a duration like 90s, 15m, 2h, 3d, 1w \(usage: /advance DURATION\)" \
  "/clock: unexpected 'now' \(usage: /clock\)"
lacks "sim: /exit leaves" "$tmp/others.out" '^\+15550009> hi$'

# ------------------------------------------------------------ /channel

cat <<'EOF' | session channels
hi
/channel whatsapp
hi
/contacts
/channel messenger
/channel sms
/channel telegram
EOF
has "sim: /channel writes as the same fan on another channel, a contact of its own" "$tmp/channels.out" \
  '^  \. you are whatsapp:\+15550001$' '^whatsapp:\+15550001> hi$' '^2 contacts$' \
  '^  \. you are messenger:15550001$' '^  \. you are \+15550001$'
has "sim: an unknown channel names the input and the usage" "$tmp/channels.out" \
  "/channel: 'telegram' is not a channel \(sms, whatsapp, messenger or instagram\) \(usage: /channel NAME\)"

# ------------------------------------------------------------ /seed

codes() { grep '^Shop: Your code is' "$tmp/$1.out" | tr '\n' ' '; }
printf 'hi\n/seed 42\ncode\ncode\n/seed x\n/seed\n' | session seed1
printf 'hi\n/seed 42\ncode\ncode\n' | session seed2
if [ "$(grep -c '^Shop: Your code is' "$tmp/seed1.out")" -eq 2 ] && [ "$(codes seed1)" = "$(codes seed2)" ]; then
  ok "sim: after /seed the handlers draw the same numbers in every session"
else
  not_ok "sim: after /seed the handlers draw the same numbers in every session" \
    "$(codes seed1) / $(codes seed2)"
fi
printf 'hi\n/seed 42\n/reset\nhi\ncode\n' | session seed3
printf 'hi\n/seed 42\nhi\ncode\n' | session seed4
if [ "$(grep -c '^Shop: Your code is' "$tmp/seed3.out")" -eq 1 ] && [ "$(codes seed3)" = "$(codes seed4)" ]; then
  ok "sim: /seed stays in force after /reset"
else
  not_ok "sim: /seed stays in force after /reset" "$(codes seed3) / $(codes seed4)"
fi
has "sim: a bad /seed names the input and the usage" "$tmp/seed1.out" \
  "/seed: 'x' is not a whole number \(usage: /seed N\)" "/seed: missing the seed N"

# ------------------------------------------------------------ /help

printf '/help\n' | session help
has "sim: /help lists every command" "$tmp/help.out" '^  /as ' '^  /channel ' '^  /advance ' '^  /clock ' \
  '^  /state ' '^  /contacts ' '^  /broadcasts ' '^  /http ' '^  /event ' '^  /contact ' \
  '^  /timers ' '^  /seed ' '^  /reload ' '^  /save ' '^  /reset ' '^  /help ' '^  /quit '

# ------------------------------------------------------------ /save

mkdir -p "$tmp/shop/tests" "$tmp/elsewhere"
cat <<EOF | session save
/http GET https://api.shop.example/stock -> 200 {"left": 3}
hi
order
A7
stock
boom
/advance 2h
/event order.paid {"order_id": "B2"}
/contact +15550002 name=Kim tags=vip
/as +15550002
what?
my {{code}} is {{n:1}}
size 12
/as +15550001
braces
thanks
STOP
hello
START
/save $tmp/shop/tests/session.chat
/save $tmp/elsewhere/session.chat
/save $tmp/nowhere/session.chat
/save $tmp/shop/tests/session.txt
/save
EOF
if [ -f "$tmp/shop/tests/session.chat" ] && "$PARLEY" test "$tmp/shop/tests/session.chat" >"$tmp/test1.out" 2>&1; then
  ok "sim: /save writes a transcript that parley test passes"
else
  not_ok "sim: /save writes a transcript that parley test passes" \
    "$(cat "$tmp/test1.out" 2>/dev/null) --- $(cat "$tmp/shop/tests/session.chat" 2>/dev/null)"
fi
if [ -f "$tmp/elsewhere/session.chat" ] && "$PARLEY" test "$tmp/elsewhere/session.chat" >"$tmp/test2.out" 2>&1; then
  ok "sim: a transcript saved outside the bot's tests/ names the bot with @bot"
else
  not_ok "sim: a transcript saved outside the bot's tests/ names the bot with @bot" \
    "$(cat "$tmp/test2.out" 2>/dev/null) --- $(cat "$tmp/elsewhere/session.chat" 2>/dev/null)"
fi
has "sim: the saved transcript has the setup, the steps and what the bot did" \
  "$tmp/shop/tests/session.chat" '^@clock [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC$' \
  '^@http GET https://api.shop.example/stock -> 200 \{"left": 3\}$' \
  '^> \+15550001 hi$' '^< \+15550001 Hi! Text ORDER, CODE or STOCK\.$' '^~ 2h$' \
  '^< \+15550001 Order A7 shipped$' '^@event \+15550001 order\.paid \{"order_id": "B2"\}$' \
  '^@contact \+15550002 name=Kim tags=vip$' '^! /.*the stock room is on fire/$' \
  '^< \+15550001 /\^Write \\\{\\\{code\\\}\\\} in a template\$/$'
lacks "sim: a transcript saved in the bot's tests/ needs no @bot" "$tmp/shop/tests/session.chat" '^@bot '
has "sim: /save answers bad file names with the input and the usage" "$tmp/save.out" \
  "/save: cannot write $tmp/nowhere/session.chat: No such file or directory" \
  "/save: '$tmp/shop/tests/session.txt' does not end in \.chat \(usage: /save FILE\.chat\)" \
  'usage: /save FILE\.chat'

printf 'hi\n/seed 7\ncode\ncode\n/save %s\n' "$tmp/shop/tests/seeded.chat" | session seedsave
has "sim: a session with /seed saves it as @seed" "$tmp/shop/tests/seeded.chat" '^@seed 7$' \
  '^< \+15550001 Your code is [0-9]{6}$'
if "$PARLEY" test "$tmp/shop/tests/seeded.chat" >"$tmp/test4.out" 2>&1; then
  ok "sim: the codes drawn after /seed replay in parley test"
else
  not_ok "sim: the codes drawn after /seed replay in parley test" \
    "$(cat "$tmp/test4.out") --- $(cat "$tmp/shop/tests/seeded.chat")"
fi

# a request no /http line answers really goes out; /save writes its answer
# down as an @http line, so the transcript replays without the network
. tests/e2e/lib/stock_server.sh
stock_server_start "$tmp" "$tmp/fetch"
mkdir -p "$tmp/fetch/tests"
printf 'stock\n/save %s\n' "$tmp/fetch/tests/real.chat" | session fetch fetch
# a bot whose request carries a bot.env value: /save writes it masked
mkdir -p "$tmp/fetchenv/tests"
sed 's|/stock.json"|/stock.json?key=" .. bot.env.SHOP_KEY|; s|return res and ("Left|return res and ("Key " .. bot.env.SHOP_KEY .. ", left|' \
  "$tmp/fetch/bot.lua" >"$tmp/fetchenv/bot.lua"
printf 'stock\n/save %s\n' "$tmp/fetchenv/tests/env.chat" |
  "$PARLEY" sim "$tmp/fetchenv" --env SHOP_KEY=sk_live_SECRET123 --env PIN=42 >"$tmp/fetchenv.out" 2>&1
stock_server_stop
lacks "sim: /save never writes a bot.env value the host masks" "$tmp/fetchenv/tests/env.chat" \
  'sk_live_SECRET123'
has "sim: ... it writes @env lines, the value as its mask, and masks the request and the reply" \
  "$tmp/fetchenv/tests/env.chat" '^@env SHOP_KEY=\*{8}$' '^@env PIN=42$' \
  "^@http GET http://127.0.0.1:$port/stock.json\\?key=\\*{8} -> 200" '^< \+15550001 Key \*{8}, left: 4$'
if "$PARLEY" test "$tmp/fetchenv/tests/env.chat" >"$tmp/test4.out" 2>&1; then
  ok "sim: ... and the saved transcript replays"
else
  not_ok "sim: ... and the saved transcript replays" "$(cat "$tmp/test4.out" "$tmp/fetchenv/tests/env.chat")"
fi
has "sim: a real answer is saved as an @http line" "$tmp/fetch/tests/real.chat" \
  "^@http GET http://127.0.0.1:$port/stock.json -> 200 \\{\"left\": 4\\}$" '^< \+15550001 Left: 4$'
if "$PARLEY" test "$tmp/fetch/tests/real.chat" >"$tmp/test3.out" 2>&1; then
  ok "sim: the saved transcript replays with the server gone"
else
  not_ok "sim: the saved transcript replays with the server gone" "$(cat "$tmp/test3.out")"
fi

# ------------------------------------------------------------ /reload

mkdir -p "$tmp/rl"
printf 'bot.fallback(function(c, msg) return "v1" end)\n' >"$tmp/rl/bot.lua"
mkfifo "$tmp/in"
"$PARLEY" sim "$tmp/rl" <"$tmp/in" >"$tmp/reload.out" 2>&1 &
sim_pid=$!
exec 3>"$tmp/in"
# waits (at most 10 s) until the output has a line matching $1
wait_for() {
  i=0
  while [ $i -lt 100 ] && ! grep -Eq -- "$1" "$tmp/reload.out"; do
    sleep 0.1
    i=$((i + 1))
  done
}
echo "hi" >&3
wait_for '^rl: v1$'
printf 'bot.fallback(function(c, msg)\n  return "v2" ..\nend)\n' >"$tmp/rl/bot.lua"
echo "/reload" >&3
echo "hi again" >&3
wait_for '^\+15550001> hi again$'
wait_for 'rl: v1' # the second one
printf 'bot.fallback(function(c, msg) return "v3 " .. (c.state.n or "-") end)\n' >"$tmp/rl/bot.lua"
echo "/reload" >&3
echo "hi once more" >&3
exec 3>&-
wait "$sim_pid"
sim_pid=
has "sim: /reload with a syntax error prints it and keeps the old version" "$tmp/reload.out" \
  "$tmp/rl/bot.lua:3: unexpected symbol near 'end'" '/reload: the bot is unchanged'
if [ "$(grep -c '^rl: v1$' "$tmp/reload.out")" -eq 2 ]; then
  ok "sim: after a failed /reload the old version answers"
else
  not_ok "sim: after a failed /reload the old version answers" "$(cat "$tmp/reload.out")"
fi
has "sim: /reload takes the new version, and the session goes on" "$tmp/reload.out" \
  '^  \. reloaded' '^rl: v3 -$'

summary
