#!/bin/sh
# parley serve on 127.0.0.1: webhooks (JSON, Twilio with signatures, Kannel),
# errors, dedup of provider retries, durability, and a clean SIGTERM.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
. tests/e2e/lib/server.sh
. tests/e2e/lib/tap.sh

export PARLEY_TWILIO_AUTH_TOKEN=twilio-secret-123
export PARLEY_WEBHOOK_TOKEN=hook-secret-456
export PARLEY_ADMIN_TOKEN=admin-secret-789
export PARLEY_WEBHOOK_SECRET=sign-me-222
export PARLEY_WEBHOOK_TOKEN_VAULT=vault-token-111
printf 'vault-secret-333\n' > "$tmp/vault.secret"
export PARLEY_WEBHOOK_SECRET_VAULT_FILE="$tmp/vault.secret"
mkdir -p "$tmp/scripts"
cp -r scripts/fanclub examples/verify "$tmp/scripts/"
# the server's clock: noon in New York, whatever the machine's time (the
# default bot's quiet hours, 21:00-09:00 there, would hold the broadcasts)
start_server "$tmp/log" --db "$tmp/serve.db" --scripts "$tmp/scripts" \
  --public-url "https://bots.example.com" --test-clock "2026-03-02 12:00 America/New_York"
url="http://127.0.0.1:$port"
if [ "$up" -ne 1 ]; then
  bail "the server starts" "$(cat "$tmp/log")"
fi
ok "the server starts and answers /healthz"
expect "one node alone (SQLite) has no relay endpoint" \
  "$(curl -s -m 5 -w ' %{http_code}' --data '{}' "$url/v1/cluster/relay")" 'one node alone.* 404$'

post_json() { # token, body
  curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    --data "$2" "$url/v1/bots/fanclub/messages"
}
expect "JSON webhook: a new fan gets the welcome" \
  "$(post_json hook-secret-456 '{"from":"+15550001","to":"+15550100","text":"hi","id":"j1"}')" \
  "\"replies\":\\[\"Hey, it's Ava! Welcome to the fan club. What city are you in\\?\"\\].* 200$"
expect "JSON webhook: the conversation goes on" \
  "$(post_json hook-secret-456 '{"from":"+15550001","text":"Austin","id":"j2"}')" \
  'Noted, Austin!.* 200$'
expect "JSON webhook: a numeric id is an id" \
  "$(post_json hook-secret-456 '{"from":"+15550005","text":"hi","id":777}')" '"replies":\["Hey.* 200$'
expect "JSON webhook: ... so its retry is acknowledged, not handled again" \
  "$(post_json hook-secret-456 '{"from":"+15550005","text":"hi","id":777}')" '"replies":\[\].* 200$'
expect "JSON webhook: a body that is not declared JSON is 415" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: text/xml' --data '{"from":"+15550001","text":"hi"}' "$url/v1/bots/fanclub/messages")" ' 415$'
expect "JSON webhook: an empty sender is 400" \
  "$(post_json hook-secret-456 '{"from":"","text":"hi"}')" ' 400$'
expect "JSON webhook: no token is 401" \
  "$(curl -s -m 5 -w ' %{http_code}' --data '{}' "$url/v1/bots/fanclub/messages")" ' 401$'
expect "JSON webhook: a wrong token is 403" \
  "$(post_json wrong '{"from":"+15550001","text":"x"}')" ' 403$'
expect "JSON webhook: a body that is not the message is 400 with the shape" \
  "$(post_json hook-secret-456 '[1,2]')" 'must be JSON like.* 400$'
expect "an unknown bot is 404" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550001","text":"hi"}' "$url/v1/bots/nobody/messages")" '"no such bot".* 404$'
expect "a wrong method is 405" "$(curl -s -m 5 -w ' %{http_code}' "$url/v1/bots/fanclub/messages")" ' 405$'
head -c 2000000 /dev/zero | tr '\0' 'a' > "$tmp/big"
expect "a huge body is 413" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' --data-binary @"$tmp/big" "$url/v1/bots/fanclub/messages")" ' 413$'

# Twilio: the signature over the public URL and the sorted parameters
sign() { # path, then name=value pairs
  python3 - "$@" <<'PY'
import base64, hashlib, hmac, sys
path, pairs = sys.argv[1], sorted(p.split("=", 1) for p in sys.argv[2:])
data = "https://bots.example.com" + path + "".join(k + v for k, v in pairs)
print(base64.b64encode(hmac.new(b"twilio-secret-123", data.encode(), hashlib.sha1).digest()).decode())
PY
}
twilio() { # signature, then name=value pairs
  sig=$1
  shift
  set -- "$@"
  args=""
  for p in "$@"; do args="$args --data-urlencode $p"; done
  # shellcheck disable=SC2086
  curl -s -m 5 -w ' %{http_code}' -H "X-Twilio-Signature: $sig" $args "$url/twilio/fanclub"
}
sig=$(sign /twilio/fanclub From=+15550002 To=+15550100 Body=TOUR MessageSid=SM1)
expect "Twilio: a signed message is answered with TwiML (XML-escaped)" \
  "$(twilio "$sig" From=+15550002 To=+15550100 Body=TOUR MessageSid=SM1)" \
  '^<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>Hey, it&apos;s Ava! .*</Message></Response> 200$'
expect "Twilio: a retry of the same MessageSid is acknowledged, not handled again" \
  "$(twilio "$sig" From=+15550002 To=+15550100 Body=TOUR MessageSid=SM1)" '<Response/> 200$'
expect "Twilio: a changed parameter fails the signature (403)" \
  "$(twilio "$sig" From=+15550002 To=+15550100 Body=MERCH MessageSid=SM1)" ' 403$'
expect "Twilio: no signature is 403" \
  "$(curl -s -m 5 -w ' %{http_code}' --data 'From=%2B15550002&Body=hi' "$url/twilio/fanclub")" ' 403$'
