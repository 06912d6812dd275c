#!/bin/sh
# parley pull: a live conversation (an on_join with a drip, an expect, an
# http.get, a tracked link clicked, a handler error, a restart between)
# becomes a transcript that parley test plays again and passes, whole, from
# its middle, and masked (no real number in it). The work is done by
# tests/e2e/pull/pull.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/pull/pull.py --parley "$PARLEY" --dir "$tmp"
