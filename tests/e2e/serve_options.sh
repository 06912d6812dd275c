#!/bin/sh
# parley serve's command line (getopt_long over the settings' table): every
# setting as --key VALUE or --key=VALUE ('_' or '-' in the key), unknown
# options, abbreviations and missing values named with exit 2, secrets
# refused as flags without being echoed; a flag wins over the config file
# and the environment wherever it stands. The providers' secrets (declared
# by their registrations) are set by the environment, its _FILE form and
# per bot, are refused in the config file, and are masked by --print-config;
# --help lists each setting once and the providers' routes.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh
# only what each check sets
for v in $(env | sed -n 's/^\(PARLEY_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
mkdir -p "$tmp/scripts/shop"
printf 'bot.keyword("hi", function(c) return "hello" end)\n' > "$tmp/scripts/shop/bot.lua"

# a setting's line of --print-config: "KEY = VALUE # SOURCE; ..."
setting_line() { # key, serve's arguments...
  key=$1
  shift
  "$PARLEY" serve "$@" --print-config 2>&1 | grep -E "^$key +="
}

# ---------------------------------------------------------------- the forms
check "--help prints the usage, exit 0" 0 "^usage: parley serve \[--config FILE\]" \
  "$PARLEY" serve --help
check "-h too" 0 "^usage: parley serve \[--config FILE\]" "$PARLEY" serve -h
check "--key VALUE sets a setting (source: flag)" 0 \
  "^listen += 10\.0\.0\.1:81 +# flag;" setting_line listen --listen 10.0.0.1:81
check "--key=VALUE too" 0 "^listen += 10\.0\.0\.2:82 +# flag;" setting_line listen --listen=10.0.0.2:82
check "a key's _ is written - (--public-url=...)" 0 \
  "^public_url += https://a\.example +# flag;" setting_line public_url --public-url=https://a.example
check "or as it is (--public_url ...)" 0 \
  "^public_url += https://b\.example +# flag;" setting_line public_url --public_url https://b.example
check "a provider's setting is a flag too (--twilio-account-sid=...)" 0 \
  "^twilio_account_sid += AC123 +# flag;" setting_line twilio_account_sid --twilio-account-sid=AC123
check "an empty value after = is a value" 0 "^test_clock += +# flag;" \
  setting_line test_clock --test-clock=
check "the last of two flags wins" 0 "^db += /b\.db +# flag;" setting_line db --db /a.db --db=/b.db
check "options after --print-config are read too" 0 "^db += /c\.db +# flag;" \
  "$PARLEY" serve --print-config --db /c.db

# ---------------------------------------------------------------- refused
check_text "an unknown option is named, exit 2" 2 "parley serve: unknown option '--foo'" \
  "$PARLEY" serve --foo
check_text "an unknown --key=VALUE is named without its value" 2 \
  "parley serve: unknown option '--admin-tokn'" "$PARLEY" serve --admin-tokn=typo-secret-1
lacks_value=$(printf '%s' "$out" | grep -c typo-secret-1)
result "$lacks_value" "the value of an unknown --key=VALUE is not printed" "$out"
check_text "an abbreviation is not the option (--list for --listen)" 2 \
  "parley serve: unknown option '--list'" "$PARLEY" serve --list 127.0.0.1:1
check_text "an unknown short option is named" 2 "parley serve: unknown option '-x'" \
  "$PARLEY" serve -x
check_text "serve's own option is not a setting (--print_config)" 2 \
  "parley serve: unknown option '--print_config'" "$PARLEY" serve --print_config
check_text "a setting without its value is named" 2 "parley serve: missing a value for '--listen'" \
  "$PARLEY" serve --listen
check_text "--config without its value is named" 2 "parley serve: missing a value for '--config'" \
  "$PARLEY" serve --config
check_text "an argument that is not an option is refused" 2 \
  "parley serve: unexpected argument 'scripts'" "$PARLEY" serve scripts
check_text "after --, every element is an argument" 2 "parley serve: unexpected argument '--db'" \
  "$PARLEY" serve -- --db x.db
for key in admin-token twilio-auth-token webhook-token webhook-secret kannel-password \
  webhook-send-secret; do
  check_text "a secret is not a flag: --$key VALUE" 2 \
    "parley serve: a secret cannot be a flag: '--$key' (use the environment)" \
    "$PARLEY" serve "--$key" flag-secret-2
  check_text "nor --$key=VALUE" 2 \
    "parley serve: a secret cannot be a flag: '--$key' (use the environment)" \
    "$PARLEY" serve "--$key=flag-secret-3"
done
check_text "a secret's flag without a value says it is a secret" 2 \
  "parley serve: a secret cannot be a flag: '--webhook-token' (use the environment)" \
  "$PARLEY" serve --webhook-token

# ---------------------------------------------------------------- flags win
printf 'listen = 10.0.0.3:83\ndb = %s/file.db\n' "$tmp" > "$tmp/parley.conf"
check "a flag before --config wins over the file" 0 "^listen += 10\.0\.0\.4:84 +# flag;" \
  setting_line listen --listen=10.0.0.4:84 --config "$tmp/parley.conf"
check "a flag after --config too" 0 "^listen += 10\.0\.0\.5:85 +# flag;" \
  setting_line listen --config="$tmp/parley.conf" --listen 10.0.0.5:85
check "the file's value without a flag" 0 "^db += $tmp/file\.db +# file;" \
  setting_line db --config "$tmp/parley.conf"
check "a flag wins over the environment" 0 "^db += /flag\.db +# flag;" \
  env PARLEY_DB=/env.db "$PARLEY" serve --db=/flag.db --print-config
check "the environment wins over the file" 0 "^db += /env\.db +# env;" \
  env PARLEY_DB=/env.db "$PARLEY" serve --config "$tmp/parley.conf" --print-config

# ---------------------------------------------------------------- the providers' secrets
printf 'file-secret-4\n' > "$tmp/token"
for pair in twilio_auth_token:PARLEY_TWILIO_AUTH_TOKEN webhook_token:PARLEY_WEBHOOK_TOKEN \
  webhook_secret:PARLEY_WEBHOOK_SECRET; do
  key=${pair%%:*} var=${pair#*:}
  check "$key: set by $var, masked" 0 "^$key += \*{8} +# env;.*; env $var$" \
    env "$var=env-secret-5" "$PARLEY" serve --print-config
  check "$key: set by ${var}_FILE, masked" 0 "^$key += \*{8} +# file \(env _FILE\);" \
    env "${var}_FILE=$tmp/token" "$PARLEY" serve --print-config
  check "$key: set for one bot by ${var}_SHOP, masked" 0 \
    "^$key += \*{8} +# env; bot SHOP's own; env ${var}_SHOP$" \
    env "${var}_SHOP=bot-secret-6" "$PARLEY" serve --scripts "$tmp/scripts" --print-config
  printf '%s = conf-secret-7\n' "$key" > "$tmp/secret.conf"
  check_text "$key: refused in the config file" 2 \
    "$tmp/secret.conf:1: $key is a secret: give it by $var (or its _FILE), not in the config file" \
    "$PARLEY" serve --config "$tmp/secret.conf" --print-config
  printf '[bot shop]\n%s = conf-secret-8\n' "$key" > "$tmp/secret.conf"
  check_text "$key: refused under [bot NAME] too" 2 \
    "$tmp/secret.conf:2: $key is a secret: give it by ${var}_<BOT> (or its _FILE), not in the config file" \
    "$PARLEY" serve --config "$tmp/secret.conf" --print-config
  check "$key: in --help, environment only, per bot" 0 \
    "^  $key +.*; environment only; per bot \($var\)$" "$PARLEY" serve --help
done
all=$(PARLEY_TWILIO_AUTH_TOKEN=env-secret-5 PARLEY_WEBHOOK_TOKEN=env-secret-5 \
  PARLEY_WEBHOOK_SECRET_FILE="$tmp/token" PARLEY_WEBHOOK_TOKEN_SHOP=bot-secret-6 \
  "$PARLEY" serve --scripts "$tmp/scripts" --print-config 2>&1)
printf '%s\n' "$all" | grep -q 'env-secret-5\|file-secret-4\|bot-secret-6'
result $((1 - $?)) "--print-config prints no secret's value" "$all"
for key in twilio_auth_token webhook_token webhook_secret; do
  count=$("$PARLEY" serve --help | grep -c "^  $key ")
  [ "$count" -eq 1 ]
  result $? "$key is listed once by --help" "listed $count times"
  count=$("$PARLEY" serve --print-config | grep -c "^$key ")
  [ "$count" -eq 1 ]
  result $? "$key is listed once by --print-config" "listed $count times"
done

# ---------------------------------------------------------------- --help's routes
check_text "--help: Twilio's messages route" 0 \
  "  POST /twilio/BOT               Twilio messaging webhook (TwiML reply)" "$PARLEY" serve --help
check_text "--help: the JSON webhook's messages route" 0 \
  "  POST /v1/bots/BOT/messages     JSON {\"from\",\"to\",\"text\",\"id\"}, bearer token" \
  "$PARLEY" serve --help
check_text "--help: Kannel's route, GET or POST" 0 \
  "  GET|POST /kannel/BOT           Kannel sms-service get-url / post-url (?token=...)" \
  "$PARLEY" serve --help
check_text "--help: a help's second line is under its first" 0 \
  "                                 or X-Parley-Signature (docs/serve.md)" "$PARLEY" serve --help
check "--help: the provider setting names every SMS provider" 0 \
  "^  provider +how SMS go out: sim \(taken as sent at once, logged at debug\), twilio, kannel or webhook; per bot" \
  "$PARLEY" serve --help
check_text "--help: the delivery reports' routes" 0 \
  "  POST /twilio/status/BOT, GET|POST /kannel/dlr/BOT, POST /v1/bots/BOT/status" \
  "$PARLEY" serve --help
check_text "--help: the server's own events route" 0 \
  "  POST /v1/bots/BOT/events       {\"type\",\"contact\",\"data\"} -> bot.on_event" \
  "$PARLEY" serve --help

summary
