#!/bin/sh
# Host work and host memory are charged like Lua's: attacks whose harm is in
# the host (C loops the hook cannot see, memory malloc'd outside the Lua
# allocator), measured from outside the process. Each case runs `parley test`
# (or `parley check`) on one transcript in a child process and records its
# wall time and peak RSS (getrusage of the child), less those of a control
# transcript that does nothing; the figures are printed as TAP comments.
# (The time beyond the control includes the attacking bot's own loading, so
# "past the limit" is an upper bound of the overshoot.)
#
# The bounds are generous on purpose (shared, noisy machines): an attack
# must stop within 2 s of its time limit, and the host must hold no more
# than the Lua memory limit plus 64 MB above the control. The code these
# attacks were written against ran 11 s past a 200 ms limit (gsub), minutes
# at load time, and held 200 to 600 MB (the stored-data encoder, broadcasts).
#
# Prints "ok N - ..." / "not ok N - ..." per case and "N passed, N failed";
# exits 1 if any case failed. Runs from anywhere: it changes to the repository
# root.
cd "$(dirname "$0")/../.." || exit 1

PARLEY=${PARLEY:-./parley}
HOSTILE=tests/hostile
GUARD=tests/hostile/guard
MEM_CAP_KB=1500000 # address space of each child: an unfixed attack fails, not the machine

. tests/e2e/lib/tap.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if [ ! -x "$PARLEY" ]; then
  bail "$PARLEY is missing: run make parley first"
fi
# A sanitizer build (make test-asan sets PARLEY_SANITIZED) reserves terabytes
# of address space, runs several times slower and keeps freed memory in
# quarantine: the figures mean nothing there.
if [ -n "${PARLEY_SANITIZED:-}" ]; then
  skip "host charges" "sanitizer build (no memory cap, slower clock)"
  summary
  exit 0
fi

