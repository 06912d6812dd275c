#!/bin/sh
# Hostile bots that attack at LOAD time, checked with `parley check` on the
# bot folders in tests/hostile/load/ (they have no tests/ folder, so
# `parley test tests/hostile` does not pick them up), followed by resource
# ceilings for handlers: transcripts run with `parley test` under an
# address-space cap (ulimit -v) and a wall-clock bound, for the attacks whose
# harm a transcript cannot see (host memory, time past the limit).
#
# Prints "ok N - ..." / "not ok N - ..." per case and "N passed, N failed";
# exits 1 if any case failed. Runs from anywhere: it changes to the repository
# root.
cd "$(dirname "$0")/../.." || exit 1

PARLEY=${PARLEY:-./parley}
LOAD=tests/hostile/load
GUARD=tests/hostile/guard
HOSTILE=tests/hostile
MEM_CAP_KB=1000000 # 1 GB of address space for the guarded runs

. tests/e2e/lib/tap.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT

shown() { head -c 600 "$out" | tr -d '\000'; }

# status_word RC: a readable name for an exit status
status_word() {
  case $1 in
    124) echo "124 (timed out after 20 s: a hang)" ;;
    134) echo "134 (SIGABRT: the process aborted)" ;;
    137) echo "137 (SIGKILL)" ;;
    139) echo "139 (SIGSEGV: the process crashed)" ;;
    *) echo "$1" ;;
  esac
}

# check_fails NAME MAX_SECONDS REGEX DESCRIPTION
# `parley check` on $LOAD/NAME must exit 1 within MAX_SECONDS, printing a line
# that matches the extended regex REGEX.
check_fails() {
  name=$1 max=$2 re=$3 desc=$4
  if [ ! -f "$LOAD/$name/bot.lua" ]; then
    not_ok "$desc" "missing $LOAD/$name/bot.lua"
    return
  fi
  start=$(date +%s)
  (
    timeout 20 "$PARLEY" check "$LOAD/$name"
    exit $?
  ) >"$out" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  if [ "$rc" -ne 1 ]; then
    not_ok "$desc" "exit status $(status_word "$rc"), expected 1; output: $(shown)"
  elif ! grep -Eq -- "$re" "$out"; then
    not_ok "$desc" "no line matches /$re/; output: $(shown)"
  elif [ "$secs" -gt "$max" ]; then
    not_ok "$desc" "took ${secs}s, more than ${max}s"
  else
    ok "$desc"
  fi
}

# check_survives NAME MAX_SECONDS DESCRIPTION
# `parley check` on $LOAD/NAME must end by itself within MAX_SECONDS, with a
# verdict (exit 0 or 1): no hang, no crash, no abort.
check_survives() {
  name=$1 max=$2 desc=$3
  start=$(date +%s)
  (
    timeout 20 "$PARLEY" check "$LOAD/$name"
    exit $?
  ) >"$out" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    not_ok "$desc" "exit status $(status_word "$rc"); output: $(shown)"
  elif grep -q 'unprotected Lua error' "$out"; then
    not_ok "$desc" "an unprotected Lua error; output: $(shown)"
  elif [ "$secs" -gt "$max" ]; then
    not_ok "$desc" "took ${secs}s, more than ${max}s"
  else
    ok "$desc"
  fi
}

# Can this shell cap a child's address space? (ulimit -v is not POSIX; dash,
# bash and busybox have it.) Without a cap the memory guards are skipped:
# against a vulnerable runtime they would try to allocate tens of gigabytes.
# A sanitizer build (make test-asan sets PARLEY_SANITIZED) reserves terabytes
# of address space and runs several times slower: the guards do not apply.
if [ -n "${PARLEY_SANITIZED:-}" ]; then
  sanitized=1
else
  sanitized=0
fi
if [ "$sanitized" -eq 0 ] && (ulimit -v "$MEM_CAP_KB") 2>/dev/null; then
  have_cap=1
else
  have_cap=0
fi

# guarded TRANSCRIPT MAX_SECONDS NEEDS_CAP DESCRIPTION
# `parley test TRANSCRIPT` must pass, under a MEM_CAP_KB address-space cap,
# within MAX_SECONDS. NEEDS_CAP=1: skipped when no cap can be set.
guarded() {
  file=$1 max=$2 needs_cap=$3 desc=$4
  if [ ! -f "$file" ]; then
    not_ok "$desc" "missing $file"
    return
  fi
  if [ "$sanitized" -eq 1 ]; then
    skip "$desc" "sanitizer build (no memory cap, slower clock)"
    return
  fi
  if [ "$have_cap" -eq 0 ] && [ "$needs_cap" -eq 1 ]; then
    skip "$desc" "this shell cannot cap memory (ulimit -v)"
    return
  fi
  start=$(date +%s)
  # ("exit $?" keeps the shell from exec'ing timeout in the subshell, which
  # would make this shell print "Aborted" for a crash)
  (
    if [ "$have_cap" -eq 1 ]; then ulimit -v "$MEM_CAP_KB"; fi
    timeout 20 "$PARLEY" test "$file"
    exit $?
  ) >"$out" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  if [ "$rc" -ne 0 ] || ! grep -q '^1 passed, 0 failed' "$out"; then
    not_ok "$desc" "exit status $(status_word "$rc"); output: $(shown)"
  elif [ "$secs" -gt "$max" ]; then
    not_ok "$desc" "took ${secs}s, more than ${max}s"
  else
    ok "$desc"
  fi
}

if [ ! -x "$PARLEY" ]; then
  bail "$PARLEY is missing: run make parley first"
fi

# ---------------------------------------------------------------- load time

