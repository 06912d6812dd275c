#!/usr/bin/env python3
"""The load and the checks of tests/e2e/workers.sh: parley serve with
several engine workers (PARLEY_ENGINE_THREADS), driven by parallel HTTP
clients. workers.sh starts and stops the servers; each step here loads the
one it is given, reads the database, and prints one line per check:
"ok - DESCRIPTION", or "not ok - DESCRIPTION" followed by "#   DETAIL"
lines (workers.sh numbers and counts them). Other lines start with "# ".
It exits 0 when it ran to the end, whatever the checks said.

A client thread owns its contacts: it sends a contact's next message only
after the previous one was answered, so each conversation's order is
defined, while the threads together keep many conversations in flight.
Message k of a contact has the text "m<k>" and the id "<contact>-<k>".

Steps:
  order      a bot that lists in c.state the numbers it saw: every
             conversation handled in its order, none lost, none twice; and
             bot.store.count, one increment a message from every
             conversation, equals the number of messages
  total      the order bot's bot.store.count, asked after a restart
  versions   a reload and then a rollback while the clients send
  limits     handlers past their time limit in several conversations at
             once, while others are answered
  crash      SIGKILLs the server (--pid) once --kill-after messages were
             answered, the clients still sending; writes what was answered
  recovered  after the restart: every answered message stored with its
             reply, each counter equal to the stored messages; then the
             clients send again and the counts carry on

Standard library only.
"""
import argparse
import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import request, tap_line  # noqa: E402

HOOK = os.environ.get("PARLEY_WEBHOOK_TOKEN", "")
ADMIN = os.environ.get("PARLEY_ADMIN_TOKEN", "")
TIMEOUT = 60.0  # one request; a sanitizer build is slow
DEADLINE = 120.0  # one step's load, whatever happens


def verdict(desc, cond, detail=""):
    return tap_line(cond, desc, detail)


def note(text):
    print("# " + text, flush=True)


def first_bad(items, limit=8):
    return "\n".join(str(x) for x in items[:limit]) + (
        "\n... and %d more" % (len(items) - limit) if len(items) > limit else "")


def contact_number(k):
    return "+1555300%04d" % k


def post_message(port, bot, number, text, mid):
    """(status, replies or None, raw body); status None when the connection failed."""
    body = json.dumps({"from": number, "to": "+15550100", "text": text, "id": mid}).encode()
    try:
        status, data = request(port, "POST", "/v1/bots/%s/messages" % bot, body,
                               {"Authorization": "Bearer " + HOOK,
                                "Content-Type": "application/json"}, timeout=TIMEOUT)
    except OSError as e:
        return None, None, repr(e)
    except Exception as e:  # http.client's errors on a connection cut mid-answer
        return None, None, repr(e)
    try:
        replies = json.loads(data).get("replies")
    except (ValueError, AttributeError):
        replies = None
    return status, replies, data


class Load:
    """Client threads sending numbered messages for their contacts.

    Each sent message is recorded as a dict: contact, k, id, sent (monotonic
    time before the request), answered (after the answer, or None), status,
    replies, body. stop_when(load) is asked after each answer; a contact
    stops after max_messages, or when stop is set."""

    def __init__(self, port, bot, contacts, clients, max_messages, first=1, start_k=None):
        self.port, self.bot = port, bot
        self.contacts = contacts
        self.clients = clients
        self.max_messages = max_messages
        self.start_k = start_k or {c: first for c in contacts}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answered = 0  # 200 answers
        self.failures = 0  # anything else, the connection included
        self.records = {c: [] for c in contacts}
        self.on_answer = None  # called (without the lock) after each 200 answer

    def client(self, mine):
        next_k = {c: self.start_k[c] for c in mine}
        end_at = time.monotonic() + DEADLINE
        live = list(mine)
        while live and not self.stop.is_set() and time.monotonic() < end_at:
            for c in list(live):
                if self.stop.is_set():
                    break
                k = next_k[c]
                if k >= self.start_k[c] + self.max_messages:
                    live.remove(c)
                    continue
                rec = {"contact": c, "k": k, "id": "%s-%d" % (c, k), "sent": time.monotonic()}
                status, replies, body = post_message(self.port, self.bot, c, "m%d" % k, rec["id"])
                rec.update(answered=time.monotonic(), status=status, replies=replies,
                           body=body if status != 200 else None)
                with self.lock:
                    self.records[c].append(rec)
                    if status == 200:
                        self.answered += 1
                    else:
                        self.failures += 1
                if status != 200:
                    live.remove(c)  # this conversation stops at its first failure
                    continue
                next_k[c] = k + 1
                if self.on_answer:
                    self.on_answer(self)

    def run(self):
        shares = [self.contacts[i::self.clients] for i in range(self.clients)]
        threads = [threading.Thread(target=self.client, args=(s,), daemon=True) for s in shares]
        for t in threads:
            t.start()
        return threads

    def join(self, threads):
        for t in threads:
            t.join(DEADLINE + TIMEOUT)
        return not any(t.is_alive() for t in threads)

    def all_records(self):
        return [r for c in self.contacts for r in self.records[c]]