sig=$(sign /twilio/echo From=+15550006 Body=look MessageSid=SM9 NumMedia=1 MediaUrl0=https://m.example/1.jpg)
expect_media() {
  curl -s -m 5 -w ' %{http_code}' -H "X-Twilio-Signature: $sig" --data-urlencode From=+15550006 \
    --data-urlencode Body=look --data-urlencode MessageSid=SM9 --data-urlencode NumMedia=1 \
    --data-urlencode MediaUrl0=https://m.example/1.jpg "$url/twilio/echo"
}
sig=$(sign /twilio/fanclub From=+15550002 Body=STOP MessageSid=SM2)
expect "Twilio: STOP gets the opt-out confirmation" \
  "$(twilio "$sig" From=+15550002 Body=STOP MessageSid=SM2)" 'unsubscribed.* 200$'

# Kannel sms-service get-url
expect "Kannel: the reply is the body" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel/fanclub?token=hook-secret-456&from=%2B15550003&to=%2B15550100&text=merch&id=k1")" \
  '^Hey, it.s Ava!.* 200$'
expect "Kannel: a wrong token is 403" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel/fanclub?token=nope&from=%2B15550003&text=merch")" ' 403$'

# triggered events: bot.on_event in the contact's conversation
event() { # token, body
  curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' --data "$2" "$url/v1/bots/verify/events"
}
expect "events: a verification code goes out (transactional)" \
  "$(event hook-secret-456 '{"type":"verify.requested","contact":"+15550004","data":{"code":"123456"}}')" \
  '"sent":\["Your Acme code is 123456. It expires in 10 minutes."\].* 200$'
expect "events: the reply verifies it" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550004","text":"123456"}' "$url/v1/bots/verify/messages")" \
  'Verified, thank you!.* 200$'
expect "events: a body without type and contact is 400" \
  "$(event hook-secret-456 '{"contact":"+15550004"}')" 'must be JSON like.* 400$'
expect "events: no token is 401" \
  "$(curl -s -m 5 -w ' %{http_code}' --data '{}' "$url/v1/bots/verify/events")" ' 401$'

# hot reload: a new version through the admin API, versions, rollback
admin() { # method, path, token, [curl args]
  m=$1 p=$2 t=$3
  shift 3
  curl -s -m 10 -w ' %{http_code}' -X "$m" -H "Authorization: Bearer $t" "$@" "$url$p"
}
cp "$tmp/scripts/fanclub/bot.lua" "$tmp/v2.lua"
sed -i 's/Shop: https:\/\/avastone.example\/merch/Shop v2: https:\/\/avastone.example\/merch/' "$tmp/v2.lua"
expect "reload: no admin token is 401" "$(curl -s -m 5 -w ' %{http_code}' -X PUT --data x "$url/v1/bots/fanclub/script")" ' 401$'
expect "reload: the webhook token is not an admin token (403)" \
  "$(admin PUT /v1/bots/fanclub/script hook-secret-456 --data-binary @"$tmp/v2.lua")" ' 403$'
# the folder's transcripts came with the version loaded at start: a bot.lua
# alone is held to them (the README's curl line)
expect "reload: a bot.lua that breaks the bot's own transcripts is refused (422), naming the line" \
  "$(admin PUT /v1/bots/fanclub/script admin-secret-789 -H 'Content-Type: text/x-lua' --data-binary @"$tmp/v2.lua")" \
  'transcript tests failed.*"tests/welcome.chat:13: expected: < Shop: https://avastone.example/merch; actual: < Shop v2: https://avastone.example/merch".* 422$'
expect "reload: ... and the running version still answers" \
  "$(post_json hook-secret-456 '{"from":"+15550001","text":"MERCH"}')" '"Shop: https.* 200$'
cp -r "$tmp/scripts/fanclub" "$tmp/v2"
cp "$tmp/v2.lua" "$tmp/v2/bot.lua"
sed -i 's/^< Shop: /< Shop v2: /' "$tmp/v2/tests/welcome.chat"
python3 -c 'import json, os, sys
d = sys.argv[1]
files = {}
for root, _, names in os.walk(d):
    for n in names:
        p = os.path.join(root, n)
        files[os.path.relpath(p, d)] = open(p).read()
print(json.dumps({"files": files}))' "$tmp/v2" > "$tmp/v2.json"
expect "reload: a new bot.lua with its transcripts changed to match is activated" \
  "$(admin PUT /v1/bots/fanclub/script admin-secret-789 -H 'Content-Type: application/json' --data-binary @"$tmp/v2.json")" \
  '"status":"active","version":[0-9]+.* 200$'
expect "reload: the next message uses the new version" \
  "$(post_json hook-secret-456 '{"from":"+15550001","text":"MERCH"}')" 'Shop v2: .* 200$'
printf 'bot.keyword("x", function(c)\n  return "x" ..\nend)\n' > "$tmp/broken.lua"
expect "reload: a version that does not load changes nothing and names file:line" \
  "$(admin PUT /v1/bots/fanclub/script admin-secret-789 --data-binary @"$tmp/broken.lua")" \
  '"errors":\["fanclub \(uploaded\)/bot.lua:3: unexpected symbol near .* 422$'
expect "reload: ... and the running version still answers" \
  "$(post_json hook-secret-456 '{"from":"+15550001","text":"MERCH"}')" 'Shop v2: .* 200$'
expect "versions: both versions, numbered for this bot, the new one active" \
  "$(admin GET /v1/bots/fanclub/versions admin-secret-789)" '"versions":\[\{"version":1,"id":1,.*"active":false\},\{"version":2,"id":2,.*"active":true\}\].* 200$'
expect "rollback: back to the version before" \
  "$(admin POST /v1/bots/fanclub/rollback admin-secret-789)" '"status":"active".* 200$'
expect "rollback: the old text is back" \
  "$(post_json hook-secret-456 '{"from":"+15550001","text":"MERCH"}')" '"Shop: https.* 200$'
expect "reload: a new bot can be created the same way" \
  "$(admin PUT /v1/bots/echo/script admin-secret-789 --data 'bot.fallback(function(c, msg) return "echo: " .. msg.text end)')" \
  '"status":"active".* 200$'
expect "reload: ... and it answers at once" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550001","text":"ping"}' "$url/v1/bots/echo/messages")" \
  '"replies":\["echo: ping"\].* 200$'

# parley reload: a folder sent to the running server
mkdir -p "$tmp/echo2/lib"
printf 'local words = require("lib.words")\nbot.fallback(function(c, msg) return words.shout(msg.text) end)\n' > "$tmp/echo2/bot.lua"
printf 'return { shout = function(s) return s:upper() .. "!" end }\n' > "$tmp/echo2/lib/words.lua"
expect "reload CLI: the folder (with its modules) is activated" \
  "$(PARLEY_ADMIN_TOKEN=admin-secret-789 "$PARLEY" reload echo --dir "$tmp/echo2" --url "$url" 2>&1)" \
  '^echo: version [0-9]+ is active$'
expect "reload CLI: ... and answers" \
  "$(curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550001","text":"hey"}' "$url/v1/bots/echo/messages")" \
  '"replies":\["HEY!"\]'
