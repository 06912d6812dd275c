# Sourced by the shell e2e tests: TAP lines counted, and the summary line
# tests/run.sh adds up.
#
#   result STATUS DESCRIPTION [DETAIL]   STATUS 0 is a pass (like an exit
#                                        status); DETAIL is shown on a failure
#   check DESCRIPTION WANT REGEX COMMAND...
#                                        COMMAND exits WANT and its output
#                                        (stdout and stderr) has a line that
#                                        matches the extended REGEX
#   check_text DESCRIPTION WANT TEXT COMMAND...
#                                        the same with a fixed text
#   skip DESCRIPTION REASON              "ok N - DESCRIPTION # SKIP REASON"
#                                        (TAP): counted as skipped, not
#                                        passed
#   summary                              "N passed, N failed" (and ", N
#                                        skipped" when some were); its
#                                        status is 0 when nothing failed
#   bail DESCRIPTION [DETAIL]            a failure, the summary, exit 1
# check and check_text leave the command's output in $out, its status in $rc.
# (Sourced twice, by a test and by require.sh, it counts on.)
if [ -z "${tap_sourced:-}" ]; then
  tap_sourced=1
  n=0
  pass=0
  fail=0
  skipped=0
fi

result() {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
    pass=$((pass + 1))
  else
    echo "not ok $n - $2"
    if [ -n "${3:-}" ]; then printf '%s\n' "$3" | head -c 2000 | sed 's/^/#   /'; fi
    fail=$((fail + 1))
  fi
}

# check_output GREP_FLAG DESCRIPTION WANT PATTERN COMMAND...
check_output() {
  flag=$1 desc=$2 want=$3 pattern=$4
  shift 4
  out=$("$@" 2>&1)
  rc=$?
  [ "$rc" -eq "$want" ] && printf '%s\n' "$out" | grep "$flag" -q -- "$pattern"
  result $? "$desc" "exit $rc (wanted $want); output: $(printf '%s' "$out" | head -c 600)"
}

check() { check_output -E "$@"; }
check_text() { check_output -F "$@"; }

skip() {
  n=$((n + 1))
  echo "ok $n - $1 # SKIP $2"
  skipped=$((skipped + 1))
}

summary() {
  if [ "$skipped" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skipped skipped"
  else
    echo "$pass passed, $fail failed"
  fi
  [ "$fail" -eq 0 ]
}

bail() {
  result 1 "$1" "${2:-}"
  summary
  exit 1
}

# ok DESCRIPTION; not_ok DESCRIPTION DETAIL; expect DESCRIPTION GOT REGEX
# (GOT matches the extended REGEX).
ok() { result 0 "$1"; }
not_ok() { result 1 "$1" "$2"; }
expect() {
  printf '%s' "$2" | grep -Eq -- "$3"
  result $? "$1" "got: $(printf '%s' "$2" | head -c 400)"
}
