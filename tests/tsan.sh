#!/bin/sh
# make test-tsan: the code that runs on several threads, built with
# ThreadSanitizer (build-tsan/): the unit tests named as arguments (those
# that start the engine's threads) and the e2e tests that load a server from
# parallel clients with several engine workers, kill it, reload it, wait for
# HTTP in handlers and send through the sender's thread. Every
# ThreadSanitizer report is a failure of the suite it came from; the
# reports, whole, are kept in $BUILD/tsan-reports/. Ends with one line:
# N passed, N failed.
set -u
cd "$(dirname "$0")/.."
PARLEY=${PARLEY:-build-tsan/parley}
BUILD=${BUILD:-build-tsan}
export PARLEY BUILD
# test_waiting leaves out its cases of hundreds of MB (shadow memory)
export PARLEY_SANITIZED=thread
reports="$(pwd)/$BUILD/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports/new"
# every process writes its reports to a file of its own (tsan.PID); it goes
# on after a report (so one run shows them all) and exits 66 at the end
export TSAN_OPTIONS="log_path=$reports/new/tsan exitcode=66 second_deadlock_stack=1"
. tests/suite.sh
nsuite=0

# tsan_suite NAME COMMAND...: suite, then one failure per report it left
tsan_suite() {
  suite "$@"
  nsuite=$((nsuite + 1))
  kept="$reports/$nsuite-$(printf '%s' "$1" | sed 's/.*: //; s#.*/##')"
  for f in "$reports"/new/tsan.*; do
    [ -f "$f" ] || continue
    mkdir -p "$kept"
    mv "$f" "$kept/"
    f="$kept/${f##*/}"
    found=$(grep -c '^SUMMARY: ThreadSanitizer' "$f")
    if [ "$found" -eq 0 ]; then # a fatal report (a thread after fork, ...)
      echo "not ok - $1: ThreadSanitizer: $(grep -m 1 -v '^=*$' "$f") (${f#"$reports"/})"
      total_fail=$((total_fail + 1))
      continue
    fi
    grep '^SUMMARY: ThreadSanitizer' "$f" | while IFS= read -r line; do
      echo "not ok - $1: ${line#SUMMARY: } (${f#"$reports"/})"
    done
    total_fail=$((total_fail + found))
    # the first report's stacks, to read here
    sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY/p' "$f" | head -n 40 | sed 's/^/#   /'
  done
}

for t in "$@"; do
  tsan_suite "unit (ThreadSanitizer): $t, 2 engine workers" env PARLEY_ENGINE_THREADS=2 "$BUILD/$t"
done
for t in tests/e2e/workers.sh tests/e2e/crash.sh tests/e2e/reload.sh tests/e2e/lua_http.sh \
  tests/e2e/send_twilio.sh; do
  tsan_suite "e2e (ThreadSanitizer): $t" sh "$t"
done

rmdir "$reports/new" 2>/dev/null
skip_line
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