printf 'bot.fallback(function(c, msg) return nope() end\n' > "$tmp/echo2/bot.lua"
out=$(PARLEY_ADMIN_TOKEN=admin-secret-789 "$PARLEY" reload echo --dir "$tmp/echo2" --url "$url" 2>&1)
rc=$?
expect "reload CLI: a broken folder fails with file:line and a non-zero exit" "$(printf '%s %s' "$rc" "$out" | tr '\n' ' ')" \
  "^1 parley reload: the new version was not activated \\(HTTP 422\\).*bot.lua:2: "
expect "reload CLI: a wrong token is refused" \
  "$(PARLEY_ADMIN_TOKEN=nope "$PARLEY" reload echo --dir "$tmp/echo2" --url "$url" 2>&1)" 'HTTP 403'

# a version that ships transcripts is activated only if they pass
greet_v1='{"files":{"bot.lua":"bot.fallback(function(c, msg) return \"Hello!\" end)","tests/hello.chat":"> +15550001 hi\n< Hello!\n"}}'
expect "reload tests: a version whose transcripts pass is activated" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 -H 'Content-Type: application/json' --data "$greet_v1")" '"status":"active".* 200$'
expect "reload tests: a new bot.lua that fails the shipped transcript is refused, with file:line, each failure one whole message" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 --data 'bot.fallback(function(c, msg) return "Bye!" end)')" \
  'transcript tests failed.*"errors":\["tests/hello.chat:2: expected: < Hello!; actual: < Bye!"\].* 422$'
expect "reload tests: ... and the running version still answers" \
  "$(curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550051","text":"hey"}' "$url/v1/bots/greeter/messages")" \
  '"replies":\["Hello!"\]'
mkdir -p "$tmp/greeter/tests"
printf 'bot.fallback(function(c, msg) return "Hi there" end)\n' > "$tmp/greeter/bot.lua"
printf '> +15550001 hi\n< Hello!\n' > "$tmp/greeter/tests/hello.chat"
out=$(PARLEY_ADMIN_TOKEN=admin-secret-789 "$PARLEY" reload greeter --dir "$tmp/greeter" --url "$url" 2>&1)
expect "reload tests: the reload CLI sends the folder's transcripts, and a failing one stops it" \
  "$(printf '%s %s' "$?" "$out" | tr '\n' ' ')" '^1 .*tests/hello.chat:2:'
printf '> +15550001 hi\n< Hi there\n' > "$tmp/greeter/tests/hello.chat"
expect "reload tests: ... and once they pass it is active" \
  "$(PARLEY_ADMIN_TOKEN=admin-secret-789 "$PARLEY" reload greeter --dir "$tmp/greeter" --url "$url" 2>&1; echo " rc=$?")" 'rc=0$'
printf 'bot.fallback(function(c, msg) return "Hi from tar" end)\n' > "$tmp/greeter/bot.lua"
printf '> +15550001 hi\n< Hi from tar\n' > "$tmp/greeter/tests/hello.chat"
printf 'notes\n' > "$tmp/greeter/README.md"
tar -C "$tmp" -cf "$tmp/greeter.tar" greeter
expect "reload tar: a tar of the folder is a version (its transcripts run, other files left out)" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 -H 'Content-Type: application/x-tar' --data-binary "@$tmp/greeter.tar")" \
  '"status":"active".* 200$'
expect "reload tar: ... it answers" \
  "$(curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550052","text":"hey"}' "$url/v1/bots/greeter/messages")" \
  '"replies":\["Hi from tar"\]'
printf '> +15550001 hi\n< Nope\n' > "$tmp/greeter/tests/hello.chat"
tar -C "$tmp/greeter" -czf "$tmp/greeter.tgz" .
expect "reload tar: a gzipped tar with ./ paths is read, and its failing transcript refuses it" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 -H 'Content-Type: application/gzip' --data-binary "@$tmp/greeter.tgz")" \
  '"tests/hello.chat:2: .* 422$'
mkdir -p "$tmp/bomb"
printf 'bot.fallback(function() return "x" end)\n' > "$tmp/bomb/bot.lua"
head -c 20000000 /dev/zero | tr '\0' '-' > "$tmp/bomb/big.lua"
tar -C "$tmp/bomb" -czf "$tmp/bomb.tgz" .
rm -rf "$tmp/bomb"
expect "reload tar: a small gzip that unpacks past 16 MiB is refused (413), not unpacked" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 -H 'Content-Type: application/gzip' --data-binary "@$tmp/bomb.tgz")" \
  'unpacks to more than.* 16 MiB.* 413$'
expect "reload tar: a body that is not a tar is 400" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 -H 'Content-Type: application/x-tar' --data 'not a tar at all')" \
  'not a tar archive.* 400$'
expect "reload tests: a file that is neither Lua nor a transcript is refused" \
  "$(admin PUT /v1/bots/greeter/script admin-secret-789 -H 'Content-Type: application/json' --data '{"files":{"bot.lua":"","notes.txt":"x"}}')" \
  'notes.txt.* 400$'

# admin reads: contacts (with a segment filter), one contact, its messages, the ledger
expect "admin: contacts by segment" \
  "$(admin GET '/v1/bots/fanclub/contacts?city=Austin' admin-secret-789)" \
  '"contacts":\[\{"number":"\+15550001","status":"subscribed","fields":\{"city":"Austin"\}.* 200$'
expect "admin: the webhook token does not read contacts (403)" \
  "$(admin GET /v1/bots/fanclub/contacts hook-secret-456)" ' 403$'
expect "admin: one contact" "$(admin GET /v1/bots/fanclub/contacts/+15550002 admin-secret-789)" \
  '"number":"\+15550002","status":"opted_out".* 200$'
