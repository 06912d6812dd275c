#!/bin/sh
# Tracked links: a broadcast with {{link "URL"}} gives each contact a short
# link of its own; visits are sent on (302) and recorded, a link preview's
# flagged; the counts, the clicks, the clicked segment and bot.on_click;
# c:link; an unknown code is 404; all of it still there after a restart;
# link_url moves the links' base. The work is done by tests/e2e/links/links.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/links/links.py --parley "$PARLEY" --dir "$tmp"
