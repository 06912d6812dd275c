#!/bin/sh
# The WhatsApp channel end to end, against a local fake of Meta's Graph API
# (tests/fake/fake_graph.py): the verify handshake, signed deliveries
# answered through the Cloud API, a tampered signature refused with nothing
# stored, a retried wamid handled once, buttons, statuses, STOP, and the
# 24-hour window across a restart. The work is done by
# tests/e2e/send/whatsapp.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/send/whatsapp.py --parley "$PARLEY" --dir "$tmp"
