#!/bin/sh
# `parley segments`: one JSON count per stdin line, the line ending not part
# of the text; --help, and a sentence naming an unknown option.
cd "$(dirname "$0")/../.." || exit 1
PARLEY=${PARLEY:-./parley}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh

# description, printf format of the input, expected stdout (exactly)
counts() {
  printf "$2" > "$tmp/in"
  out=$("$PARLEY" segments < "$tmp/in" 2>"$tmp/err")
  rc=$?
  [ "$rc" -eq 0 ] && [ "$out" = "$3" ]
  result $? "$1" "exit $rc; expected $3; got $out $(head -c 300 "$tmp/err")"
}

counts "plain ASCII is GSM-7, one septet a character" 'hello\n' \
  '{"encoding":"GSM-7","segments":1,"units":5}'
counts "an empty line is GSM-7, 0 units, 1 segment" '\n' \
  '{"encoding":"GSM-7","segments":1,"units":0}'
counts "extension characters take two septets" '\342\202\254uro {ok}\n' \
  '{"encoding":"GSM-7","segments":1,"units":12}'
counts "one c-cedilla makes the text UCS-2" '\303\247a va\n' \
  '{"encoding":"UCS-2","segments":1,"units":5}'
counts "an emoji is two UTF-16 units" 'hi \360\237\230\200\n' \
  '{"encoding":"UCS-2","segments":1,"units":5}'
counts "an invalid byte is U+FFFD, so UCS-2" 'ok\377\n' \
  '{"encoding":"UCS-2","segments":1,"units":3}'
counts "CRLF endings are stripped; a CR inside counts" 'hello\r\na\rb\r\n' \
  '{"encoding":"GSM-7","segments":1,"units":5}
{"encoding":"GSM-7","segments":1,"units":3}'
counts "a last line without a newline still counts" 'one\ntwo' \
  '{"encoding":"GSM-7","segments":1,"units":3}
{"encoding":"GSM-7","segments":1,"units":3}'
lines=$(printf 'one\ntwo' | "$PARLEY" segments 2>/dev/null | wc -l)
[ "$lines" -eq 2 ]
result $? "each count ends with a newline, the last one too" "got $lines lines"
counts "no input prints nothing" '' ''

a161=$(printf '%0161d' 0 | tr 0 a)
counts "161 GSM characters are 2 segments" "$a161\\n" \
  '{"encoding":"GSM-7","segments":2,"units":161}'

# A megabyte line: one count, read whole (ceil(1048576 / 153) = 6854).
head -c 1048576 /dev/zero | tr '\0' a > "$tmp/big"
out=$("$PARLEY" segments < "$tmp/big" 2>&1)
[ "$out" = '{"encoding":"GSM-7","segments":6854,"units":1048576}' ]
result $? "a one-megabyte line is counted whole" "got $(printf '%s' "$out" | head -c 300)"

out=$("$PARLEY" segments --help 2>&1)
rc=$?
[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^usage: parley segments'
result $? "--help prints the usage and exits 0" "exit $rc; got $(printf '%s' "$out" | head -c 300)"

out=$("$PARLEY" segments --fast </dev/null 2>&1)
rc=$?
[ "$rc" -eq 2 ] && printf '%s\n' "$out" | grep -q "unknown option '--fast'"
result $? "an unknown option is named, exit 2" "exit $rc; got $(printf '%s' "$out" | head -c 300)"

summary