expect "admin: a contact's messages and consent" \
  "$(admin GET /v1/bots/fanclub/contacts/+15550002/messages admin-secret-789)" \
  '"messages":\[\{"direction":"in","text":"TOUR".*"consent":\[\{"action":"optout","source":"keyword","text":"STOP".* 200$'
expect "admin: an unknown contact is 404" "$(admin GET /v1/bots/fanclub/contacts/+19999999 admin-secret-789)" ' 404$'
expect "admin: the consent ledger as CSV" \
  "$(admin GET /v1/bots/fanclub/consent.csv admin-secret-789 | tr -d '\r' | tr '\n' '|')" \
  '^at,number,action,source,text\|"[0-9T:Z-]+","\+15550002","optout","keyword","STOP"\| 200$'

expect "admin: update a contact's fields (merged) and tags" \
  "$(admin PATCH /v1/bots/fanclub/contacts/+15550001 admin-secret-789 --data '{"fields":{"tier":"gold","city":null},"tags":["vip"]}')" \
  '"fields":\{"tier":"gold"\},"tags":\["vip"\].* 200$'
expect "admin: a bad update is 400 with the reason" \
  "$(admin PATCH /v1/bots/fanclub/contacts/+15550001 admin-secret-789 --data '{"timezone":"Mars/Base"}')" \
  'timezone is not a time zone.* 400$'

# broadcasts: create one for a segment, watch it finish; cancel a later one
bid=$(admin POST /v1/bots/fanclub/broadcasts admin-secret-789 --data '{"segment":{"tier":"gold"},"text":"Gold presale today","rate":50}')
expect "broadcast: created (201) with an id" "$bid" '^\{"id":[0-9]+,"status":"scheduled"\} 201$'
bid=$(printf '%s' "$bid" | sed 's/^{"id":\([0-9]*\).*/\1/')
i=0
while [ $i -lt 50 ] && ! admin GET "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789 | grep -q '"status":"done"'; do
  sleep 0.1
  i=$((i + 1))
done
expect "broadcast: it runs to done and counts its sends" \
  "$(admin GET "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789)" '"status":"done".*"sent":1,.* 200$'
expect "broadcast: the segment's contact got the text" \
  "$(admin GET /v1/bots/fanclub/contacts/+15550001/messages admin-secret-789)" '"direction":"out","text":"Gold presale today"'
expect "broadcast: a bad segment is 400 with the reason" \
  "$(admin POST /v1/bots/fanclub/broadcasts admin-secret-789 --data '{"segment":{"status":"maybe"},"text":"x"}')" \
  'status is \\"subscribed\\", \\"not_opted_in\\" or \\"opted_out\\".* 400$'
expect "broadcast: no text is 400" \
  "$(admin POST /v1/bots/fanclub/broadcasts admin-secret-789 --data '{"segment":{}}')" 'text must be a non-empty string.* 400$'
expect "broadcasts: an unknown template filter is refused (400), naming it" \
  "$(admin POST /v1/bots/fanclub/broadcasts admin-secret-789 --data '{"text":"See https://x.example/?c={{urll fields.city}}"}')" \
  "unknown filter 'urll' \\(known: url\\).* 400$"
expect "broadcast: the webhook token cannot create one (403)" \
  "$(admin POST /v1/bots/fanclub/broadcasts hook-secret-456 --data '{"text":"x"}')" ' 403$'
later=$(date -u -d '2026-03-02 18:00' +%s) # an hour after the test clock's start
bid=$(admin POST /v1/bots/fanclub/broadcasts admin-secret-789 --data "{\"text\":\"Tomorrow\",\"at\":$later}" | sed 's/^{"id":\([0-9]*\).*/\1/')
expect "broadcast: a scheduled one is cancelled" \
  "$(admin DELETE "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789)" '"status":"cancelled".* 200$'
expect "broadcast: ... and stays cancelled" \
  "$(admin GET "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789)" '"status":"cancelled".*"sent":0,.* 200$'
expect "broadcast: cancelling it again is 409" \
  "$(admin DELETE "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789)" ' 409$'

# per-bot credentials and signed JSON webhooks
admin PUT /v1/bots/vault/script admin-secret-789 --data 'bot.fallback(function(c, msg) return "vault: " .. msg.text end)' >/dev/null
post_to() { # bot, token, body
  curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    --data "$3" "$url/v1/bots/$1/messages"
}
signed() { # bot, secret, timestamp, body, [the body sent, if not the one signed]
  sig=$(python3 -c 'import hmac,hashlib,sys; print("sha256=" + hmac.new(sys.argv[1].encode(), (sys.argv[2] + "." + sys.argv[3]).encode(), hashlib.sha256).hexdigest())' "$2" "$3" "$4")
  curl -s -m 5 -w ' %{http_code}' -H "X-Parley-Timestamp: $3" -H "X-Parley-Signature: $sig" \
    -H 'Content-Type: application/json' --data "${5:-$4}" "$url/v1/bots/$1/messages"
}
now=$(date +%s)
expect "per-bot token: the bot's own token is accepted" \
  "$(post_to vault vault-token-111 '{"from":"+15550041","text":"open"}')" '"replies":\["vault: open"\].* 200$'
expect "per-bot token: the server's token is not the bot's (403)" \
  "$(post_to vault hook-secret-456 '{"from":"+15550041","text":"open"}')" 'not this bot.* 403$'
expect "per-bot token: another bot's token is refused (403)" \
  "$(post_to fanclub vault-token-111 '{"from":"+15550041","text":"open"}')" ' 403$'
expect "per-bot token: Kannel takes the bot's own token" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel/vault?token=vault-token-111&from=%2B15550042&text=hi")" '^vault: hi 200$'
expect "signed: a body signed with the server's secret is accepted" \
  "$(signed fanclub sign-me-222 "$now" '{"from":"+15550043","text":"hello","id":"sig-1"}')" '"status":"accepted".* 200$'
expect "signed: a bot's own secret (from a _FILE) is accepted for it" \
  "$(signed vault vault-secret-333 "$now" '{"from":"+15550044","text":"sig"}')" '"replies":\["vault: sig"\].* 200$'
