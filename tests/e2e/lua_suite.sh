#!/bin/sh
# Lua inside the sandbox is Lua: files of Lua 5.4.4's own test suite, read
# from ../shared/lua-5.4.4-tests/testes/ beside the repository, each run in
# a bot handler and in plain Lua (Debian's lua5.4), both with the same cuts
# (tests/lua_suite/cuts.txt: only lines that use what the sandbox removes on
# purpose). A file passes when plain Lua says "ok" and the handler answers
# the same. The suite's files are never copied into the repository.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
LUA=${LUA:-lua5.4}
testes=${LUA_TESTES:-$(pwd)/../shared/lua-5.4.4-tests/testes}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh

if [ ! -d "$testes" ]; then
  bail "Lua 5.4.4's test suite is at $testes" \
    "missing: put (or mount) it at ../shared/lua-5.4.4-tests beside the repository"
fi
if ! command -v "$LUA" >/dev/null 2>&1; then
  bail "plain Lua ($LUA) is installed" "missing: install Debian's lua5.4 (make deps)"
fi

while read -r name sum; do
  case $name in '#'* | '') continue ;; esac
  file="$testes/$name"
  got=$(sha256sum "$file" 2>/dev/null | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    result 1 "$name: the file of Lua 5.4.4's suite the cuts were written for" \
      "sha256 ${got:-(no file)}, expected $sum"
    continue
  fi
  plain=$("$LUA" tests/lua_suite/make.lua plain "$testes" "$name" 2>&1 | tail -n 1)
  bot="$tmp/${name%.lua}"
  mkdir -p "$bot"
  if ! "$LUA" tests/lua_suite/make.lua bot "$testes" "$name" "$bot" >"$tmp/make.out" 2>&1; then
    result 1 "$name: the bot is written" "$(cat "$tmp/make.out")"
    continue
  fi
  out=$("$PARLEY" test "$bot" 2>&1)
  rc=$?
  [ "$plain" = ok ] && [ "$rc" -eq 0 ]
  result $? "$name: in a handler as in plain Lua ($plain)" \
    "plain Lua: $plain
handler: $out"
done < tests/lua_suite/files.txt

summary