def db_rows(db, sql, args=()):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def stored_messages(db, bot):
    """contact -> {"in": [(provider_id, text)], "out": [text]}, each in id order."""
    rows = db_rows(db, "SELECT c.number, m.direction, m.provider_id, m.text FROM messages m"
                       " JOIN contacts c ON c.id = m.contact_id"
                       " WHERE m.bot_id = (SELECT id FROM bots WHERE name = ?) ORDER BY m.id",
                   (bot,))
    out = {}
    for number, direction, pid, text in rows:
        m = out.setdefault(number, {"in": [], "out": []})
        if direction == "in":
            m["in"].append((pid, text))
        else:
            m["out"].append(text)
    return out


def states(db, bot):
    rows = db_rows(db, "SELECT c.number, v.state FROM contacts c JOIN conversations v"
                       " ON v.contact_id = c.id WHERE c.bot_id = (SELECT id FROM bots WHERE name = ?)",
                   (bot,))
    return {n: json.loads(s) for n, s in rows}


def inbound_count(db, bot):
    return db_rows(db, "SELECT count(*) FROM messages WHERE direction = 'in' AND"
                       " bot_id = (SELECT id FROM bots WHERE name = ?)", (bot,))[0][0]


def bot_store(db, bot):
    rows = db_rows(db, "SELECT store FROM bots WHERE name = ?", (bot,))
    return json.loads(rows[0][0]) if rows else None


def check_no_failures(load, what):
    bad = [(r["id"], r["status"], r["body"]) for r in load.all_records() if r["status"] != 200]
    return verdict("%s: every request is answered 200 (%d answered)" % (what, load.answered),
                   not bad, first_bad(bad))


# ---------------------------------------------------------------- order

