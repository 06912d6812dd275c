#!/bin/sh
# The layer check make runs before it links: runtime/ is one folder per layer,
# named lowest first in LAYERS, and arrows point down only.
#
#   layers.sh BUILD_DIR LAYER...
#
# Fails, naming the file and the header or the symbol, when
#   - a file includes a header of a layer above its own,
#   - two headers have the same name (every layer's folder and sub-folder is
#     on the include path, so the name alone must say which one),
#   - an object of one layer uses a function or a variable defined in a layer
#     above it (the link-level arrow: no layer calls up, so there is no circle
#     between layers).
# A layer's sub-folders (runtime/providers/twilio/) belong to that layer; a
# header's name is unique across the whole tree.
# Headers not in runtime/ (system headers, generated ones in BUILD_DIR) are
# not layers' and are not checked.
set -eu
build=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rank=0
for l in "$@"; do
  rank=$((rank + 1))
  echo "$l $rank"
done > "$tmp/ranks"
for l in "$@"; do
  for f in runtime/"$l"/*.h runtime/"$l"/*/*.h; do [ -e "$f" ] && echo "H $(basename "$f") $l $f"; done
  for f in runtime/"$l"/*.c runtime/"$l"/*.cc runtime/"$l"/*.h \
           runtime/"$l"/*/*.c runtime/"$l"/*/*.cc runtime/"$l"/*/*.h; do
    [ -e "$f" ] || continue
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
      while read -r inc; do echo "I $f $l $inc"; done
  done
done > "$tmp/facts"
# one nm over every object: "OBJECT: [ADDRESS] TYPE SYMBOL", U for a use
objects=$(for l in "$@"; do ls "$build/$l"/*.o "$build/$l"/*/*.o 2>/dev/null || :; done)
[ -z "$objects" ] || nm -A -g $objects | awk -v b="$build/" '{
  o = $1; sub(/:$/, "", o); l = substr(o, length(b) + 1); sub(/\/.*/, "", l)
  if ($2 == "U") print "U", o, l, $3; else if (NF == 3) print "D", $3, l
}' >> "$tmp/facts"
awk '
  FNR == NR { rank[$1] = $2; order = order (order ? ", " : "") $1; next }
  $1 == "H" { if ($2 in path) dup[$2] = path[$2] " and " $4; header[$2] = $3; path[$2] = $4; next }
  $1 == "D" { defined[$2] = $3; next }
  $1 == "I" { inc[++ni] = $0; next }
  $1 == "U" { use[++nu] = $0; next }
  END {
    bad = 0
    for (h in dup) { print "layers: two headers are named " h " (" dup[h] "): rename one"; bad = 1 }
    for (i = 1; i <= ni; i++) {
      split(inc[i], f, " ")
      if ((f[4] in header) && rank[header[f[4]]] > rank[f[3]]) {
        print "layers: " f[2] " (" f[3] ") includes " f[4] " of " header[f[4]] ", a layer above it"
        bad = 1
      }
    }
    for (i = 1; i <= nu; i++) {
      split(use[i], f, " ")
      if ((f[4] in defined) && rank[defined[f[4]]] > rank[f[3]]) {
        print "layers: " f[2] " (" f[3] ") uses " f[4] ", defined in " defined[f[4]] ", a layer above it"
        bad = 1
      }
    }
    if (bad) print "layers: the layers, lowest first: " order " (docs/architecture.md, the file map)"
    exit bad
  }' "$tmp/ranks" "$tmp/facts" >&2
