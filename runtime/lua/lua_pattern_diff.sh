#!/bin/sh
# Prints the difference between the pattern-matching section of Lua 5.4.4's
# lstrlib.c and runtime/lua/lua_pattern.c (the bounded copy of it), as a
# unified diff with the whole files for context: runtime/lua/lua_pattern.diff
# is its output, kept in the repo so every change to Lua's code is visible.
# `make pattern-diff` rewrites it; tests/pattern_diff.sh checks that it still
# describes lua_pattern.c (its new side is that file, line for line).
#
#   lua_pattern_diff.sh [LUA_SOURCE_TARBALL]
#
# Without an argument, downloads Debian's lua5.4 5.4.4 source (the Lua this
# runs on: liblua5.4-dev) and checks its SHA-256.
set -eu
URL=http://deb.debian.org/debian/pool/main/l/lua5.4/lua5.4_5.4.4.orig.tar.gz
SHA256=164c7849653b80ae67bec4b7473b884bf5cc8d2dca05653475ec2ed27b9ebf61
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 1 ]; then
  cp "$1" "$tmp/lua.tar.gz"
else
  curl -sSfL -o "$tmp/lua.tar.gz" "$URL"
fi
echo "$SHA256  $tmp/lua.tar.gz" | sha256sum -c --quiet - >&2 || {
  echo "lua_pattern_diff.sh: not Lua 5.4.4's source (SHA-256 differs)" >&2
  exit 1
}
tar xzf "$tmp/lua.tar.gz" -C "$tmp" lua-5.4.4/src/lstrlib.c
# the section from the line before "PATTERN MATCHING" to its closing line
awk '/^\*\* PATTERN MATCHING/ { on = 1; print prev } on { print } on && /^\/\* }=+ \*\/$/ { exit } { prev = $0 }' \
  "$tmp/lua-5.4.4/src/lstrlib.c" > "$tmp/section.c"
[ -s "$tmp/section.c" ] || { echo "lua_pattern_diff.sh: no PATTERN MATCHING section in lstrlib.c" >&2; exit 1; }
n=$(wc -l < "$here/lua_pattern.c")
m=$(wc -l < "$tmp/section.c")
ctx=$(( (n > m ? n : m) + 1 ))
diff -U "$ctx" --label "lstrlib.c (Lua 5.4.4: the PATTERN MATCHING section)" \
  --label "runtime/lua/lua_pattern.c" "$tmp/section.c" "$here/lua_pattern.c" || [ $? -eq 1 ]
