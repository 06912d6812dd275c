#!/bin/sh
# make bench, HTTP part: the workload of shared/bench/WORKLOAD.md (200,000
# messages over 10,000 contacts) as signed Twilio webhooks, POST
# /twilio/workload, sent by wrk over 127.0.0.1 with the same list and the
# same settings to three servers, one after the other:
#   ceiling  build/ceiling (bench/ceiling.c): libmicrohttpd answering every
#            POST with a constant TwiML, no work: what this machine serves
#   parley   `parley serve` (signature checked, answers as TwiML, every
#            message persisted in a file-backed SQLite database)
#   Hubot    Hubot 14 + express (bench/hubot/server.mjs; no signature
#            check, nothing persisted); left out, with a line saying so,
#            without node and npm
# Prints one table (requests/second, p50, p99), the ratios parley/ceiling
# and parley/Hubot next to the targets (a missed one says MISSED), then
# checks what came back and what parley stored; exits non-zero only if a
# check is WRONG.
#
#   sh bench/http.sh            (from anywhere; builds ./parley and build/ceiling if missing)
#
# Environment: WRK_THREADS (2; must divide 10,000), WRK_CONNECTIONS (64),
# TMPDIR (where the database goes: its disk is part of what is measured),
# BENCH_HTTP_KEEP=1 keeps the temporary folder (database, logs, messages).
#
# Per-contact order: bench/http/twilio.lua gives all of a contact's messages
# to one wrk thread, which sends them in index order with at most
# WRK_CONNECTIONS/WRK_THREADS requests in flight, 10,000/WRK_THREADS
# requests apart; the order they were stored in is checked, and with it the
# exact totals of WORKLOAD.md.
set -eu
cd "$(dirname "$0")/.."

N=200000
T=${WRK_THREADS:-2}
C=${WRK_CONNECTIONS:-64}
CAP=300 # seconds: wrk's -d, a safety cap; the run ends when the list does
TARGET_CEILING_RATIO=0.5
TARGET_P99_MS=5

command -v wrk >/dev/null || { echo "bench/http.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "bench/http.sh: needs the sqlite3 CLI" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench/http.sh: needs curl" >&2; exit 2; }
[ -x ./parley ] || make parley
[ -x ./build/ceiling ] || make build/ceiling

tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-http-bench.XXXXXX")
pid=
wpid=
cleanup() {
  if [ -n "$wpid" ]; then kill "$wpid" 2>/dev/null || :; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || :; wait "$pid" 2>/dev/null || :; fi
  if [ "${BENCH_HTTP_KEEP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# up URL LOG: waits for the server just started ($pid) to answer URL/healthz
up() {
  i=0
  until curl -sf -o /dev/null "$1/healthz"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
}
# stop: SIGTERM to the server ($pid), waited for
stop() {
  kill -TERM "$pid" 2>/dev/null || :
  wait "$pid" 2>/dev/null || :
  pid=
}

mkdir -p "$tmp/scripts/workload"
cp bench/workload/bot.lua "$tmp/scripts/workload/bot.lua"
# The signature covers the URL: every server listens on this port in turn.
port=$(free_port)
url="http://127.0.0.1:$port"
token="bench-twilio-token-$$"

now() { python3 -c 'import time; print("%.3f" % time.time())'; }
t0=$(now)
python3 bench/http/gen.py "$url/twilio/workload" "$token" "$N" > "$tmp/messages.txt"
t1=$(now)

# load NAME: the list through wrk to $url; wrk's output in $tmp/NAME.wrk and
# its result line in $tmp/NAME.line. twilio.lua ends wrk with SIGINT once
# every thread has its answers; should that be lost, it is stopped here 2 s
# after the last thread's mark (the figures come from the list's own times,
# not wrk's, so they stay right).
load() {
  rm -rf "$tmp/done" && mkdir -p "$tmp/done"
  wrk -t"$T" -c"$C" -d"${CAP}s" --timeout 10s --latency -s bench/http/twilio.lua "$url" \
    -- "$tmp/messages.txt" "$T" "$tmp/done" > "$tmp/$1.wrk" 2>&1 &
  wpid=$!
  while kill -0 "$wpid" 2>/dev/null; do
    if [ "$(ls "$tmp/done" | grep -c "^done\.")" -ge "$T" ]; then
      sleep 2
      kill -INT "$wpid" 2>/dev/null || :
      break
    fi
    sleep 0.2
  done
  wait "$wpid" || :
  wpid=
  grep '^parley-bench:' "$tmp/$1.wrk" > "$tmp/$1.line" || :
}
# field NAME KEY: a number from NAME's result line (empty if none)
field() { tr ' ' '\n' < "$tmp/$1.line" | sed -n "s/^$2=//p"; }
# list_us: first webhook sent to the last answered (wrk's own duration if missing)
duration() {
  d=$(field "$1" list_us)
  [ "${d:-0}" -gt 0 ] 2>/dev/null || d=$(field "$1" duration_us)
  echo "$d"
}

echo "http: $N Twilio webhooks (POST /twilio/workload, X-Twilio-Signature) over 10000 contacts;"
echo "  wrk -t$T -c$C on 127.0.0.1, the same list and settings for each server, sharing the $(nproc)"
echo "  cores with it (signed requests generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; wrk's -d${CAP}s is a cap, a run ends with the list)"

tick=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# threads_cpu PID: "name ticks" for each thread of PID (the name from comm)
threads_cpu() {
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(cat "$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done 2>/dev/null
}
# `times` in this shell (not in a $(...) subshell): CPU of the waited-for children
cpu_children() { awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }
busy() { awk '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) }' /proc/stat; } # all cores, ticks

# 1. the ceiling
./build/ceiling "$port" > "$tmp/ceiling.log" 2>&1 &
pid=$!
if up "$url"; then
  ceiling_cpu0=$(cpu_of "$pid")
  times > "$tmp/ctimes0"
  load ceiling
  times > "$tmp/ctimes1"
  ceiling_cpu=$(awk -v a="$ceiling_cpu0" -v b="$(cpu_of "$pid")" -v k="$tick" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / k / n * 1e6 }')
  ceiling_wrk=$(awk -v a="$(cpu_children "$tmp/ctimes0")" -v b="$(cpu_children "$tmp/ctimes1")" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n * 1e6 }')
  stop
else
  echo "  ceiling: build/ceiling did not come up: $(tail -n 1 "$tmp/ceiling.log")"
  stop
  : > "$tmp/ceiling.line"
fi

# 2. parley
PARLEY_TWILIO_AUTH_TOKEN=$token ./parley serve --listen "127.0.0.1:$port" \
  --db "$tmp/bench.db" --scripts "$tmp/scripts" --public-url "$url" 2> "$tmp/serve.log" &
pid=$!
if ! up "$url"; then
  echo "bench/http.sh: parley serve did not come up:" >&2
  cat "$tmp/serve.log" >&2
  exit 1
fi
# signature checking is on: a request signed with another token is refused
badsig=$(head -n 1 "$tmp/messages.txt" | cut -d' ' -f2- |
  curl -s -o /dev/null -w '%{http_code}' -H 'X-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=' \
    --data-binary @- "$url/twilio/workload")

server_cpu0=$(cpu_of "$pid")
threads_cpu "$pid" > "$tmp/threads0"
busy0=$(busy)
times > "$tmp/times0"
load parley
times > "$tmp/times1"
server_cpu1=$(cpu_of "$pid")
threads_cpu "$pid" > "$tmp/threads1"
busy1=$(busy)
peak_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
# SIGTERM answers what is in hand and closes the store
stop
if [ ! -s "$tmp/parley.line" ]; then
  echo "bench/http.sh: wrk gave no result line for parley:" >&2
  cat "$tmp/parley.wrk" >&2
  exit 1
fi

# 3. Hubot 14 + express (bench/hubot/peer.sh installs it once)
hubot_note=
if sh bench/hubot/peer.sh --check > "$tmp/hubot.log" 2>&1; then
  EXPRESS_PORT=$port EXPRESS_BIND_ADDRESS=127.0.0.1 sh bench/hubot/peer.sh server.mjs \
    > "$tmp/hubot.log" 2>&1 &
  pid=$!
  if up "$url"; then
    load hubot
  else
    hubot_note="Hubot left out: it did not start ($(tail -n 1 "$tmp/hubot.log"))"
  fi
  stop
else
  hubot_note=$(tail -n 1 "$tmp/hubot.log")
fi
[ -s "$tmp/hubot.line" ] 2>/dev/null || { [ -n "$hubot_note" ] || hubot_note="Hubot left out: wrk gave no result line"; }

# the table: one row per server measured; requests/second are the webhooks
# answered (all N unless wrk's cap cut the run: then a check says WRONG)
rps() { [ -s "$tmp/$1.line" ] && awk -v n="$(field "$1" posts)" -v d="$(duration "$1")" 'BEGIN { printf "%.0f", n / (d / 1e6) }'; }
row() { # NAME LABEL
  [ -s "$tmp/$1.line" ] || return 0
  printf '  %-34s %10s %9.2f %9.2f\n' "$2" "$(rps "$1")" "$(awk -v v="$(field "$1" p50_us)" 'BEGIN{print v / 1000}')" \
    "$(awk -v v="$(field "$1" p99_us)" 'BEGIN{print v / 1000}')"
}
echo "  $(printf '%-34s %10s %9s %9s' server requests/s 'p50 ms' 'p99 ms')"
row ceiling "ceiling (libmicrohttpd, constant)"
row parley "parley serve"
row hubot "Hubot 14 + express"
[ -z "$hubot_note" ] || echo "  $hubot_note"
pr=$(rps parley)
pp99=$(field parley p99_us)
if [ -s "$tmp/ceiling.line" ]; then
  awk -v p="$pr" -v c="$(rps ceiling)" -v t="$TARGET_CEILING_RATIO" 'BEGIN {
    r = p / c
    printf "  parley / ceiling                       %8.2fx the requests/second (target >= %.1fx%s)\n", r, t, (r >= t ? "" : ": MISSED")
  }'
else
  echo "  parley / ceiling: not measured (the ceiling did not run): MISSED"
fi
awk -v p99="$pp99" -v t="$TARGET_P99_MS" 'BEGIN {
  printf "  parley p99                             %8.2f ms (target < %d ms%s)\n", p99 / 1000, t, (p99 / 1000 < t ? "" : ": MISSED")
}'
if [ -s "$tmp/hubot.line" ]; then
  awk -v p="$pr" -v h="$(rps hubot)" -v pp99="$pp99" -v hp99="$(field hubot p99_us)" 'BEGIN {
    printf "  parley / Hubot                         %8.2fx the requests/second, %.2fx the p99 latency\n", p / h, pp99 / hp99
  }'
