#!/bin/sh
# Runs every suite and ends with one line: N passed, N failed (skipped tests,
# if any, are counted on the line before it, not as passed).
# Each suite prints TAP-like lines and its own "N passed, N failed" summary;
# a suite that crashes or prints no summary counts as one failure.
set -u
cd "$(dirname "$0")/.."
PARLEY=${PARLEY:-./parley}
BUILD=${BUILD:-build}
export PARLEY
. tests/suite.sh

for t in "$BUILD"/test_*; do
  [ -x "$t" ] || continue
  suite "unit: ${t#"$BUILD"/}" "$t"
done
# the engine's own tests again with two workers (threads on a file store)
for t in test_engine test_waiting; do
  suite "unit: $t, 2 engine workers (PARLEY_ENGINE_THREADS=2)" \
    env PARLEY_ENGINE_THREADS=2 "$BUILD/$t"
done
# the engine's and the outbox store's tests and the transcripts again on
# PostgreSQL: a throwaway server (tests/pg_server.sh), an empty database for
# each run (each transcript: its own)
if pg=$(sh tests/pg_server.sh start $$ 2>&1); then
  eval "$pg"
  for run in "test_engine 1" "test_engine 2" "test_outbox_store 1"; do
    set -- $run
    db="${1}_$2"
    psql "$PG_URL" -qc "create database $db" >/dev/null 2>&1
    suite "unit: $1 on PostgreSQL, $2 engine worker(s)" \
      env PARLEY_ENGINE_THREADS="$2" PARLEY_TEST_DB="${PG_URL%/*}/$db" "$BUILD/$1"
  done
  for workers in 1 2; do
    suite "transcripts on PostgreSQL, $workers engine worker(s): scripts/ examples/ tests/chat/" \
      env PARLEY_ENGINE_THREADS=$workers "$PARLEY" test --db "$PG_URL" scripts examples tests/chat
  done
  sh tests/pg_server.sh stop "$PG_DIR"
else
  suite "a PostgreSQL server for the engine's tests" \
    sh -c 'printf "not ok 1 - tests/pg_server.sh start\n%s\n0 passed, 1 failed\n" "$1"' sh "$pg"
fi
# transcripts are deterministic whatever the number of engine workers
suite "transcripts, 1 engine worker (PARLEY_ENGINE_THREADS=1): scripts/ examples/ tests/chat/" \
  env PARLEY_ENGINE_THREADS=1 "$PARLEY" test scripts examples tests/chat
suite "transcripts, 2 engine workers (PARLEY_ENGINE_THREADS=2): scripts/ examples/ tests/chat/" \
  env PARLEY_ENGINE_THREADS=2 "$PARLEY" test scripts examples tests/chat
suite "hostile scripts: tests/hostile/" "$PARLEY" test tests/hostile
suite "the pattern matcher against Lua 5.4.4's (runtime/lua/lua_pattern.diff)" sh tests/pattern_diff.sh
suite "the layer check: runtime/layers.py on tiny trees (tests/layers.sh)" sh tests/layers.sh
suite "the fake Graph API's own checks (tests/fake/test_fake_graph.py)" \
  env PYTHONDONTWRITEBYTECODE=1 python3 tests/fake/test_fake_graph.py
for t in tests/e2e/*.sh; do
  [ -f "$t" ] || continue
  suite "e2e: $t" sh "$t"
done

skip_line
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