expect "signed: the server's secret is refused where the bot has its own" \
  "$(signed vault sign-me-222 "$now" '{"from":"+15550044","text":"sig"}')" 'does not match.* 403$'
expect "signed: a changed body is refused" \
  "$(signed fanclub sign-me-222 "$now" '{"from":"+15550043","text":"hello"}' '{"from":"+15550043","text":"hellO"}')" 'does not match.* 403$'
expect "signed: an old timestamp (a replay) is refused" \
  "$(signed fanclub sign-me-222 $((now - 600)) '{"from":"+15550043","text":"hello"}')" '5 minutes.* 403$'
expect "signed: no credentials at all is 401" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Content-Type: application/json' --data '{"from":"+15550043","text":"x"}' "$url/v1/bots/fanclub/messages")" \
  'X-Parley-Signature.* 401$'
expect "signed: nothing refused was stored" \
  "$(sqlite3 "$tmp/serve.db" "SELECT count(*) FROM messages WHERE text IN ('hellO', 'x') OR (text = 'hello' AND number = '+15550043' AND provider_id IS NULL)")" '^0$'

# routing by the To number: a bot that lists its numbers needs no name in the path
admin PUT /v1/bots/shop/script admin-secret-789 --data 'bot.config{numbers = {"+15550199"}}
bot.fallback(function(c, msg) return "shop: " .. msg.text end)' >/dev/null
expect "route: JSON to /v1/messages reaches the bot serving To" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550061","to":"+15550199","text":"socks"}' "$url/v1/messages")" \
  '"replies":\["shop: socks"\].* 200$'
sig=$(sign /twilio From=+15550062 To=+15550199 Body=hats MessageSid=SM61)
expect "route: Twilio to /twilio reaches the bot serving To (signature over /twilio)" \
  "$(curl -s -m 5 -w ' %{http_code}' -H "X-Twilio-Signature: $sig" --data-urlencode From=+15550062 --data-urlencode To=+15550199 --data-urlencode Body=hats --data-urlencode MessageSid=SM61 "$url/twilio")" \
  '<Message>shop: hats</Message>.* 200$'
expect "route: Kannel to /kannel (to without +) reaches the bot" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel?token=hook-secret-456&from=%2B15550063&to=15550199&text=caps")" '^shop: caps 200$'
# a numbers list the script keeps in a global (frozen after load, like every
# table the top level leaves reachable) still routes: the runtime has its copy
admin PUT /v1/bots/shop3/script admin-secret-789 --data 'NUMBERS = {"+15550196"}
bot.config{numbers = NUMBERS}
bot.fallback(function(c, msg) return "shop3: " .. msg.text .. " at " .. NUMBERS[1] end)' >/dev/null
expect "route: numbers given to bot.config in a frozen global table still route" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550064","to":"+15550196","text":"gloves"}' "$url/v1/messages")" \
  '"replies":\["shop3: gloves at \+15550196"\].* 200$'
expect "route: a To no bot serves is 404" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550061","to":"+15550198","text":"x"}' "$url/v1/messages")" \
  'no bot serves.* 404$'
expect "route: without the server's credentials an unserved To is 403, not 404 (no probing numbers)" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' --data '{"from":"+15550061","to":"+15550198","text":"x"}' "$url/v1/messages")" \
  'bearer token is not.* 403$'
expect "route: Twilio to an unserved To with a bad signature is 403" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'X-Twilio-Signature: bogus' --data-urlencode From=+15550062 --data-urlencode To=+15550198 --data-urlencode Body=x "$url/twilio")" \
  'does not match.* 403$'
expect "route: Kannel to an unserved To without the token is 403" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel?from=%2B15550063&to=15550198&text=x")" 'token.* 403$'
sig=$(sign /twilio From=+15550062 To=+15550198 Body=x)
expect "route: Twilio to an unserved To, signed with the server's token, is 404" \
  "$(curl -s -m 5 -w ' %{http_code}' -H "X-Twilio-Signature: $sig" --data-urlencode From=+15550062 --data-urlencode To=+15550198 --data-urlencode Body=x "$url/twilio")" \
  'no bot serves.* 404$'
expect "route: no To at all is 404 with the reason" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550061","text":"x"}' "$url/v1/messages")" \
  'To is required.* 404$'
expect "route: a JSON body that is not an object is 400" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '[1,2' "$url/v1/messages")" 'must be JSON like.* 400$'
expect "route: a JSON route without the JSON type is 415" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' --data '{"to":"+15550199"}' "$url/v1/messages")" ' 415$'
expect "route: a Twilio body that is not a form is 400" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'X-Twilio-Signature: x' --data 'To=%zz' "$url/twilio")" 'not application/x-www-form-urlencoded.* 400$'
expect "route: without any credential a routed request is refused before its body is read (401, 403)" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Content-Type: application/json' --data '[1,2' "$url/v1/messages"; \
     curl -s -m 5 -w ' %{http_code}' --data 'To=%zz' "$url/twilio"; \
     curl -s -m 5 -w ' %{http_code}' "$url/kannel?to=1")" ' 401.* 403.* 403$'
expect "route: GET /twilio is 405" "$(curl -s -m 5 -w ' %{http_code}' "$url/twilio")" ' 405$'
admin PUT /v1/bots/shop/script admin-secret-789 --data 'bot.config{numbers = {"+15550197"}}
bot.fallback(function(c, msg) return "shop2: " .. msg.text end)' >/dev/null
expect "route: a reload that changes the numbers changes the routes" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550061","to":"+15550199","text":"x"}' "$url/v1/messages"; \
     curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550061","to":"+15550197","text":"y"}' "$url/v1/messages")" \
  ' 404.*"replies":\["shop2: y"\]'

# media: Twilio's NumMedia/MediaUrlN and JSON "media" reach msg.media
admin PUT /v1/bots/echo/script admin-secret-789 --data 'bot.fallback(function(c, msg) return #msg.media .. " " .. (msg.media[1] or "-") end)' >/dev/null
sig=$(sign /twilio/echo From=+15550006 Body=look MessageSid=SM9 NumMedia=1 MediaUrl0=https://m.example/1.jpg)
expect "media: a Twilio MMS's URLs are msg.media" "$(expect_media)" '<Message>1 https://m.example/1.jpg</Message>.* 200$'
expect "media: JSON media are msg.media" \
  "$(curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550007","text":"x","media":["https://m.example/2.png"]}' "$url/v1/bots/echo/messages")" \
  '"replies":\["1 https://m.example/2.png"\]'