fi
awk -v d="$(duration parley)" -v mx="$(field parley max_us)" -v p90="$(field parley p90_us)" -v tick="$tick" \
  -v scpu="$(awk -v a="$server_cpu0" -v b="$server_cpu1" -v k="$tick" 'BEGIN{print (b - a) / k}')" \
  -v wcpu="$(awk -v a="$(cpu_children "$tmp/times0")" -v b="$(cpu_children "$tmp/times1")" 'BEGIN{print b - a}')" \
  -v all="$(awk -v a="$busy0" -v b="$busy1" -v k="$tick" 'BEGIN{print (b - a) / k}')" \
  -v rss="$peak_kib" -v ncpu="$(nproc)" 'BEGIN {
  s = d / 1e6
  printf "  parley: p90 %.2f ms, max %.2f ms; wall time %.2f s (first webhook sent to last answered)\n", p90 / 1000, mx / 1000, s
  printf "  parley CPU: serve %.2f s (%.2f cores); wrk %.2f s (%.2f cores, its loading of the list\n", scpu, scpu / s, wcpu, wcpu / s
  printf "    included); the whole machine %.2f of %d cores busy (kernel and any other load included)\n", all / s, ncpu
  printf "  parley serve peak RSS                  %8.1f MiB\n", rss / 1024
}'
# CPU per request of each of parley serve's threads (same-named threads
# summed; a thread started during the run counts from zero), next to the
# ceiling's whole server
awk -v n="$N" -v tick="$tick" -v ceiling="${ceiling_cpu:-}" -v cwrk="${ceiling_wrk:-}" \
  -v pwrk="$(awk -v a="$(cpu_children "$tmp/times0")" -v b="$(cpu_children "$tmp/times1")" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n * 1e6 }')" '
  FNR == NR { before[$1] += $2; next }
  { at[$1] += $2 }
  END {
    split("MHD-single parley parley-worker parley-writer parley-checkpt", order, " ")
    split("libmicrohttpd|engine (its first worker)|other workers|writer|checkpointer", label, "|")
    line = ""; all = 0; other = 0
    for (t in at) {
      us = (at[t] - before[t]) / tick / n * 1e6; all += us; known = 0
      for (i = 1; i <= 5; i++) if (t == order[i]) { cost[i] = us; known = 1 }
      if (!known) other += us
    }
    for (i = 1; i <= 5; i++) if (i in cost) line = line sprintf("%s %.1f us, ", label[i], cost[i])
    printf "  parley CPU per request, by thread: %sother %.1f us; %.1f us in all\n", line, other, all
    printf "    wrk: %s us a request (its loading of the list included)\n", pwrk
    if (ceiling != "") printf "    the ceiling: %s us a request, its whole server; wrk %s us against it\n", ceiling, cwrk
  }' "$tmp/threads0" "$tmp/threads1"

