# Kannel (Debian 12, 1.4.5) + fakesmsc harness for end-to-end tests.
#
# Source it from bash:   . tests/e2e/kannel/lib.sh
# Needs: apt-get install -y kannel kannel-extras; curl; iconv.
#
#   kannel_start DIR ADMIN_PORT SMSBOX_PORT SENDSMS_PORT FAKESMSC_PORT GET_URL USER PASS
#       Render kannel.conf.in into DIR (logs, pids, store: all in DIR), start
#       bearerbox, fakesmsc and smsbox on 127.0.0.1, and return once bearerbox
#       reports the fake SMSC online, smsbox connected and sendsms answering.
#       GET_URL is smsbox's sms-service get-url (Kannel escapes %p %P %a %I ...).
#       USER/PASS ([A-Za-z0-9._-]+) are the sendsms user; PASS is also the
#       admin/status password.
#       Returns 1 (after kannel_stop) if anything is not ready within
#       KANNEL_TIMEOUT seconds (default 15) per step.
#   kannel_send_mo FROM TO TEXT
#       The fan's phone sends TEXT (one line, at most ~200 bytes; UTF-8 is
#       passed through and reaches get-url as UTF-8).
#       Returns once fakesmsc has written it to bearerbox.
#   kannel_send_mo_line LINE
#       Raw fakesmsc line "FROM TO TYPE DATA"; TYPE text|data|ucs2|udh|...
#       e.g. "+15550001 +15550100 ucs2 %00C%00a%00f%00%E9".
#   kannel_wait_mt PATTERN [TIMEOUT=10] [AFTER=0]
#       Wait until fakesmsc has received a message (MT) whose line
#       "FROM TO TYPE DATA" matches the grep -E PATTERN; only messages
#       numbered > AFTER count (see kannel_mt_count). Prints the line.
#       TYPE is "text" (GSM text, printed raw), "ucs-2" (UTF-16BE, url-encoded),
#       "data" (url-encoded) or, for each part of a concatenated message,
#       "udh %05%00%03REF%NN%II data PAYLOAD" (both url-encoded).
#   kannel_mt_count            number of MT messages fakesmsc has received
#   kannel_mt_text LINE        the text of such a line, decoded to UTF-8
#   kannel_sendsms FROM TO TEXT [NAME=VALUE ...]
#       GET /cgi-bin/sendsms as USER/PASS; extra params are url-encoded and
#       appended (charset=UTF-8 coding=2 dlr-mask=31 dlr-url=...). Prints the
#       body ("0: Accepted for delivery"); non-2xx answers return 1.
#   kannel_stop
#       SIGTERM fakesmsc, then bearerbox (which makes smsbox quit), by PID;
#       SIGTERM/SIGKILL whatever is left after KANNEL_TIMEOUT seconds.
#       Safe to call twice. Takes about 1 s.
#
# Call kannel_start/kannel_stop in the test's own shell (not in $(...) or a
# pipeline): the boxes are its children and the state lives in shell
# variables. One Kannel per shell; set -e/-u/pipefail callers are fine.
#
# After kannel_start: KANNEL_DIR, KANNEL_ADMIN_URL, KANNEL_SENDSMS_URL,
# KANNEL_USER, KANNEL_PASS are set. fakesmsc output is $KANNEL_DIR/fakesmsc.log,
# box logs are $KANNEL_DIR/bearerbox.log and smsbox.log.

KANNEL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${KANNEL_BEARERBOX:=/usr/sbin/bearerbox}"
: "${KANNEL_SMSBOX:=/usr/sbin/smsbox}"
: "${KANNEL_FAKESMSC:=/usr/lib/kannel/test/fakesmsc}"
: "${KANNEL_TIMEOUT:=15}"

kannel_log() { printf 'kannel: %s\n' "$*" >&2; }

# _kannel_until SECONDS CMD...: run CMD every 0.1 s until it succeeds.
_kannel_until() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}

