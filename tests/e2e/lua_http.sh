#!/bin/sh
# http.get/post from Lua against `parley serve` and a local HTTP service:
# a waiting handler does not block other conversations, ordering within the
# waiting one, POST bodies and headers, timeouts, size cap, redirects,
# private addresses, a reload and a SIGKILL while a handler waits. The work
# is done by tests/e2e/http/lua_http.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/http/lua_http.py --parley "$PARLEY" --dir "$tmp"