def step_order(a):
    contacts = [contact_number(k) for k in range(a.contacts)]
    load = Load(a.port, a.bot, contacts, a.clients, a.messages)
    t0 = time.monotonic()
    finished = load.join(load.run())
    note("%d conversations x %d messages from %d clients in %.1f s" %
         (a.contacts, a.messages, a.clients, time.monotonic() - t0))
    verdict("order: the clients finish", finished)
    check_no_failures(load, "order")
    # the k-th answer of a conversation lists 1..k: the handler saw them all, in order
    bad = []
    for c in contacts:
        recs = load.records[c]
        if len(recs) != a.messages:
            bad.append("%s: %d of %d messages answered" % (c, len(recs), a.messages))
        for r in recs:
            want = ",".join(str(i) for i in range(1, r["k"] + 1))
            if r["status"] == 200 and r["replies"] != [want]:
                bad.append("%s m%d answered %r, want [%r]" % (c, r["k"], r["replies"], want))
    verdict("order: the answer to each conversation's message k lists 1..k (in order, "
            "none lost, none twice)", not bad, first_bad(bad))
    stored = stored_messages(a.db, a.bot)
    st = states(a.db, a.bot)
    bad_in, bad_out, bad_state = [], [], []
    for c in contacts:
        m = stored.get(c, {"in": [], "out": []})
        want_in = [("%s-%d" % (c, k), "m%d" % k) for k in range(1, a.messages + 1)]
        if m["in"] != want_in:
            bad_in.append("%s: stored %s, want m1..m%d" % (c, [t for _, t in m["in"]][:30], a.messages))
        want_out = [",".join(str(i) for i in range(1, k + 1)) for k in range(1, a.messages + 1)]
        if m["out"] != want_out:
            bad_out.append("%s: replies stored %s" % (c, m["out"][:4]))
        seen = st.get(c, {}).get("seen")
        if seen != list(range(1, a.messages + 1)):
            bad_state.append("%s: c.state.seen = %s" % (c, seen))
    verdict("order: the database holds each conversation's messages once each, in the order "
            "sent (%d conversations)" % len(contacts), not bad_in, first_bad(bad_in))
    verdict("order: ... and each reply once, in order", not bad_out, first_bad(bad_out))
    verdict("order: each conversation's stored state lists 1..%d" % a.messages, not bad_state,
            first_bad(bad_state))
    total = a.contacts * a.messages
    n_in = db_rows(a.db, "SELECT count(*), count(DISTINCT provider_id) FROM messages WHERE"
                         " direction = 'in' AND bot_id = (SELECT id FROM bots WHERE name = ?)",
                   (a.bot,))[0]
    verdict("order: %d inbound messages stored, all distinct" % total, n_in == (total, total),
            "stored (count, distinct): %s" % (n_in,))
    store = bot_store(a.db, a.bot) or {}
    verdict("bot.store: %d read-modify-writes of bot.store.count from %d conversations "
            "at once lose no update" % (total, a.contacts), store.get("count") == total,
            "bot.store = %s" % store)


def step_total(a):
    status, replies, body = post_message(a.port, a.bot, contact_number(9999), "total", "total-1")
    verdict("bot.store: the count survives a restart (%s)" % a.expect,
            status == 200 and replies == ["total=%s" % a.expect],
            "answer: %s %s" % (status, replies if status == 200 else body))


# ---------------------------------------------------------------- versions

VERSION_BOT = """-- {tag}: each message answered "{tag}:<k> n=<count>"
bot.fallback(function(c, msg)
  c.state.n = (c.state.n or 0) + 1
  return "{tag}:" .. msg.text:sub(2) .. " n=" .. c.state.n
end)
"""


def admin(port, method, path, body):
    try:
        status, data = request(port, method, path, json.dumps(body).encode(),
                               {"Authorization": "Bearer " + ADMIN,
                                "Content-Type": "application/json"}, timeout=TIMEOUT)
    except Exception as e:
        return None, repr(e)
    return status, data


