#!/bin/sh
# Runs one of bench/hubot's scripts with node, Hubot 14 installed into
# bench/hubot/node_modules once (npm install). Exits 3, after a line saying
# why, when node or npm cannot be had or the install fails: make bench
# leaves the peer out then, and says so.
#
#   sh bench/hubot/peer.sh SCRIPT [ARGS...]    e.g. workload.mjs, server.mjs
#   sh bench/hubot/peer.sh --check             installs, runs nothing
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Hubot left out: needs node and npm"
  exit 3
fi
if [ ! -d "$here/node_modules/hubot" ]; then
  (cd "$here" && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || {
    echo "Hubot left out: npm install (bench/hubot) failed"
    exit 3
  }
fi
script=${1:?usage: peer.sh SCRIPT [ARGS...] | --check}
shift
[ "$script" != --check ] || exit 0
HUBOT_LOG_LEVEL=${HUBOT_LOG_LEVEL:-error} exec node "$here/$script" "$@"
