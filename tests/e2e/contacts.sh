#!/bin/sh
# Contacts in bulk: CSV and JSON lines imported through the admin API and
# `parley contacts import` (fields merged, tags added, E.164 numbers, the
# consent ledger, per-row errors, idempotent re-runs, an opt-out kept), CSV
# exported and imported back, and all of it still there after a restart;
# segments by range in the contacts and broadcasts endpoints.
# The work is done by tests/e2e/contacts/contacts.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/contacts/contacts.py --parley "$PARLEY" --dir "$tmp"