# measure CMD...: runs CMD with its output in $out, under a 20 s timeout and
# MEM_CAP_KB of address space; sets rc, ms (wall time) and rss_kb (peak RSS).
measure() {
  set -- $(python3 - "$MEM_CAP_KB" "$out" "$@" <<'EOF'
import resource, subprocess, sys, time
cap_kb, out = int(sys.argv[1]), sys.argv[2]
def limit():
    resource.setrlimit(resource.RLIMIT_AS, (cap_kb * 1024, cap_kb * 1024))
start = time.monotonic()
with open(out, "wb") as f:
    try:
        rc = subprocess.run(sys.argv[3:], stdout=f, stderr=subprocess.STDOUT,
                            preexec_fn=limit, timeout=20).returncode
    except subprocess.TimeoutExpired:
        rc = 124
ms = int((time.monotonic() - start) * 1000)
print(rc, ms, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
)
  rc=$1 ms=$2 rss_kb=$3
}

shown() { head -c 600 "$out" | tr -d '\000'; }

# timing LIMIT_MS: the figures of the last measure against a time limit
timing() {
  beyond=$((ms - base_ms))
  if [ "$beyond" -gt "$1" ]; then
    echo "${ms} ms, ${beyond} ms beyond the control: $((beyond - $1)) ms past the $1 ms limit"
  else
    echo "${ms} ms, ${beyond} ms beyond the control: within the $1 ms limit"
  fi
}

# the control: the base time and memory of a transcript run
measure "$PARLEY" test "$GUARD/04_control.transcript"
if [ "$rc" -ne 0 ]; then
  bail "control transcript passes" "exit status $rc; output: $(shown)"
fi
base_ms=$ms base_kb=$rss_kb
ok "control transcript passes"
echo "# control: ${base_ms} ms, peak RSS $((base_kb / 1024)) MB"

# attack TRANSCRIPT LIMIT_MS LUA_MB DESCRIPTION
# `parley test TRANSCRIPT` passes (the attack is refused, another contact's
# next message answered), within LIMIT_MS + 2 s more than the control, with a
# peak RSS at most LUA_MB + 64 MB above the control's.
attack() {
  file=$1 limit_ms=$2 lua_mb=$3 desc=$4
  measure "$PARLEY" test "$file"
  past=$((ms - base_ms - limit_ms))
  extra_mb=$(((rss_kb - base_kb) / 1024))
  figures="$(timing "$limit_ms"), peak RSS $((rss_kb / 1024)) MB (${extra_mb} MB above the control; Lua limit ${lua_mb} MB)"
  if [ "$rc" -ne 0 ] || ! grep -q '^1 passed, 0 failed' "$out"; then
    not_ok "$desc" "exit status $rc after $figures; output: $(shown)"
  elif [ "$past" -gt 2000 ]; then
    not_ok "$desc" "too slow: $figures"
  elif [ "$extra_mb" -gt $((lua_mb + 64)) ]; then
    not_ok "$desc" "too much host memory: $figures"
  else
    ok "$desc"
  fi
  echo "# $figures"
}

# load_attack NAME DESCRIPTION CMD...: CMD (parley check or test of a bot
# whose top level attacks) ends with exit 1 and "limit exceeded" within the
# 5 s load limit + 2 s more than the control.
load_attack() {
  desc=$1
  shift
  measure "$@"
  past=$((ms - base_ms - 5000))
  figures="$(timing 5000), peak RSS $((rss_kb / 1024)) MB"
  if [ "$rc" -ne 1 ] || ! grep -q 'limit exceeded' "$out"; then
    not_ok "$desc" "exit status $rc after $figures, expected 1 with 'limit exceeded'; output: $(shown)"
  elif [ "$past" -gt 2000 ]; then
    not_ok "$desc" "too slow: $figures"
  else
    ok "$desc"
  fi
  echo "# $figures"
}

G=$HOSTILE/62_gsub_replacement_work/tests
attack "$G/empty_matches.chat" 200 16 \
  "gsub with a million '%0' on empty matches: stopped near the 200 ms limit"
attack "$G/captures.chat" 200 16 \
  "gsub with a million '%1' of an empty capture: stopped near the 200 ms limit"
attack "$G/function_results.chat" 200 16 \
  "gsub copying a 1 MB function result per match, in a loop: stopped near the 200 ms limit"
load_attack "parley check: the gsub attack at the top level stops at the load limit" \
  "$PARLEY" check "$HOSTILE/load/16_gsub_at_load"
load_attack "parley test: the gsub attack at the top level stops at the load limit" \
  "$PARLEY" test "$GUARD/05_gsub_at_load.transcript"

E=$HOSTILE/63_encode_many_keys/tests
attack "$E/keys.chat" 5000 96 \
  "c.state with 1,500,000 keys: refused with host memory near the Lua limit"
attack "$E/long_key.chat" 5000 96 \
  "c.state with a 24 MB key of control characters: refused before it is written out"
attack "$E/store_keys.chat" 5000 96 \
  "bot.store with 600,000 keys: refused with host memory near the Lua limit"

attack "$HOSTILE/64_broadcast_flood/tests/flood.chat" 1000 16 \
  "1 MB bot.broadcast calls in a loop for 1 s: no host memory taken"

attack "$HOSTILE/58_http_huge_request/tests/attack.chat" 500 256 \
  "http.post with a 20 MB body, http.get with a 10 MB URL: refused before they are copied"

# 16 MB of "[[],[],...]" as an HTTP response: the transcript is written here
nodes=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$nodes"' EXIT
python3 - "$nodes/json_nodes.chat" "$(pwd)/$GUARD/06_json_nodes" <<'EOF'
import sys
n = (16 * 1024 * 1024 - 2) // 3
body = "[" + ",".join(["[]"] * n) + "]"
with open(sys.argv[1], "w") as f:
    f.write("# 16 MB of tiny JSON values: res.json refused before parsing\n"
            "@bot " + sys.argv[2] + "\n"
            "@http GET https://api.example.com/nodes -> 200 " + body + "\n"
            "@http GET https://api.example.com/small -> 200 [[],[],[]]\n"
            "> +15550001 get\n< status 200, %d bytes, json nil\n"
            "> small\n< json table 3\n> +15550002 ping\n< pong\n" % len(body))
EOF
attack "$nodes/json_nodes.chat" 5000 32 \
  "a 16 MB JSON response of 5.6 million tiny values: res.json refused before it is parsed"

summary
