#!/bin/sh
# make bench, HTTP part: the workload of shared/bench/WORKLOAD.md (200,000
# messages over 10,000 contacts) as signed Twilio webhooks, POST
# /twilio/workload, sent by wrk over 127.0.0.1 to `parley serve` (signature
# checked, answers as TwiML, every message persisted in a file-backed SQLite
# database). Prints requests/second and latency percentiles next to the
# targets, then checks what came back and what was stored; exits non-zero
# if a check is WRONG (a missed performance target is reported, not failed).
#
#   sh bench/http.sh            (from anywhere; builds ./parley if missing)
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
CAP=100 # seconds: wrk's -d, a safety cap; the run ends when the list does
TARGET_RPS=20000
TARGET_P99_MS=10

command -v wrk >/dev/null || { echo "bench/http.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "bench/http.sh: needs the sqlite3 CLI" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench/http.sh: needs curl" >&2; exit 2; }
[ -x ./parley ] || make parley

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

mkdir -p "$tmp/scripts/workload" "$tmp/done"
cp bench/workload/bot.lua "$tmp/scripts/workload/bot.lua"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
token="bench-twilio-token-$$"

now() { python3 -c 'import time; print("%.3f" % time.time())'; }
t0=$(now)
python3 bench/http/gen.py "$url/twilio/workload" "$token" "$N" > "$tmp/messages.txt"
t1=$(now)

PARLEY_TWILIO_AUTH_TOKEN=$token ./parley serve --listen "127.0.0.1:$port" \
  --db "$tmp/bench.db" --scripts "$tmp/scripts" --public-url "$url" 2> "$tmp/serve.log" &
pid=$!
i=0
until curl -sf -o /dev/null "$url/healthz"; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "bench/http.sh: parley serve did not come up:" >&2
    cat "$tmp/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done

# signature checking is on: a request signed with another token is refused
badsig=$(head -n 1 "$tmp/messages.txt" | cut -d' ' -f2- |
  curl -s -o /dev/null -w '%{http_code}' -H 'X-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=' \
    --data-binary @- "$url/twilio/workload")

tick=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# `times` in this shell (not in a $(...) subshell): CPU of the waited-for children
cpu_children() { awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }
busy() { awk '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) }' /proc/stat; } # all cores, ticks
server_cpu0=$(cpu_of "$pid")
busy0=$(busy)
times > "$tmp/times0"

echo "http: $N Twilio webhooks (POST /twilio/workload, X-Twilio-Signature checked, TwiML"
echo "  answers) over 10000 contacts; wrk -t$T -c$C on 127.0.0.1, sharing the $(nproc) cores with parley serve"
echo "  (signed requests generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; wrk's -d${CAP}s is a cap, the run ends with the list)"
wrk -t"$T" -c"$C" -d"${CAP}s" --timeout 10s --latency -s bench/http/twilio.lua "$url" \
  -- "$tmp/messages.txt" "$T" "$tmp/done" > "$tmp/wrk.txt" 2>&1 &
wpid=$!
# twilio.lua ends wrk with SIGINT once every thread has its answers; should
# that be lost, stop wrk here 2 s after the last thread's mark
late=
while kill -0 "$wpid" 2>/dev/null; do
  if [ "$(ls "$tmp/done" | grep -c "^done\.")" -ge "$T" ]; then
    sleep 2
    if kill -INT "$wpid" 2>/dev/null; then late=1; fi
    break
  fi
  sleep 0.2
done
wait "$wpid" || :
wpid=
times > "$tmp/times1"
server_cpu1=$(cpu_of "$pid")
busy1=$(busy)
peak_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
sed -n '/^Running/,/^Transfer/p' "$tmp/wrk.txt" | sed 's/^/  | /'
grep -v -e '^parley-bench:' "$tmp/wrk.txt" | sed -n '/^Transfer/,$p' | sed '1d; s/^/  | /'

# stop the server: SIGTERM answers what is in hand and closes the store
kill -TERM "$pid"
wait "$pid" || :
pid=

line=$(grep '^parley-bench:' "$tmp/wrk.txt" || :)
if [ -z "$line" ]; then
  echo "bench/http.sh: wrk gave no result line:" >&2
  cat "$tmp/wrk.txt" >&2
  exit 1
