#!/bin/sh
# runtime/lua/lua_pattern.diff (Lua 5.4.4's pattern matching -> our bounded
# copy, with the whole files for context) still describes
# runtime/lua/lua_pattern.c: its new side is that file, line for line. When
# this fails, run `make pattern-diff` and read what changed against Lua.
cd "$(dirname "$0")/.."
diff=runtime/lua/lua_pattern.diff
src=runtime/lua/lua_pattern.c
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
pass=0
fail=0
check() { # check NAME COMMAND...
  name=$1
  shift
  if "$@"; then pass=$((pass + 1)); echo "ok $((pass + fail)) - $name"
  else fail=$((fail + 1)); echo "not ok $((pass + fail)) - $name"; fi
}
echo "1..3"
check "$diff compares with $src" sh -c "head -2 $diff | grep -q '^+++ runtime/lua/lua_pattern.c\$'"
check "one hunk: the whole files are its context" test "$(grep -c '^@@ ' "$diff")" = 1
tail -n +4 "$diff" | sed -n 's/^[ +]//p' > "$tmp"
check "its new side is $src as it is now (else: make pattern-diff)" cmp -s "$tmp" "$src"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