check_fails 01_top_level_loop 5 \
  "^$LOAD/01_top_level_loop/bot\.lua:4: .*limit exceeded" \
  "an infinite loop at the top level fails within seconds with 'limit exceeded'"
check_fails 02_syntax_error 5 \
  "^$LOAD/02_syntax_error/bot\.lua:5: .*near '='" \
  "a syntax error is reported as path/bot.lua:LINE: ..."
check_fails 03_config_bogus 5 \
  "^$LOAD/03_config_bogus/bot\.lua:3: .*unknown key 'bogus'" \
  "bot.config{ bogus = 1 } names 'bogus'"
check_fails 04_config_memory_lots 5 \
  "$LOAD/04_config_memory_lots/bot\.lua(:3)?: .*limits\.memory.*'lots'" \
  "bot.config{ limits = { memory = \"lots\" } } is an error naming it (no crash)"
check_fails 05_expect_nope 5 \
  "^$LOAD/05_expect_nope/bot\.lua:8: .*expect\('nope'\) names no handler" \
  "c:expect('nope') without a handler named nope is reported as file:line"
check_fails 06_io_open 5 \
  "^$LOAD/06_io_open/bot\.lua:4: .*'io'" \
  "io.open at the top level is an error naming io"
check_fails 07_require_path 5 \
  "^$LOAD/07_require_path/bot\.lua:4: require: bad module name '\.\./\.\./etc'" \
  "require('../../etc') is refused as a bad module name"
check_survives 08_limits_index_loop 5 \
  "a limits table whose __index loops: check ends on its own (no hang)"
check_survives 09_limits_index_error 5 \
  "a limits table whose __index raises: check ends with a verdict (no abort)"
check_fails 10_limits_instructions_bad 5 \
  "$LOAD/10_limits_instructions_bad/bot\.lua(:3)?: .*limits\.instructions" \
  "limits.instructions = 5 is an error naming it (no crash)"
check_fails 11_shared_coroutine 5 \
  "a coroutine created while the script loads would be shared" \
  "a coroutine created at the top level is refused"
check_fails 12_require_internal 5 \
  "^$LOAD/12_require_internal/bot\.lua:4: .*module 'internal\.sandbox' not found" \
  "require('internal.sandbox') does not reach the runtime's prelude"
check_fails 13_load_memory_bomb 5 \
  "memory limit exceeded" \
  "a memory bomb at the top level fails promptly with 'memory limit exceeded'"
check_fails 14_gc_at_load 5 \
  "^$LOAD/14_gc_at_load/bot\.lua:5: .*__gc metamethods are not allowed" \
  "a __gc finalizer planted at load time is refused"

check_fails 20_rawset_bot 5 \
  "^$LOAD/20_rawset_bot/bot\.lua:6: rawset: this table is frozen" \
  "rawset on the bot table at the top level is refused (a planted field would be shared)"
check_fails 21_gmatch_iterator 5 \
  "^$LOAD/21_gmatch_iterator/bot\.lua:7: a string\.gmatch iterator created while the script loads would be shared by all conversations .*upvalue 'next_word'" \
  "a string.gmatch iterator made at the top level is refused, naming where it was found"
check_fails 22_coroutine_wrap 5 \
  "^$LOAD/22_coroutine_wrap/bot\.lua:12: a coroutine\.wrap function created while the script loads would be shared .*upvalue 'counter'" \
  "a coroutine.wrap function made at the top level is refused"
check_fails 23_on_status_coroutine 5 \
  "a coroutine created while the script loads would be shared by all conversations .*bot\.on_status.*upvalue 'worker'" \
  "what only the bot.on_status function captures goes through the freeze (a coroutine there is refused)"
check_fails 24_drip_args_function 5 \
  "^$LOAD/24_drip_args_function/bot\.lua:8: bot\.drip\('d'\) step 1: args\.next: a function cannot be stored" \
  "a drip step's args must be data (a function with state there is refused)"
check_fails 25_gmatch_in_metatable 5 \
  "a string\.gmatch iterator created while the script loads would be shared .*its metatable > field '__index' > field 'next'" \
  "a stateful C function hidden in a metatable's __index table is found and refused"

timeout 20 "$PARLEY" check "$LOAD/15_ok_control" >"$out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q ': ok (bot ' "$out"; then
  ok "control: a well-formed bot passes check"
else
  not_ok "control: a well-formed bot passes check" "exit status $(status_word "$rc"); output: $(shown)"
fi

# ---------------------------------------------------------------- handlers: resource ceilings

guarded "$GUARD/01_encode_bomb.transcript" 5 1 \
  "state/store holding a 4 MB string 5000 times: refused within a 1 GB address space, in 5 s"
guarded "$GUARD/02_log_flood.transcript" 5 1 \
  "3 GB of bot.log lines from one handler: stopped within a 1 GB address space"
guarded "$GUARD/03_slow_c_calls.transcript" 4 0 \
  "uncharged O(n) C calls in a loop (utf8.len of 120 MB): stopped near the 1 s limit (4 s allowed)"
guarded "$HOSTILE/08_rep_empty_string/tests/attack.chat" 3 0 \
  "string.rep('', 3e8) ends quickly (3 s for the transcript)"
guarded "$HOSTILE/09_table_move_range/tests/attack.chat" 3 0 \
  "table.move over 3e7 slots ends quickly (3 s for the transcript)"
guarded "$HOSTILE/10_pattern_backtracking/tests/attack.chat" 3 0 \
  "catastrophic pattern backtracking is stopped quickly (3 s for the transcript)"
guarded "$HOSTILE/32_pcall_memory_loop/tests/attack.chat" 3 0 \
  "memory bombs swallowed by pcall in a loop are stopped quickly (3 s for the transcript)"

summary
