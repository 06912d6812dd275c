# Sourced by tests/run.sh and tests/tsan.sh:
#   suite NAME COMMAND...  runs COMMAND (a suite: TAP-like lines and its own
#                          "N passed, N failed" summary), prints its output
#                          and adds its counts to total_pass and total_fail;
#                          a suite that crashes or prints no summary counts
#                          as one failure
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
