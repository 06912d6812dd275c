# Sourced by tests/run.sh and tests/tsan.sh:
#   suite NAME COMMAND...  runs COMMAND (a suite: TAP-like lines and its own
#                          "N passed, N failed" summary), prints its output
#                          and adds its counts to total_pass, total_fail
#                          and total_skip; a suite that crashes or prints no
#                          summary counts as one failure
# A skipped test (TAP: "ok N - DESCRIPTION # SKIP REASON") is counted as
# skipped, not passed: a summary "N passed, N failed, N skipped" has already
# left it out of its passes; one without "skipped" counted it as passed.
#   skip_line              the line of the total skips, printed before the
#                          last line "N passed, N failed" (nothing if none)
total_pass=0
total_fail=0
total_skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

suite() {
  name=$1
  shift
  echo "== $name"
  began=$(date +%s)
  "$@" >"$log" 2>&1
  status=$?
  cat "$log"
  echo "# $name: $(($(date +%s) - began)) s" # where the suite's time goes
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "not ok - $name: exited with status $status and printed no summary"
    total_fail=$((total_fail + 1))
    return
  fi
  p=$(echo "$summary" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/')
  f=$(echo "$summary" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/')
  s=$(grep -Eci '^ok( [0-9]+)? - .*# *skip([^a-z]|$)' "$log")
  case $summary in
    *" skipped"*) ;;
    *) p=$((p > s ? p - s : 0)) ;;
  esac
  total_skip=$((total_skip + s))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $name: exited with status $status"
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}

skip_line() {
  [ "$total_skip" -eq 0 ] || echo "$total_skip skipped (not counted as passed)"
}