_kannel_status() {
    curl -s -m 2 "$KANNEL_ADMIN_URL/status.txt?password=$KANNEL_PASS" 2>/dev/null
}
_kannel_bb_up()    { _kannel_status | grep '^Status: running' > /dev/null; }
_kannel_smsc_up()  { _kannel_status | grep "FAKE:$KANNEL_FAKESMSC_PORT (online" > /dev/null; }
_kannel_box_up()   { _kannel_status | grep 'smsbox:.*on-line' > /dev/null; }
_kannel_sendsms_up() {
    # any HTTP answer (403 without credentials) means smsbox is listening
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$KANNEL_SENDSMS_URL" 2>/dev/null)" != 000 ]
}
_kannel_alive() { [ -f "$KANNEL_DIR/$1.pid" ] && kill -0 "$(cat "$KANNEL_DIR/$1.pid")" 2>/dev/null; }

# _kannel_ready WHAT CHECK: wait for CHECK; fail fast if a process died.
_kannel_ready() {
    local what=$1 check=$2 end=$((SECONDS + KANNEL_TIMEOUT)) p
    until $check; do
        for p in bearerbox fakesmsc smsbox; do
            if [ -f "$KANNEL_DIR/$p.pid" ] && ! _kannel_alive "$p"; then
                kannel_log "$p died while waiting for $what (see $KANNEL_DIR/$p.*)"
                return 1
            fi
        done
        if [ "$SECONDS" -ge "$end" ]; then
            kannel_log "timeout waiting for $what (see $KANNEL_DIR)"
            return 1
        fi
        sleep 0.1
    done
}