def step_versions(a):
    contacts = [contact_number(50 + k) for k in range(a.contacts)]
    load = Load(a.port, a.bot, contacts, a.clients, a.messages)
    # the main thread waits for a number of answers, reloads, waits again,
    # rolls back, waits again and stops the clients: the load straddles both
    marks = []
    moved = threading.Condition()

    def on_answer(ld):
        with moved:
            moved.notify_all()

    load.on_answer = on_answer

    def wait_answers(n):
        end = time.monotonic() + DEADLINE
        with moved:
            while load.answered < n and time.monotonic() < end and any(t.is_alive() for t in threads):
                moved.wait(0.5)
        return load.answered >= n

    threads = load.run()
    step = a.answers_between
    ok_reload = ok_rollback = None
    if wait_answers(step):
        t_sent = time.monotonic()
        status, data = admin(a.port, "PUT", "/v1/bots/%s/script" % a.bot,
                             {"files": {"bot.lua": VERSION_BOT.format(tag="v2")}})
        marks.append(("reload", t_sent, time.monotonic(), status, data))
        ok_reload = status == 200
        if wait_answers(load.answered + step):
            t_sent = time.monotonic()
            status, data = admin(a.port, "POST", "/v1/bots/%s/rollback" % a.bot, {"version": 1})
            marks.append(("rollback", t_sent, time.monotonic(), status, data))
            ok_rollback = status == 200
            wait_answers(load.answered + step)
    load.stop.set()
    finished = load.join(threads)
    verdict("versions: the clients finish", finished)
    verdict("versions: a reload while the clients send is answered 200", ok_reload,
            "marks: %s" % marks)
    verdict("versions: a rollback while the clients send is answered 200", ok_rollback,
            "marks: %s" % marks)
    check_no_failures(load, "versions")
    if len(marks) < 2:
        return
    _, reload_sent, reload_done, _, _ = marks[0]
    _, rollback_sent, rollback_done, _, _ = marks[1]
    torn, order, causal = [], [], []
    seen = {"v1": 0, "v2": 0, "v1 again": 0}
    for c in contacts:
        phase = 0  # 0: v1, 1: v2, 2: v1 again
        for i, r in enumerate(load.records[c]):
            if r["status"] != 200:
                continue
            m = re.fullmatch(r"(v[12]):(\d+) n=(\d+)", r["replies"][0]) \
                if r["replies"] and len(r["replies"]) == 1 else None
            if not m or int(m.group(2)) != r["k"] or int(m.group(3)) != i + 1:
                torn.append("%s m%d answered %r (want vN:%d n=%d)" %
                            (c, r["k"], r["replies"], r["k"], i + 1))
                continue
            v = m.group(1)
            if phase == 0 and v == "v2":
                phase = 1
            elif phase == 1 and v == "v1":
                phase = 2
            elif phase == 2 and v == "v2":
                order.append("%s m%d: v2 after the rollback's v1" % (c, r["k"]))
            seen[["v1", "v2", "v1 again"][phase]] += 1
            # what the admin answers say: before the reload was sent, v1;
            # between its answer and the rollback's request, v2; after the
            # rollback's answer, v1
            if r["answered"] < reload_sent:
                want = "v1"
            elif r["sent"] > reload_done and r["answered"] < rollback_sent:
                want = "v2"
            elif r["sent"] > rollback_done:
                want = "v1"
            else:
                want = v  # in flight during a switch: either, the order says which
            if v != want:
                causal.append("%s m%d: %s, want %s (sent %.3f, answered %.3f; reload %.3f-%.3f, "
                              "rollback %.3f-%.3f)" % (c, r["k"], v, want, r["sent"], r["answered"],
                                                      reload_sent, reload_done, rollback_sent,
                                                      rollback_done))
    note("answers: %d v1, then %d v2, then %d v1 again" % (seen["v1"], seen["v2"], seen["v1 again"]))
    verdict("versions: each message ran once, on one version (vN:k n=k: the count carries "
            "across the switches)", not torn, first_bad(torn))
    verdict("versions: per conversation the versions go v1, then v2 from the reload, then v1 "
            "from the rollback, never back", not order, first_bad(order))
    verdict("versions: a message answered before the reload was asked is v1, one sent after it "
            "was answered is v2 (until the rollback), one sent after the rollback is v1",
            not causal, first_bad(causal))
    verdict("versions: the load straddled both switches (each phase answered messages)",
            all(seen.values()), "answers: %s" % seen)
    stored = stored_messages(a.db, a.bot)
    bad = []
    for c in contacts:
        recs = [r for r in load.records[c] if r["status"] == 200]
        m = stored.get(c, {"in": [], "out": []})
        if [pid for pid, _ in m["in"]] != [r["id"] for r in recs]:
            bad.append("%s: stored %d inbound, %d answered" % (c, len(m["in"]), len(recs)))
        if m["out"] != [r["replies"][0] for r in recs if r["replies"]]:
            bad.append("%s: stored replies %s differ from the answers" % (c, m["out"][:3]))
    verdict("versions: the database holds each message once and the reply its version gave",
            not bad, first_bad(bad))


# ---------------------------------------------------------------- limits