# erasure: the contact's data goes, an opted-out number stays opted out
expect "erase: an opted-out contact is erased" \
  "$(admin DELETE /v1/bots/fanclub/contacts/+15550002 admin-secret-789)" '"status":"erased".* 200$'
expect "erase: ... its data is gone" "$(admin GET /v1/bots/fanclub/contacts/+15550002 admin-secret-789)" ' 404$'
expect "erase: ... its messages are gone from the store" \
  "$(sqlite3 "$tmp/serve.db" "SELECT count(*) FROM messages WHERE number = '+15550002'")" '^0$'
expect "erase: ... the stored suppression is a hash, not the number" \
  "$(sqlite3 "$tmp/serve.db" "SELECT count(*), sum(number_hash LIKE '%15550002%') FROM suppressions")" '^1\|0$'
expect "erase: when the number texts again it is still opted out (no reply)" \
  "$(post_json hook-secret-456 '{"from":"+15550002","text":"hello again"}')" '"replies":\[\].* 200$'
expect "erase: a subscribed contact erased comes back as new" \
  "$(admin DELETE /v1/bots/fanclub/contacts/+15550003 admin-secret-789; post_json hook-secret-456 '{"from":"+15550003","text":"hi"}')" \
  'Welcome to the fan club.* 200$'
expect "erase: an unknown contact is 404" "$(admin DELETE /v1/bots/fanclub/contacts/+15559999 admin-secret-789)" ' 404$'

# a pending timer shows in /metrics as parley_timers_pending
admin PUT /v1/bots/later/script admin-secret-789 --data 'bot.handler("nudge", function(c) c:send("nudge") end)
bot.fallback(function(c, msg) bot.after("2h", "nudge") return "later" end)' >/dev/null
curl -s -m 5 -o /dev/null -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' \
  --data '{"from":"+15550071","text":"x"}' "$url/v1/bots/later/messages"
expect "metrics: a timer waiting to fire is counted" \
  "$(curl -s -m 5 "$url/metrics" | grep '^parley_timers_pending')" '^parley_timers_pending 1$'
# (its real message now fails: activated all the same)
admin PUT '/v1/bots/later/script?accept_errors=1' admin-secret-789 --data 'bot.handler("nudge", function(c) c:send("nudge") end)
bot.fallback(function(c, msg) error("oops") end)' >/dev/null
curl -s -m 5 -o /dev/null -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' \
  --data '{"from":"+15550071","text":"y"}' "$url/v1/bots/later/messages"
expect "metrics: counts by bot, kept across a reload, each family together" \
  "$(curl -s -m 5 "$url/metrics" | grep 'bot="later"\|^# TYPE parley_bot' | tr '\n' '|')" \
  '^# TYPE parley_bot_messages_in_total counter\|parley_bot_messages_in_total\{bot="later"\} 2\|# TYPE parley_bot_messages_out_total counter\|parley_bot_messages_out_total\{bot="later",status="sent"\} 1\|parley_bot_messages_out_total\{bot="later",status="suppressed"\} 0\|# TYPE parley_bot_handler_errors_total counter\|parley_bot_handler_errors_total\{bot="later"\} 1\|$'

# metrics
metrics=$(curl -s -m 5 "$url/metrics")
expect "metrics: Prometheus text with messages, reloads and the handler histogram" \
  "$(printf '%s' "$metrics" | tr '\n' ' ')" \
  'parley_messages_in_total [1-9].*parley_reloads_total\{result="active"\} 14 .*parley_reloads_total\{result="refused"\} 6 .*parley_timers_pending [0-9]+ .*parley_outbox_depth [0-9]+ .*parley_handler_seconds_bucket\{le="\+Inf"\} [1-9][0-9]* .*parley_handler_seconds_count [1-9]'

# delivery reports: bad input is a clear 4xx, unknown messages are acknowledged
sig=$(sign /twilio/status/fanclub?m=5 MessageSid=SMx)
expect "status: a Twilio callback without MessageStatus is 400" \
  "$(curl -s -m 5 -w ' %{http_code}' -H "X-Twilio-Signature: $sig" --data-urlencode MessageSid=SMx "$url/twilio/status/fanclub?m=5")" \
  'MessageStatus and MessageSid are required.* 400$'
expect "status: an unsigned Twilio callback is 403" \
  "$(curl -s -m 5 -w ' %{http_code}' --data-urlencode MessageSid=SMx --data-urlencode MessageStatus=delivered "$url/twilio/status/fanclub?m=5")" ' 403$'
expect "status: a Kannel DLR without the token is 403" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel/dlr/fanclub?m=5&type=1")" ' 403$'
expect "status: a Kannel DLR with an unknown type is 400" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel/dlr/fanclub?token=hook-secret-456&m=5&type=3")" 'DLR type.* 400$'
expect "status: a Kannel DLR for a message nobody sent is acknowledged" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/kannel/dlr/fanclub?token=hook-secret-456&m=999999&type=1")" 'accepted.* 200$'
expect "status: JSON with an unknown status is 400" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"id":"5","status":"teleported"}' "$url/v1/bots/fanclub/status")" \
  'status: sent, delivered.* 400$'
expect "status: JSON that is not an object is 400" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '[1' "$url/v1/bots/fanclub/status")" ' 400$'
expect "status: JSON without credentials is 401" \
  "$(curl -s -m 5 -w ' %{http_code}' -H 'Content-Type: application/json' --data '{"id":"5","status":"delivered"}' "$url/v1/bots/fanclub/status")" ' 401$'
expect "status: GET on the JSON status endpoint is 405" \
  "$(curl -s -m 5 -w ' %{http_code}' "$url/v1/bots/fanclub/status")" ' 405$'

# a clean stop on SIGTERM, and everything acknowledged is stored
kill -TERM "$pid"
stopped=0
for _ in $(seq 1 50); do
  if ! kill -0 "$pid" 2>/dev/null; then stopped=1; break; fi
  sleep 0.1
