#!/bin/sh
# Hot reload under load: while 6 clients post JSON webhook messages, the bot
# is reloaded 15 times over HTTP. No message is lost or handled twice, and
# none runs half on one version and half on another. The work is done by
# tests/e2e/reload/reload.py (python3, standard library).
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
cleanup() {
  if [ -s "$tmp/server.pid" ]; then kill -KILL "$(cat "$tmp/server.pid")" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
. tests/e2e/lib/require.sh
require_tools python3 sqlite3
port=$((10000 + ($$ * 3 + 7919) % 20000))
export PARLEY_WEBHOOK_TOKEN=reload-hook-1 PARLEY_ADMIN_TOKEN=reload-admin-2
unset PARLEY_DB PARLEY_SCRIPTS PARLEY_LISTEN PARLEY_PUBLIC_URL PARLEY_MAX_BODY
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/reload/reload.py --parley "$PARLEY" --port "$port" --dir "$tmp"