def step_limits(a):
    """Handlers that run past their time limit in several conversations at
    once (on several workers, whose sandboxes each have a deadline), while
    other conversations send: each is stopped with the time limit's error,
    nothing of it kept, and the others are answered."""
    spinners = [contact_number(600 + k) for k in range(a.contacts)]
    others = [contact_number(700 + k) for k in range(a.contacts)]
    answers = {}

    def spin(c):
        answers[c] = post_message(a.port, a.bot, c, "spin", "%s-spin" % c)

    threads = [threading.Thread(target=spin, args=(c,), daemon=True) for c in spinners]
    for t in threads:
        t.start()
    load = Load(a.port, a.bot, others, a.clients, a.messages)
    finished = load.join(load.run())
    for t in threads:
        t.join(DEADLINE)
    verdict("limits: the clients finish", finished and not any(t.is_alive() for t in threads))
    bad = ["%s: %s %s" % (c, answers.get(c, (None,))[0], answers.get(c, (None, None, ""))[2])
           for c in spinners if answers.get(c, (None,))[0] != 200]
    verdict("limits: every message to a handler that spins is answered 200", not bad,
            first_bad(bad))
    check_no_failures(load, "limits: meanwhile, other conversations")
    bad = ["%s m%d answered %r" % (c, r["k"], r["replies"]) for c in others
           for r in load.records[c] if r["status"] == 200 and r["replies"] != ["ok m%d" % r["k"]]]
    verdict("limits: ... and answered by their handler", not bad, first_bad(bad))
    rows = db_rows(a.db, "SELECT c.number, e.text FROM errors e JOIN contacts c ON c.id ="
                         " e.contact_id WHERE e.bot_id = (SELECT id FROM bots WHERE name = ?)",
                   (a.bot,))
    errors = {}
    for number, text in rows:
        errors.setdefault(number, []).append(text)
    bad = ["%s: %s" % (c, errors.get(c)) for c in spinners
           if len(errors.get(c, [])) != 1 or "time limit exceeded" not in errors[c][0]]
    bad += ["%s: %s" % (c, errors[c]) for c in others if c in errors]
    verdict("limits: each spinning handler is stopped with its time limit's error, once; the "
            "others have none", not bad, first_bad(bad))
    st = states(a.db, a.bot)
    kept = [c for c in spinners if st.get(c, {}).get("spun")]
    verdict("limits: nothing a stopped handler changed is kept", not kept, first_bad(kept))


# ---------------------------------------------------------------- crash

def crash(a):
    return "crash %d: " % a.round


def step_crash(a):
    contacts = [contact_number(100 * (1 + a.round) + k) for k in range(a.contacts)]
    load = Load(a.port, a.bot, contacts, a.clients, a.messages)
    killed = threading.Event()
    kill_lock = threading.Lock()

    def on_answer(ld):
        with kill_lock:
            if ld.answered >= a.kill_after and not killed.is_set():
                os.kill(a.pid, signal.SIGKILL)
                ld.killed_at = time.monotonic()
                killed.set()

    load.on_answer = on_answer
    finished = load.join(load.run())
    verdict(crash(a) + "the server is killed while the clients send (after %d answers)" %
            a.kill_after, killed.is_set(), "answered: %d" % load.answered)
    verdict(crash(a) + "the clients finish", finished)
    after = [r["id"] for r in load.all_records()
             if r["status"] == 200 and r["sent"] > getattr(load, "killed_at", float("inf"))]
    verdict(crash(a) + "no answer came from a server already killed", not after, first_bad(after))
    # the record of what was answered, for the step after the restart
    with open(a.state, "w") as f:
        json.dump({c: [{k: r[k] for k in ("k", "id", "status", "replies")}
                       for r in load.records[c]] for c in contacts}, f)
    inflight = sum(1 for r in load.all_records() if r["status"] != 200)
    note("%d messages answered before the kill, %d in flight when it came" %
         (load.answered, inflight))