done
if [ "$stopped" -eq 1 ] && wait "$pid"; then ok "SIGTERM stops the server cleanly"; else not_ok "SIGTERM stops the server cleanly" "$(tail -3 "$tmp/log")"; fi
pid=""
expect "every acknowledged inbound message is stored once" \
  "$(sqlite3 "$tmp/serve.db" "SELECT count(*), count(DISTINCT provider_id) FROM messages WHERE direction = 'in' AND bot_id = (SELECT id FROM bots WHERE name = 'fanclub') AND provider_id IS NOT NULL")" '^4\|4$' # 6, less 3 of the erased contacts, and sig-1
expect "the database passes integrity_check" "$(sqlite3 "$tmp/serve.db" 'PRAGMA integrity_check')" '^ok$'
expect "the log names the rejected signature" "$(cat "$tmp/log")" 'event=rejected provider=twilio reason=signature'
if grep -q 'twilio-secret-123\|hook-secret-456\|admin-secret-789\|sign-me-222\|vault-' "$tmp/log"; then
  not_ok "secrets never reach the log" "found a token in the log"
else
  ok "secrets never reach the log"
fi
expect "--print-config masks secrets" "$("$PARLEY" serve --print-config)" 'twilio_auth_token += \*\*\*\*\*\*\*\*'
expect "--print-config lists a bot's own secrets, masked" "$("$PARLEY" serve --print-config | grep VAULT | tr '\n' '|')" \
  '^webhook_token += \*+ +# env; bot VAULT.s own; env PARLEY_WEBHOOK_TOKEN_VAULT\|webhook_secret += \*+ .*PARLEY_WEBHOOK_SECRET_VAULT\|$'

# sending settings are checked at start, naming the bot and the setting
out=$(PARLEY_WEBHOOK_TOKEN= "$PARLEY" serve --listen 127.0.0.1:1 --db "$tmp/k.db" --scripts "$tmp/scripts" \
  --provider kannel --kannel-username u 2>&1)
expect "start: kannel without webhook_token (for its DLRs) is refused, naming the setting" \
  "$? $(printf '%s' "$out" | tr '\n' ' ')" '^1 .*bot fanclub: kannel delivery reports \(dlr-url\) need webhook_token'
out=$("$PARLEY" serve --listen 127.0.0.1:1 --db "$tmp/k.db" --scripts "$tmp/scripts" --provider twilio 2>&1)
expect "start: twilio without an account SID is refused" "$? $(printf '%s' "$out" | tr '\n' ' ')" '^1 .*twilio needs twilio_account_sid'
out=$("$PARLEY" serve --listen 127.0.0.1:1 --db "$tmp/k.db" --scripts "$tmp/scripts" --provider pigeon 2>&1)
expect "start: an unknown provider is refused" "$? $(printf '%s' "$out" | tr '\n' ' ')" '^1 .*provider must be sim, twilio, kannel or webhook'

# test_clock: the server's clock (timers, quiet hours, stored times) starts
# where a test says, whatever the machine's time
out=$("$PARLEY" serve --listen 127.0.0.1:1 --db "$tmp/c.db" --scripts "$tmp/scripts" --test-clock "2026-03-03 27:00" 2>&1)
expect "test clock: a time that is not one is refused, naming it" "$? $(printf '%s' "$out" | tr '\n' ' ')" "^2 .*test_clock = '2026-03-03 27:00' is not a time"
start_server "$tmp/clog" --db "$tmp/c.db" --scripts "$tmp/scripts" --test-clock "2026-03-03 03:00 America/New_York"
url="http://127.0.0.1:$port"
post_json hook-secret-456 '{"from":"+15550071","text":"hi"}' >/dev/null
bid=$(admin POST /v1/bots/fanclub/broadcasts admin-secret-789 --data '{"text":"Night news"}' | sed 's/^{"id":\([0-9]*\).*/\1/')
i=0
while [ $i -lt 50 ] && ! admin GET "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789 | grep -q '"status":"done"'; do
  i=$((i + 1))
  sleep 0.1
done
expect "test clock: at 03:00 in the bot's zone a broadcast is held by quiet hours" \
  "$(admin GET "/v1/bots/fanclub/broadcasts/$bid" admin-secret-789)" '"status":"done".*"sent":0,"held":1,.* 200$'
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""
expect "test clock: what was stored carries the test clock's time" \
  "$(sqlite3 "$tmp/c.db" "SELECT min(created_at) >= $(date -u -d "2026-03-03 08:00" +%s)000 AND max(created_at) < $(date -u -d "2026-03-03 09:00" +%s)000 FROM messages")" '^1$'
expect "test clock: the server warns that its clock is not the real one" "$(cat "$tmp/clog")" 'level=warn event=test_clock starts_at="2026-03-03 03:00 America/New_York"'

# --watch: a bot folder that changes on disk is loaded again
mkdir -p "$tmp/w/echo"
printf 'bot.fallback(function(c, msg) return "one" end)\n' > "$tmp/w/echo/bot.lua"
# a bot using a module of the shared lib/ folder beside the bot folders
mkdir -p "$tmp/w/tagged" "$tmp/w/lib"
printf 'local tag = require("lib.tag")\nbot.fallback(function(c, msg) return tag.text end)\n' > "$tmp/w/tagged/bot.lua"
printf 'return { text = "tag one" }\n' > "$tmp/w/lib/tag.lua"
start_server "$tmp/wlog" --db "$tmp/w.db" --scripts "$tmp/w" --watch
wport=$port
wpost() {
  curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550001","text":"x"}' \
    "http://127.0.0.1:$wport/v1/bots/echo/messages"
}
# wait_reply TEXT: posts until the reply is TEXT (a reload has happened), for 6 s
wait_reply() {
  for _ in $(seq 1 30); do
    got=$(wpost)
    printf '%s' "$got" | grep -q "\"$1\"" && break
    sleep 0.2
  done
  printf '%s' "$got"
}
expect "watch: the first version answers" "$(wpost)" '"replies":\["one"\]'
expect "watch: the start says it loaded the bot folder" "$(cat "$tmp/wlog")" "loaded $tmp/w/echo \\(version 1\\)"
expect "watch: ... and never that the folder has no bot folders" \
  "$(grep -c 'no bot folders' "$tmp/wlog")" '^0$'
