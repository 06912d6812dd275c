#!/bin/sh
# The Messenger and Instagram channels end to end, against the fake Graph
# API (tests/fake/fake_graph.py). The work is done by
# tests/e2e/send/messenger.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/send/messenger.py --parley "$PARLEY" --dir "$tmp"