fi
field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
dur=$(field list_us)
[ "$dur" -gt 0 ] 2>/dev/null || dur=$(field duration_us)
[ -z "$late" ] || echo "  (wrk did not stop by itself: stopped by bench/http.sh; its own Requests/sec and time above are too low/long)"
awk -v n="$N" -v d="$dur" -v t="$TARGET_RPS" -v p50="$(field p50_us)" -v p90="$(field p90_us)" \
  -v p99="$(field p99_us)" -v mx="$(field max_us)" -v tp="$TARGET_P99_MS" \
  -v scpu="$(awk -v a="$server_cpu0" -v b="$server_cpu1" -v k="$tick" 'BEGIN{print (b - a) / k}')" \
  -v wcpu="$(awk -v a="$(cpu_children "$tmp/times0")" -v b="$(cpu_children "$tmp/times1")" 'BEGIN{print b - a}')" \
  -v all="$(awk -v a="$busy0" -v b="$busy1" -v k="$tick" 'BEGIN{print (b - a) / k}')" \
  -v rss="$peak_kib" -v ncpu="$(nproc)" 'BEGIN {
  s = d / 1e6; rps = n / s
  printf "  requests/second                        %8.0f   (target >= %d: %s)\n", rps, t, (rps >= t ? "met" : "MISSED")
  printf "  latency p99 (wrk, CO-corrected)        %8.2f ms (target < %d ms: %s)\n", p99 / 1000, tp, (p99 / 1000 < tp ? "met" : "MISSED")
  printf "  latency p50 / p90 / max                %8.2f / %.2f / %.2f ms\n", p50 / 1000, p90 / 1000, mx / 1000
  printf "  wall time                              %8.2f s  (first webhook sent to last answered)\n", s
  printf "  CPU: parley serve %.2f s (%.2f cores); wrk %.2f s (%.2f cores, its loading of the list\n", scpu, scpu / s, wcpu, wcpu / s
  printf "    included); the whole machine %.2f of %d cores busy (kernel and any other load included)\n", all / s, ncpu
  printf "  parley serve peak RSS                  %8.1f MiB\n", rss / 1024
}'

parley_rps=$(awk -v n="$N" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
parley_p99=$(field p99_us)

# The peer baseline, measured in this run: Hubot 14 with express (its
# robot.router) answering the same webhooks with the same replies as TwiML,
# no signature check, nothing persisted (bench/hubot/server.mjs). Needs node
# and npm (the package is installed into bench/hubot/node_modules once).
hubot_baseline() {
  command -v node >/dev/null && command -v npm >/dev/null || { echo "  not measured: needs node and npm"; return; }
  if [ ! -d bench/hubot/node_modules/hubot ]; then
    (cd bench/hubot && npm install --no-audit --no-fund --silent >/dev/null 2>&1) ||
      { echo "  not measured: npm install (bench/hubot) failed"; return; }
  fi
  hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  EXPRESS_PORT=$hport EXPRESS_BIND_ADDRESS=127.0.0.1 HUBOT_LOG_LEVEL=error \
    node bench/hubot/server.mjs > "$tmp/hubot.log" 2>&1 &
  pid=$!
  i=0
  until curl -sf -o /dev/null "http://127.0.0.1:$hport/healthz"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "  not measured: Hubot did not start ($(tail -n 1 "$tmp/hubot.log"))"; return
    fi
    sleep 0.1
  done
  rm -rf "$tmp/done" && mkdir -p "$tmp/done"
  wrk -t"$T" -c"$C" -d"${CAP}s" --timeout 10s --latency -s bench/http/twilio.lua \
    "http://127.0.0.1:$hport" -- "$tmp/messages.txt" "$T" "$tmp/done" > "$tmp/hubot-wrk.txt" 2>&1 &
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
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || :; pid=
  hline=$(grep '^parley-bench:' "$tmp/hubot-wrk.txt" || :)
  [ -n "$hline" ] || { echo "  not measured: wrk gave no result line"; return; }
  hfield() { echo "$hline" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  hd=$(hfield list_us)
  [ "$hd" -gt 0 ] 2>/dev/null || hd=$(hfield duration_us)
  awk -v n="$N" -v d="$hd" -v p99="$(hfield p99_us)" -v non200="$(hfield non200)" \
    -v prps="$parley_rps" -v pp99="$parley_p99" 'BEGIN {
    rps = n / (d / 1e6)
    printf "  Hubot 14 + express: %.0f requests/second, p99 %.2f ms (%d answers not 200)\n", rps, p99 / 1000, non200
    printf "  parley / Hubot: %.2fx the requests/second, %.2fx the p99 latency\n", prps / rps, pp99 / p99
  }'
}
echo "peer baseline (same machine, same webhooks, same wrk settings):"
hubot_baseline

bad=0
check() { # what got want
  if [ "$2" = "$3" ]; then r=ok; else r=WRONG; bad=1; fi
  printf '  %-44s %8s  %s\n' "$1" "$2" "$r"
  [ "$r" = ok ] || printf '    expected %s\n' "$3"
}
q() { sqlite3 "$tmp/bench.db" "$1"; }

echo "checks (wrk's answers, then read back from the database):"
check "wrongly signed request refused (HTTP status)" "$badsig" 403
check "webhooks sent, each message once" "$(field sent)" "$N"
check "webhooks answered" "$(field posts)" "$N"
check "answers not 200" "$(field non200)" 0
check "socket errors and timeouts" \
  "$(( $(field connect_errors) + $(field read_errors) + $(field write_errors) + $(field timeouts) ))" 0
check "TwiML <Message> replies in the answers" "$(field replies)" 168575
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