sleep 1.1 # a newer modification time than the file had
printf 'bot.fallback(function(c, msg) return "two" end)\n' > "$tmp/w/echo/bot.lua"
expect "watch: a changed bot.lua is loaded without a restart" "$(wait_reply two)" '"replies":\["two"\]'
printf 'bot.fallback(function(c, msg)\n' > "$tmp/w/echo/bot.lua"
sleep 1.5
expect "watch: a broken edit is reported and the running version stays" "$(wpost)" '"replies":\["two"\]'
expect "watch: the log says why" "$(cat "$tmp/wlog")" 'event=reload_refused source=watch'
mkdir -p "$tmp/w/echo/tests"
printf '> +15550009 hi\n< three\n' > "$tmp/w/echo/tests/echo.chat"
printf 'bot.fallback(function(c, msg) return "four" end)\n' > "$tmp/w/echo/bot.lua"
sleep 1.5
expect "watch: a version whose transcript fails is refused; the running one stays" "$(wpost)" '"replies":\["two"\]'
expect "watch: the log names the failing transcript line" "$(cat "$tmp/wlog")" 'reload_refused source=watch .*tests/echo.chat:2'
sleep 1.1
printf 'bot.fallback(function(c, msg) return "three" end)\n' > "$tmp/w/echo/bot.lua"
expect "watch: once the transcript passes the version is loaded" "$(wait_reply three)" '"replies":\["three"\]'
tpost() {
  curl -s -m 5 -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' --data '{"from":"+15550001","text":"x"}' \
    "http://127.0.0.1:$wport/v1/bots/tagged/messages"
}
expect "watch: a bot answers with its shared module" "$(tpost)" '"replies":\["tag one"\]'
expect "watch: lib/ is not a bot" "$(grep -c "loaded $tmp/w/lib" "$tmp/wlog")" '^0$'
echo_reloads=$(grep -c "reload source=watch dir=$tmp/w/echo" "$tmp/wlog")
sleep 1.1
printf 'return { text = "tag two" }\n' > "$tmp/w/lib/tag.lua"
for _ in $(seq 1 30); do
  tpost | grep -q 'tag two' && break
  sleep 0.2
done
expect "watch: a changed shared module is a new version of the bot requiring it" "$(tpost)" '"replies":\["tag two"\]'
expect "watch: ... and not of a bot that does not" \
  "$(grep -c "reload source=watch dir=$tmp/w/echo" "$tmp/wlog")" "^$echo_reloads\$"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""

# many signed Twilio webhooks at once (16 clients, kept-alive connections,
# each sending its 4 conversations' messages in turn): while one batch is
# committed the next runs, and every answer still carries its own
# conversation's reply, numbered in that conversation's order; each message
# is handled once
mkdir -p "$tmp/many/count"
cp bench/workload/bot.lua "$tmp/many/count/bot.lua"
start_server "$tmp/manylog" --db "$tmp/many.db" --scripts "$tmp/many" --public-url "https://bots.example.com"
expect "concurrent webhooks: every answer carries its own conversation's reply, in order" \
  "$(python3 - "$port" <<'PY'
import base64, hashlib, hmac, http.client, sys, threading, urllib.parse
port, clients, contacts, rounds = int(sys.argv[1]), 16, 4, 6
wrong, answered = [], []
def sign(path, params):
    data = "https://bots.example.com" + path + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(b"twilio-secret-123", data.encode(), hashlib.sha1).digest()).decode()
def client(t):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(1, rounds + 1):
        for c in range(contacts):
            number = "+1555%03d%02d" % (t, c)
            params = {"From": number, "To": "+15550199", "Body": "hello",
                      "MessageSid": "SMc%03d%02d%02d" % (t, c, n)}
            conn.request("POST", "/twilio/count", urllib.parse.urlencode(params),
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "X-Twilio-Signature": sign("/twilio/count", params)})
            r = conn.getresponse()
            body = r.read().decode()
            answered.append(1)
            want = "<Message>Thanks %s, message #%d received</Message>" % (number, n)
            if r.status != 200 or body.count("<Message>") != 1 or want not in body:
                wrong.append((number, n, r.status, body))
threads = [threading.Thread(target=client, args=(t,)) for t in range(clients)]
for th in threads: th.start()
for th in threads: th.join()
print("%d answered, %d wrong" % (len(answered), len(wrong)), wrong[:2])
PY
)" '^384 answered, 0 wrong \[\]$'
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""
expect "concurrent webhooks: ... each stored once" \
  "$(sqlite3 "$tmp/many.db" "SELECT count(*), count(DISTINCT provider_id) FROM messages WHERE direction='in'")" '^384\|384$'

# logs: JSON lines at a chosen level; a hostile error message stays one line
mkdir -p "$tmp/j/boom"
printf 'bot.fallback(function(c, msg) error("bad \\"quote\\"\\nsecond line", 0) end)\n' > "$tmp/j/boom/bot.lua"
PARLEY_LOG=warn PARLEY_LOG_FORMAT=json start_server "$tmp/jlog" --db "$tmp/j.db" --scripts "$tmp/j"
curl -s -m 5 -o /dev/null -H 'Authorization: Bearer hook-secret-456' -H 'Content-Type: application/json' \
  --data '{"from":"+15550001","text":"x"}' "http://127.0.0.1:$port/v1/bots/boom/messages"
curl -s -m 5 -o /dev/null -X PUT -H 'Authorization: Bearer admin-secret-789' --data 'bot.fallback(function() return "ok" end)' \
  "http://127.0.0.1:$port/v1/bots/boom/script"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=""
expect "logs: json lines, each one object, the error intact" \
  "$(grep '^{' "$tmp/jlog" | python3 -c 'import json,sys; [print(o["level"], o["event"], repr(o.get("error"))) for o in map(json.loads, sys.stdin)]' 2>&1 | tr '\n' '|')" \
  '^warn handler_error .bad "quote"\\nsecond line.\|$'
expect "logs: below the level (the info of a reload) is not written" "$(grep -c '"event":"reload"' "$tmp/jlog")" '^0$'
expect "logs: a bad level is refused at start" \
  "$( (PARLEY_LOG=loud "$PARLEY" serve --listen 127.0.0.1:1 2>&1; echo " rc=$?") | tr '\n' ' ')" 'log_level must be.*loud.* rc=2 $'

summary
