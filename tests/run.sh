#!/bin/sh
# Runs every suite and ends with one line: N passed, N failed.
# Each suite prints TAP-like lines and its own "N passed, N failed" summary;
# a suite that crashes or prints no summary counts as one failure.
set -u
cd "$(dirname "$0")/.."
PARLEY=${PARLEY:-./parley}
BUILD=${BUILD:-build}
export PARLEY
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

suite() {
  name=$1
  shift
  echo "== $name"
  "$@" >"$log" 2>&1
  status=$?
  cat "$log"
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "not ok - $name: exited with status $status and printed no summary"
    total_fail=$((total_fail + 1))
    return
  fi
  p=$(echo "$summary" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/')
  f=$(echo "$summary" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/')
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $name: exited with status $status"
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}

for t in "$BUILD"/test_*; do
  [ -x "$t" ] || continue
  suite "unit: ${t#"$BUILD"/}" "$t"
done
suite "transcripts: scripts/ examples/ tests/chat/" "$PARLEY" test scripts examples tests/chat
suite "hostile scripts: tests/hostile/" "$PARLEY" test tests/hostile
for t in tests/e2e/*.sh; do
  [ -f "$t" ] || continue
  suite "e2e: $t" sh "$t"
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