bad=0
check() { # what got want
  if [ "$2" = "$3" ]; then r=ok; else r=WRONG; bad=1; fi
  printf '  %-44s %8s  %s\n' "$1" "$2" "$r"
  [ "$r" = ok ] || printf '    expected %s\n' "$3"
}
q() { sqlite3 "$tmp/bench.db" "$1"; }
errors() { echo $(( $(field "$1" connect_errors) + $(field "$1" read_errors) + $(field "$1" write_errors) + $(field "$1" timeouts) )); }

echo "checks (wrk's answers, then read back from parley's database):"
if [ -s "$tmp/ceiling.line" ]; then
  check "ceiling: webhooks answered 200" "$(( $(field ceiling posts) - $(field ceiling non200) ))" "$N"
  check "ceiling: socket errors and timeouts" "$(errors ceiling)" 0
fi
if [ -s "$tmp/hubot.line" ]; then
  check "Hubot: webhooks answered 200" "$(( $(field hubot posts) - $(field hubot non200) ))" "$N"
  check "Hubot: socket errors and timeouts" "$(errors hubot)" 0
fi
check "wrongly signed request refused (HTTP status)" "$badsig" 403
check "webhooks sent, each message once" "$(field parley sent)" "$N"
check "webhooks answered" "$(field parley posts)" "$N"
check "answers not 200" "$(field parley non200)" 0
check "socket errors and timeouts" "$(errors parley)" 0
check "TwiML <Message> replies in the answers" "$(field parley replies)" 168575
check "messages in" "$(q "SELECT count(*) FROM messages WHERE direction='in'")" "$N"
check "distinct MessageSids in" "$(q "SELECT count(DISTINCT provider_id) FROM messages WHERE direction='in'")" "$N"
check "stored out of per-contact order" "$(q "SELECT count(*) FROM (SELECT provider_id p, lag(provider_id) OVER (PARTITION BY contact_id ORDER BY id) prev FROM messages WHERE direction='in') WHERE prev > p")" 0
check "replies stored (outbound 'sent')" "$(q "SELECT count(*) FROM messages WHERE direction='out' AND status='sent'")" 168575
check "handled stop (opt-out confirmations)" "$(q "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE '%unsubscribed%'")" 4000
check "handled start (opt-in + Welcome back!)" "$(q "SELECT count(*) FROM messages WHERE direction='out' AND (text LIKE '%subscribed again%' OR text = 'Welcome back!')")" 2000
check "handled tour" "$(q "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE 'Tour dates:%'")" 16649
check "handled merch" "$(q "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE 'Shop:%'")" 8378
check "handled thanks" "$(q "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE 'Thanks %'")" 137548
check "opted-out contacts at the end" "$(q "SELECT count(*) FROM contacts WHERE status='opted_out'")" 3083
check "sum of all counters" "$(q "SELECT coalesce(sum(json_extract(state,'\$.n')),0) FROM conversations")" 137548
check "START from an opted-out contact" "$(q "SELECT count(*) FROM consent WHERE action='optin'")" 306
exit $bad