def step_recovered(a):
    with open(a.state) as f:
        records = json.load(f)
    contacts = list(records)
    stored = stored_messages(a.db, a.bot)
    st = states(a.db, a.bot)
    missing, pairs, counters, strangers = [], [], [], []
    for c in contacts:
        recs = records[c]
        m = stored.get(c, {"in": [], "out": []})
        ids = [pid for pid, _ in m["in"]]
        answered = [r for r in recs if r["status"] == 200]
        for r in answered:
            if r["id"] not in ids:
                missing.append("%s (answered %s) is not stored" % (r["id"], r["replies"]))
        # stored: the answered ones in order, and at most the one in flight
        sent = [r["id"] for r in recs]
        if ids != sent[:len(ids)] or len(ids) < len(answered):
            strangers.append("%s: stored %s, sent %s" % (c, ids[-3:], sent[-3:]))
        want_out = ["n=%d" % k for k in range(1, len(ids) + 1)]
        if m["out"] != want_out:
            pairs.append("%s: %d inbound stored, replies %s" % (c, len(ids), m["out"][-3:]))
        for r in answered:
            pos = ids.index(r["id"]) + 1 if r["id"] in ids else None
            if r["replies"] != ["n=%s" % pos]:
                pairs.append("%s answered %s, stored as message %s" % (r["id"], r["replies"], pos))
        n = st.get(c, {}).get("n", 0)
        if n != len(ids):
            counters.append("%s: c.state.n = %s, %d inbound stored" % (c, n, len(ids)))
    verdict(crash(a) + "every message answered 200 before the SIGKILL is stored", not missing,
            first_bad(missing))
    verdict(crash(a) + "each conversation's stored messages are the ones sent, in order (the last "
            "answered, or the one in flight, is the last stored)", not strangers, first_bad(strangers))
    verdict(crash(a) + "each stored message has its reply, the one its answer carried", not pairs,
            first_bad(pairs))
    verdict(crash(a) + "each c.state.n equals its conversation's stored messages (nothing "
            "half-applied)", not counters, first_bad(counters))
    total_in = inbound_count(a.db, a.bot)
    store = bot_store(a.db, a.bot) or {}
    verdict(crash(a) + "bot.store.count equals the bot's stored messages (%d)" % total_in,
            store.get("count") == total_in, "bot.store = %s" % store)
    # the clients go on: the one in flight sent again (a provider's retry:
    # handled once, whether it was stored or not), then a few more each
    start_k = {}
    for c in contacts:
        recs = records[c]
        start_k[c] = recs[-1]["k"] if recs and recs[-1]["status"] != 200 else \
            (recs[-1]["k"] + 1 if recs else 1)
    load = Load(a.port, a.bot, contacts, a.clients, a.more, start_k=start_k)
    finished = load.join(load.run())
    verdict(crash(a) + "after the restart the clients finish", finished)
    check_no_failures(load, crash(a) + "after the restart")
    stored = stored_messages(a.db, a.bot)
    st = states(a.db, a.bot)
    bad = []
    for c in contacts:
        sent = [r["id"] for r in records[c] if r["status"] == 200] + \
            [r["id"] for r in load.records[c]]
        m = stored.get(c, {"in": [], "out": []})
        ids = [pid for pid, _ in m["in"]]
        if ids != sent or st.get(c, {}).get("n") != len(sent) or \
                m["out"] != ["n=%d" % k for k in range(1, len(sent) + 1)]:
            bad.append("%s: sent %d, stored %d, replies %d, c.state.n = %s" %
                       (c, len(sent), len(ids), len(m["out"]), st.get(c, {}).get("n")))
    verdict(crash(a) + "then every conversation holds each message it sent once, in order, "
            "counted once", not bad, first_bad(bad))
    total_in = inbound_count(a.db, a.bot)
    store = bot_store(a.db, a.bot) or {}
    verdict(crash(a) + "... and bot.store.count is the bot's %d messages" % total_in,
            store.get("count") == total_in, "bot.store = %s" % store)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["order", "total", "versions", "limits", "crash",
                                     "recovered"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db")
    ap.add_argument("--bot", required=True)
    ap.add_argument("--contacts", type=int, default=40)
    ap.add_argument("--messages", type=int, default=25, help="at most, per conversation")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--answers-between", type=int, default=150,
                    help="versions: answers before the reload, then the rollback, then the end")
    ap.add_argument("--expect")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--kill-after", type=int, default=200)
    ap.add_argument("--state")
    ap.add_argument("--round", type=int, default=1, help="crash: its contacts are the round's own")
    ap.add_argument("--more", type=int, default=3)
    args = ap.parse_args()
    steps = {"order": step_order, "total": step_total, "versions": step_versions,
             "limits": step_limits, "crash": step_crash, "recovered": step_recovered}
    steps[sys.argv[1]](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
