#!/bin/sh
# The layer check make runs (runtime/layers.py) on tiny trees of two layers,
# low below high, built in a temporary folder: a clean tree passes; a low
# file that includes a high header, a low object that uses a high symbol and
# a header name in both layers, and a circle inside a layer that
# runtime/circles.txt does not list, are each refused (exit status not 0) with a
# message naming the file (or the header) at fault.
cd "$(dirname "$0")/.." || exit 1
check_script=$(pwd)/runtime/layers.py
. tests/e2e/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CC=${CC:-cc}

# tree NAME: an empty tree $tmp/NAME (runtime/low, runtime/high, build/...)
tree() {
  t=$tmp/$1
  mkdir -p "$t/runtime/low" "$t/runtime/high" "$t/build/low" "$t/build/high"
}

# file PATH: stdin into $t/PATH
file() { cat >"$t/$1"; }

# compile: every .c of the tree into build/LAYER/NAME.o, as make does
compile() {
  for c in "$t"/runtime/*/*.c; do
    rel=${c#"$t"/runtime/}
    "$CC" -c -Iruntime/low -Iruntime/high -o "build/${rel%.c}.o" "runtime/$rel" 2>>"$t/cc.err" ||
      return 1
  done
}

# run_check: runtime/layers.py on the tree, its output in $out, status in $rc
run_check() {
  out=$(cd "$t" && compile && python3 "$check_script" build low high 2>&1)
  rc=$?
}

# the clean tree: high includes and calls low, low calls nothing above it
clean_tree() {
  tree "$1"
  file runtime/low/low.h <<'EOF'
int low_value(void);
EOF
  file runtime/low/low.c <<'EOF'
#include "low.h"
int low_value(void) { return 1; }
EOF
  file runtime/high/high.h <<'EOF'
int high_value(void);
EOF
  file runtime/high/high.c <<'EOF'
#include "high.h"
#include "low.h"
int high_value(void) { return low_value() + 1; }
EOF
}

clean_tree clean
run_check
result "$rc" "a clean tree passes (high includes and calls low)" "exit $rc; output: $out"

clean_tree include_up
file runtime/low/low.c <<'EOF'
#include "low.h"
#include "high.h"
int low_value(void) { return 1; }
EOF
run_check
[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q 'runtime/low/low\.c (low) includes high\.h of high, a layer above it'
result $? "a low file that includes a high header is refused, naming the file and the header" \
  "exit $rc; output: $out"

clean_tree symbol_up
file runtime/low/low.c <<'EOF'
#include "low.h"
int high_value(void); /* declared by hand: no include gives it away */
int low_value(void) { return high_value() - 1; }
EOF
run_check
[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q 'build/low/low\.o (low) uses high_value, defined in build/high/high\.o (high), a layer above it'
result $? "a low object that uses a high symbol is refused, naming the object and the symbol" \
  "exit $rc; output: $out"

clean_tree same_header
file runtime/high/low.h <<'EOF'
int another_low_value(void);
EOF
run_check
[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q 'runtime/low/low\.h and runtime/high/low\.h: two headers named low\.h'
result $? "a header name in two layers is refused, naming the header and the layers" \
  "exit $rc; output: $out"

clean_tree listed
file runtime/low/low.c <<'EOF'
#include "low.h"
#include "high.h"
int low_value(void) { return high_value() - 1; }
EOF
run_check
[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q '^layers: the layers, lowest first: low, high'
result $? "a refusal lists the layers, lowest first" "exit $rc; output: $out"

# two objects of one layer that use each other: refused unless
# runtime/circles.txt lists them; a listed circle that is gone is refused too
circle_tree() {
  clean_tree "$1"
  file runtime/low/other.c <<'EOF'
#include "low.h"
int other_value(void);
int other_value(void) { return low_value() + 2; }
EOF
  file runtime/low/low.c <<'EOF'
#include "low.h"
int other_value(void);
int low_value(void) { return other_value() > 0; }
EOF
}
circle_tree circle
run_check
[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q 'a circle runtime/circles.txt does not list: low/low low/other use each other'
result $? "two objects of one layer using each other are refused, naming both" "exit $rc; output: $out"

circle_tree circle_listed
echo "low/other low/low  # what is left to untangle" | file runtime/circles.txt
run_check
result "$rc" "a circle runtime/circles.txt lists passes" "exit $rc; output: $out"

clean_tree circle_gone
echo "low/low high/high" | file runtime/circles.txt
run_check
[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q 'runtime/circles.txt lists high/high low/low, no longer a circle: remove the line'
result $? "a listed circle that is gone is refused: the list stays exact" "exit $rc; output: $out"

summary