kannel_start() {
    if [ $# -ne 8 ]; then
        kannel_log "usage: kannel_start DIR ADMIN_PORT SMSBOX_PORT SENDSMS_PORT FAKESMSC_PORT GET_URL USER PASS"
        return 2
    fi
    local dir=$1 conf tpl v
    if [ -n "${KANNEL_DIR:-}" ] && { _kannel_alive bearerbox || _kannel_alive smsbox || _kannel_alive fakesmsc; }; then
        kannel_log "already running in $KANNEL_DIR; kannel_stop first"
        return 2
    fi
    for v in "$2" "$3" "$4" "$5"; do
        [[ $v =~ ^[0-9]+$ ]] || { kannel_log "bad port: $v"; return 2; }
    done
    for v in "$7" "$8"; do   # they go unquoted into kannel.conf and URLs
        [[ $v =~ ^[A-Za-z0-9._-]+$ ]] || { kannel_log "USER/PASS must match [A-Za-z0-9._-]+"; return 2; }
    done
    mkdir -p "$dir" || return 1
    KANNEL_DIR=$(cd "$dir" && pwd)
    KANNEL_ADMIN_PORT=$2 KANNEL_SMSBOX_PORT=$3 KANNEL_SENDSMS_PORT=$4
    KANNEL_FAKESMSC_PORT=$5 KANNEL_USER=$7 KANNEL_PASS=$8
    KANNEL_ADMIN_URL="http://127.0.0.1:$2"
    KANNEL_SENDSMS_URL="http://127.0.0.1:$4/cgi-bin/sendsms"
    conf=$KANNEL_DIR/kannel.conf

    # Quoted replacements: taken literally (no & or \ surprises in GET_URL).
    tpl=$(cat "$KANNEL_HERE/kannel.conf.in") || return 1
    tpl=${tpl//@DIR@/"$KANNEL_DIR"}
    tpl=${tpl//@ADMIN_PORT@/"$2"}
    tpl=${tpl//@SMSBOX_PORT@/"$3"}
    tpl=${tpl//@SENDSMS_PORT@/"$4"}
    tpl=${tpl//@FAKESMSC_PORT@/"$5"}
    tpl=${tpl//@GET_URL@/"$6"}
    tpl=${tpl//@USER@/"$7"}
    tpl=${tpl//@PASS@/"$8"}
    printf '%s\n' "$tpl" > "$conf" || return 1

    # A fresh store: an old one would replay queued messages.
    rm -f "$KANNEL_DIR"/kannel.store* "$KANNEL_DIR"/*.pid "$KANNEL_DIR/fakesmsc.log"
    # An empty store file: without one bearerbox logs ERROR lines at start.
    : > "$KANNEL_DIR/kannel.store"

    # 1. bearerbox (it owns the fake SMSC listener and the admin port)
    "$KANNEL_BEARERBOX" -v 1 "$conf" > "$KANNEL_DIR/bearerbox.out" 2>&1 &
    echo $! > "$KANNEL_DIR/bearerbox.pid"
    _kannel_ready "bearerbox admin port $2" _kannel_bb_up || { kannel_stop; return 1; }

    # 2. fakesmsc connects to bearerbox. Interactive mode (no message
    # arguments) reads MO lines from stdin; EOF on stdin makes it quit, so
    # stdin is a FIFO it opens read-write itself: never EOF, and writers
    # never block while it runs. -v 0 makes it log every MT it receives.
    rm -f "$KANNEL_DIR/mo.fifo"
    mkfifo "$KANNEL_DIR/mo.fifo" || { kannel_stop; return 1; }
    "$KANNEL_FAKESMSC" -H 127.0.0.1 -r "$5" -i 0 -v 0 \
        <> "$KANNEL_DIR/mo.fifo" > "$KANNEL_DIR/fakesmsc.log" 2>&1 &
    echo $! > "$KANNEL_DIR/fakesmsc.pid"
    _kannel_ready "fake SMSC online" _kannel_smsc_up || { kannel_stop; return 1; }

    # 3. smsbox connects to bearerbox and serves sendsms
    "$KANNEL_SMSBOX" -v 1 "$conf" > "$KANNEL_DIR/smsbox.out" 2>&1 &
    echo $! > "$KANNEL_DIR/smsbox.pid"
    _kannel_ready "smsbox connected" _kannel_box_up || { kannel_stop; return 1; }
    _kannel_ready "sendsms port $4" _kannel_sendsms_up || { kannel_stop; return 1; }
}

kannel_stop() {
    [ -n "${KANNEL_DIR:-}" ] || return 0
    local p pids=()
    for p in bearerbox smsbox fakesmsc; do
        if _kannel_alive "$p"; then pids+=("$(cat "$KANNEL_DIR/$p.pid")"); fi
    done
    # (Every command below may fail harmlessly: "|| true" keeps set -e callers,
    # e.g. an EXIT trap, from aborting half way.)
    # fakesmsc first: left to exit on its own (EOF from bearerbox) it crashes
    # with "free(): double free" once it has sent an MO; SIGTERM ends it at once.
    if _kannel_alive fakesmsc; then
        kill -TERM "$(cat "$KANNEL_DIR/fakesmsc.pid")" 2>/dev/null || true
    fi
    # SIGTERM to bearerbox then stops the rest cleanly in about 1 s: it tells
    # smsbox to quit. (SIGTERM straight to smsbox works too, but it logs
    # "ERROR: SIGINT received, aborting".)
    if _kannel_alive bearerbox; then
        kill -TERM "$(cat "$KANNEL_DIR/bearerbox.pid")" 2>/dev/null || true
        _kannel_until "$KANNEL_TIMEOUT" _kannel_all_gone "${pids[@]}" || true
    fi
    if ! _kannel_all_gone "${pids[@]}"; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        if ! _kannel_until 3 _kannel_all_gone "${pids[@]}"; then
            kannel_log "killing leftover processes ${pids[*]}"
            kill -KILL "${pids[@]}" 2>/dev/null || true
        fi
    fi
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -f "$KANNEL_DIR"/*.pid
    return 0
}

_kannel_all_gone() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 1; done
    return 0
}

kannel_send_mo_line() {
    local line=$1 before
    case $line in *$'\n'*|*$'\r'*) kannel_log "MO line must be one line"; return 2;; esac
    # fakesmsc reads stdin with fgets into 256 bytes: longer lines get split.
    if [ "$(printf '%s' "$line" | wc -c)" -gt 250 ]; then kannel_log "MO line too long for fakesmsc"; return 2; fi
    _kannel_alive fakesmsc || { kannel_log "fakesmsc is not running"; return 1; }
    before=$(_kannel_mo_count)
    timeout 5 bash -c 'printf "%s\n" "$1" > "$2"' _ "$line" "$KANNEL_DIR/mo.fifo" || return 1
    # Wait until fakesmsc has sent it: fakesmsc reads stdin through stdio, so
    # a second line written before it consumed the first could sit unread.
    _kannel_until 5 eval '[ "$(_kannel_mo_count)" -gt "$before" ]' ||
        { kannel_log "fakesmsc did not send MO: $line"; return 1; }
}

kannel_send_mo() {
    [ $# -eq 3 ] || { kannel_log "usage: kannel_send_mo FROM TO TEXT"; return 2; }
    kannel_send_mo_line "$1 $2 text $3"
}

kannel_mt_count() { _kannel_count 'Got message [0-9]*: <'; }
_kannel_mo_count() { _kannel_count 'fakesmsc: sent message'; }
_kannel_count() {
    local n
    n=$(grep -c -- "$1" "$KANNEL_DIR/fakesmsc.log" 2>/dev/null)
    echo "${n:-0}"
}

# Print received MT lines as "N FROM TO TYPE DATA".
_kannel_mt_lines() {
    sed -n 's/.*Got message \([0-9]*\): <\(.*\)>$/\1 \2/p' "$KANNEL_DIR/fakesmsc.log"
}

_kannel_mt_find() {
    local pattern=$1 after=$2 line n rest
    while IFS= read -r line; do
        n=${line%% *} rest=${line#* }
        if [ "$n" -gt "$after" ] && grep -qE -- "$pattern" <<< "$rest"; then
            printf '%s\n' "$rest"
            return 0
        fi
    done < <(_kannel_mt_lines)
    return 1
}

kannel_wait_mt() {
    local pattern=$1 timeout=${2:-10} after=${3:-0} end
    end=$((SECONDS + timeout))
    until _kannel_mt_find "$pattern" "$after"; do
        if [ "$SECONDS" -ge "$end" ]; then
            kannel_log "no MT matching /$pattern/ within ${timeout}s; fakesmsc got:"
            _kannel_mt_lines >&2
            return 1
        fi
        sleep 0.1
    done
}

# kannel_mt_text "FROM TO TYPE DATA" -> text as UTF-8
kannel_mt_text() {
    local type data=$1
    data=${data#* } data=${data#* }      # drop FROM and TO
    type=${data%% *} data=${data#* }
    case $type in
        text) printf '%s\n' "$data" ;;
        ucs-2) _kannel_urldecode "$data" | iconv -f UTF-16BE -t UTF-8; echo ;;
        # "udh UDH data PAYLOAD": raw payload bytes (a UCS-2 part needs
        # iconv -f UTF-16BE); the coding is not in the line.
        udh) _kannel_urldecode "${data#* data }"; echo ;;
        *) _kannel_urldecode "$data"; echo ;;
    esac
}

_kannel_urldecode() {
    local s=${1//+/ }
    printf '%b' "${s//%/\\x}"
}

kannel_sendsms() {
    [ $# -ge 3 ] || { kannel_log "usage: kannel_sendsms FROM TO TEXT [NAME=VALUE ...]"; return 2; }
    local args=(--data-urlencode "username=$KANNEL_USER" --data-urlencode "password=$KANNEL_PASS"
                --data-urlencode "from=$1" --data-urlencode "to=$2" --data-urlencode "text=$3") kv
    shift 3
    for kv in "$@"; do args+=(--data-urlencode "$kv"); done
    curl -sS -f -m 10 -G "${args[@]}" "$KANNEL_SENDSMS_URL"
}
