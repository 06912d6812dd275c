#!/bin/sh
# The console (docs/console.md) in headless Chromium: sign-in, the inbox
# live, a conversation, hostile texts shown as text, CSRF, an operator's
# bots, a session over a restart, sign-out. The work is done by
# tests/e2e/console/console.py (Selenium, Debian's python3-selenium, which
# only the system's python3 has); screenshots go to build/console-shots/.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
shots=${CONSOLE_SHOTS:-build/console-shots}
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 tests/e2e/console/console.py --parley "$PARLEY" \
  --dir "$tmp" --shots "$shots" --fake "${BUILD:-build}/fake_twilio"
