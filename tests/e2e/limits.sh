#!/bin/sh
# One client cannot starve the others: idle and slow connections, bodies
# sent before credentials, and compressed archives that unpack past their
# caps, each while other clients are being answered. The work is done by
# tests/e2e/limits/limits.py (python3, standard library); it opens up to
# 1,100 sockets on 127.0.0.1 (it raises its own open-files limit for them,
# as `parley serve` raises its own).
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
cleanup() {
  for f in "$tmp"/*.pid; do
    [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
. tests/e2e/lib/require.sh
require_tools python3
unset PARLEY_DB PARLEY_SCRIPTS PARLEY_LISTEN PARLEY_PUBLIC_URL PARLEY_MAX_BODY \
  PARLEY_MAX_CONNECTIONS PARLEY_MAX_CONNECTIONS_PER_ADDRESS PARLEY_REQUEST_DEADLINE_MS \
  PARLEY_MAX_BODY_MEMORY PARLEY_TWILIO_AUTH_TOKEN PARLEY_WEBHOOK_TOKEN PARLEY_WEBHOOK_SECRET \
  PARLEY_ADMIN_TOKEN
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/limits/limits.py --parley "$PARLEY" --dir "$tmp"
