#!/bin/sh
# A reload shows what changes: real messages replayed on the running and the
# new version (a changed reply, an identical version with an empty report, a
# version that fails on a message only real fans sent: refused, the old one
# stays active, unless --accept-errors; --dry-run activates nothing; a
# request's recorded answer, and one with none). The work is done by
# tests/e2e/replay/replay.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/replay/replay.py --parley "$PARLEY" --dir "$tmp"
