# Sourced by the shell e2e tests that run parley serve:
#   start_server LOG ARGS...  starts `$PARLEY serve --listen 127.0.0.1:PORT
#                             ARGS...` on a free port (another test may hold
#                             the first one tried), its stderr appended to
#                             LOG; sets port, pid and up (1 once /healthz
#                             answers); its status is 0 when it is up
# Sourced after tmp is set: on exit the server ($pid) is stopped and $tmp
# removed.
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
tries=0
start_server() {
  log=$1
  shift
  up=0
  for attempt in 1 2 3 4 5 6; do
    tries=$((tries + 1))
    port=$((20000 + ($$ * 7 + tries * 1013) % 20000))
    "$PARLEY" serve --listen "127.0.0.1:$port" "$@" 2>>"$log" &
    pid=$!
    for _ in $(seq 1 100); do
      if curl -s -m 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then up=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    [ "$up" -eq 1 ] && return 0
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
  done
  return 1
}
