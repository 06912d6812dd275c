#!/bin/sh
# Bad input gets a clear 4xx and changes nothing: NUL bytes and invalid
# UTF-8 in URLs, fields and tags past the stored-data limits, times that
# overflow, a provider id sent again from another number; an event's answer
# says what its handler did; refused credentials are logged on every
# endpoint. The work is done by tests/e2e/input/input.py (python3, standard
# library).
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
. tests/e2e/lib/require.sh
require_tools python3
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/input/input.py --parley "$PARLEY" --dir "$tmp"
