#!/usr/bin/env bash
# Demo of the Kannel harness against a python stand-in for parley
# (stub_server.py). Runs MO -> get-url -> reply, sendsms (ASCII and UCS-2)
# and DLRs through Debian's bearerbox/smsbox and fakesmsc on 127.0.0.1.
# Exits 0 when every check passes. Needs: apt-get install -y kannel kannel-extras
# KANNEL_KEEP=1 keeps the temp dir (logs) even on success.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

for b in "$KANNEL_BEARERBOX" "$KANNEL_SMSBOX" "$KANNEL_FAKESMSC"; do
    [ -x "$b" ] || { echo "demo: $b missing (apt-get install -y kannel kannel-extras)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/parley-kannel.XXXXXX)
STUB_PID=
cleanup() {
    kannel_stop
    [ -n "$STUB_PID" ] && { kill "$STUB_PID" 2>/dev/null; wait "$STUB_PID" 2>/dev/null; }
    if [ "${KANNEL_KEEP:-0}" = 1 ] || [ "$FAILED" -gt 0 ]; then
        echo "demo: logs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
PASSED=0 FAILED=0
trap cleanup EXIT

ok()   { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }

# Five free ports on 127.0.0.1, chosen by the kernel.
read -r HTTP_PORT ADMIN_PORT SMSBOX_PORT SENDSMS_PORT FAKESMSC_PORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

HTTP_LOG=$TMP/http.log
: > "$HTTP_LOG"
python3 "$HERE/stub_server.py" "$HTTP_PORT" "$HTTP_LOG" &
STUB_PID=$!
_kannel_until 5 curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/ping" || { echo "demo: stub server did not start" >&2; exit 1; }

# http_wait TIMEOUT PATH KEY=VALUE...: wait for a request to PATH whose query
# has all these decoded values (VALUE "*" = any non-empty); prints it as JSON.
HTTP_MATCH='
import json, sys
log, path, want = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
for line in open(log, encoding="utf-8"):
    r = json.loads(line)
    q = r["query"]
    if r["path"] == path and all(
            (q.get(k) if v == "*" else q.get(k) == v) for k, v in want.items()):
        print(line, end="")
        sys.exit(0)
sys.exit(1)'
http_wait() {
    local timeout=$1; shift
    _kannel_until "$timeout" python3 -c "$HTTP_MATCH" "$HTTP_LOG" "$@"
}

GET_URL="http://127.0.0.1:$HTTP_PORT/kannel/fanclub?token=TOK&from=%p&to=%P&text=%a&id=%I"
FAN=+15550001 BOT=+15550100

t0=$SECONDS
if kannel_start "$TMP/kannel" "$ADMIN_PORT" "$SMSBOX_PORT" "$SENDSMS_PORT" "$FAKESMSC_PORT" \
        "$GET_URL" parley s3cret; then
    ok "kannel started in $((SECONDS - t0))s (admin $ADMIN_PORT, sendsms $SENDSMS_PORT, fakesmsc $FAKESMSC_PORT)"
else
    fail "kannel_start"; exit 1
fi

# 1. MO "hi" reaches get-url; the plain-text answer comes back as the reply.
kannel_send_mo "$FAN" "$BOT" "hi"
if req=$(http_wait 10 /kannel/fanclub token=TOK from="$FAN" to="$BOT" text=hi id='*'); then
    ok "MO reached get-url: $req"
else
    fail "MO 'hi' did not reach get-url"; cat "$HTTP_LOG"
fi
if line=$(kannel_wait_mt "^\\$BOT \\$FAN text echo: hi\$" 10); then
    ok "reply reached fakesmsc: $line"
else
    fail "reply 'echo: hi' did not reach fakesmsc"
fi

# 2. MO with non-GSM text; the reply carries X-Kannel-Coding: 2, so UCS-2.
kannel_send_mo "$FAN" "$BOT" "Café ☕"
if req=$(http_wait 10 /kannel/fanclub from="$FAN" to="$BOT" text="Café ☕"); then
    ok "UTF-8 MO reached get-url: $req"
else
    fail "MO 'Café ☕' did not reach get-url"
fi
if line=$(kannel_wait_mt "^\\$BOT \\$FAN ucs-2 " 10) && [ "$(kannel_mt_text "$line")" = "echo: Café ☕" ]; then
    ok "UCS-2 reply reached fakesmsc: $line"
else
    fail "UCS-2 reply 'echo: Café ☕' did not reach fakesmsc"
fi

# 3. MT via sendsms: ASCII, then UTF-8 as UCS-2.
n=$(kannel_mt_count)
if ans=$(kannel_sendsms "$BOT" "$FAN" "hello fans") &&
        line=$(kannel_wait_mt "^\\$BOT \\$FAN text hello fans\$" 10 "$n"); then
    ok "sendsms ASCII ($ans): $line"
else
    fail "sendsms ASCII"
fi
n=$(kannel_mt_count)
if ans=$(kannel_sendsms "$BOT" "$FAN" "Café ☕" charset=UTF-8 coding=2) &&
        line=$(kannel_wait_mt "^\\$BOT \\$FAN ucs-2 " 10 "$n") &&
        [ "$(kannel_mt_text "$line")" = "Café ☕" ]; then
    ok "sendsms UTF-8 coding=2 ($ans): $line"
else
    fail "sendsms UTF-8 coding=2"
fi

# 4. DLRs: mask 31 asks for all; fakesmsc+bearerbox produce 8 (SMSC ack)
# and 1 (delivered). %I differs per DLR, so the URL carries our own id.
DLR_URL="http://127.0.0.1:$HTTP_PORT/dlr?mt=m42&type=%d&id=%I&to=%p&from=%P&smsc=%i&answer=%A"
if ans=$(kannel_sendsms "$BOT" "$FAN" "dlr please" dlr-mask=31 "dlr-url=$DLR_URL") &&
        kannel_wait_mt "^\\$BOT \\$FAN text dlr please\$" 10 > /dev/null; then
    ok "sendsms with dlr-mask=31 ($ans)"
else
    fail "sendsms with dlr-mask=31"
fi
for t in 8 1; do
    if req=$(http_wait 10 /dlr mt=m42 type=$t to="$FAN" from="$BOT" smsc=fake); then
        ok "DLR type $t: $req"
    else
        fail "DLR type $t did not arrive"
    fi
done
sleep 0.5  # anything else (2, 4, 16) would have come together with 1 and 8
others=$(grep '"path": "/dlr"' "$HTTP_LOG" | grep -v '"type": "[18]"')
if [ -z "$others" ]; then ok "no other DLR types"; else fail "unexpected DLRs: $others"; fi

pids=$(cat "$TMP"/kannel/*.pid)
t0=$SECONDS
kannel_stop
if _kannel_all_gone $pids; then
    ok "kannel stopped in $((SECONDS - t0))s"
else
    fail "kannel processes left"
fi

echo "demo: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
