#!/bin/sh
# What a user ships over HTTP survives a restart (SIGTERM and SIGKILL): the
# active version, a rollback, a bot created by PUT and its timers; a folder
# changed while the server was down goes through the reload gate; every
# reload runs the bot's transcripts; a number belongs to one bot. The work is
# done by tests/e2e/deploy/deploy.py.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/deploy/deploy.py --parley "$PARLEY" --dir "$tmp"
