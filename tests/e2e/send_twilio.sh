#!/bin/sh
# Outbound delivery through a local fake of Twilio's REST API: format and
# auth of each request, retries of 429 and 500, status callbacks and
# bot.on_status, carrier opt-outs (21610) and invalid numbers (21211),
# replies ahead of a broadcast, and a SIGKILL with requests in flight.
# The work is done by tests/e2e/send/twilio.py; the fake is
# $BUILD/fake_twilio (make test builds it).
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh
[ -x "$BUILD/fake_twilio" ] || bail "$BUILD/fake_twilio is built (make $BUILD/fake_twilio)"
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/send/twilio.py --parley "$PARLEY" \
  --fake "$BUILD/fake_twilio" --dir "$tmp"
