#!/bin/sh
# runtime/lua/lua_pattern.diff (Lua 5.4.4's pattern matching -> our bounded
# copy, with the whole files for context) still describes
# runtime/lua/lua_pattern.c: its new side is that file, line for line. When
# this fails, run `make pattern-diff` and read what changed against Lua.
cd "$(dirname "$0")/.." || exit 1
. tests/e2e/lib/tap.sh
diff=runtime/lua/lua_pattern.diff
src=runtime/lua/lua_pattern.c
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
head -2 "$diff" | grep -qx '+++ runtime/lua/lua_pattern.c'
result $? "$diff compares with $src"
hunks=$(grep -c '^@@ ' "$diff")
[ "$hunks" = 1 ]
result $? "one hunk: the whole files are its context" "$hunks hunks"
tail -n +4 "$diff" | sed -n 's/^[ +]//p' >"$tmp"
cmp -s "$tmp" "$src"
result $? "its new side is $src as it is now" "they differ: run make pattern-diff"
summary
