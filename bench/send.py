#!/usr/bin/env python3
"""make bench, sending part: parley's sender against the local fake of
Twilio's API (build/fake_twilio) on 127.0.0.1.

1. Throughput: 40,000 messages queued in the outbox (written straight into
   the database while parley is stopped), then `parley serve` starts and
   sends them with 64 requests in flight and no rate limit to speak of.
   Reported: sends/second from the sender's start to the last one recorded
   as sent (target: at least 5,000), without and then with status
   callbacks (each message then also gets two signed callbacks back).
2. Rate limit: 200 bulk messages queued on one long code limited to
   10 messages/second; while they drain, a fan texts the number 8 times.
   Reported: messages sent in the 10 seconds after the first one (target:
   100, within 5%), and how long each reply waited (it must go ahead of
   the bulk queue: well under a second, not the ~20 s of the queue).

Standard library only; prints figures and WRONG for a failed check.
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e", "lib"))
from harness import Parley, query, wait_for  # noqa: E402

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "bench-fake-token"
N = 40000
TARGET_SENDS = 5000
BOT = 'bot.config{ name = "Bench", numbers = { "+15550100" }, quiet_hours = false }\n' \
      'bot.fallback(function(c, msg) return "reply " .. msg.text end)\n'
wrong = 0


def say(line):
    print(line, flush=True)


def fake(binary, tmp, name):
    log = os.path.join(tmp, name + ".jsonl")
    p = subprocess.Popen([binary, "--port", "0", "--account-sid", SID, "--auth-token", TOKEN,
                          "--log", log], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().strip().rsplit(":", 1)[1])
    return p, port, log


def fill(db, n, priority, sender="+15550100"):
    """n queued messages of bot 'bench', one contact each."""
    con = sqlite3.connect(db)
    bot = con.execute("SELECT id FROM bots WHERE name = 'bench'").fetchone()[0]
    now = int(time.time() * 1000)
    cid = con.execute("SELECT coalesce(max(id), 0) FROM contacts").fetchone()[0]
    mid = con.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
    with con:
        for i in range(n):
            cid += 1
            mid += 1
            number = "+1555%07d" % (1000000 + cid)
            con.execute("INSERT INTO contacts(id, bot_id, number, first_seen, last_seen)"
                        " VALUES(?, ?, ?, ?, ?)", (cid, bot, number, now, now))
            con.execute("INSERT INTO messages(id, bot_id, contact_id, direction, number, text,"
                        " status, segments, created_at, updated_at, sender, priority)"
                        " VALUES(?, ?, ?, 'out', ?, ?, 'queued', 1, ?, ?, ?, ?)",
                        (mid, bot, cid, number, "Bench message %d" % i, now, now, sender, priority))
    con.close()


def setup(parley_bin, fake_bin, tmp, flags):
    """A folder with the bench bot, a fake Twilio API, and a parley serve
    sending to it (not started): (fake process, database, parley)."""
    d = tempfile.mkdtemp(dir=tmp)
    scripts = os.path.join(d, "scripts")
    os.makedirs(os.path.join(scripts, "bench"))
    with open(os.path.join(scripts, "bench", "bot.lua"), "w") as f:
        f.write(BOT)
    fk, port, _ = fake(fake_bin, d, "fake")
    db = os.path.join(d, "send.db")
    p = Parley(parley_bin, d, db, scripts, {"PARLEY_TWILIO_AUTH_TOKEN": TOKEN, "PARLEY_LOG": "warn"},
               ["--provider", "twilio", "--twilio-api-url", "http://127.0.0.1:%d" % port,
                "--twilio-account-sid", SID] + flags)
    return fk, db, p


def throughput(parley_bin, fake_bin, tmp, callbacks):
    global wrong
    fk, db, p = setup(parley_bin, fake_bin, tmp,
                      ["--rate-long-code", "100000", "--send-concurrency", "64",
                       "--delivery-reports", "on" if callbacks else "off"])
    try:
        if not p.start():
            say("WRONG: parley serve did not start: " + p.log()[-300:])
            wrong += 1
            return
        p.stop()
        fill(db, N, 1)
        t0 = time.time()
        p.start()
        done = wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE status = 'queued'"
                                          " OR status = 'sending'")[0][0] == 0, timeout=120, every=0.05)
        t1 = time.time()
        rows = query(db, "SELECT min(updated_at), max(updated_at), count(*) FROM messages"
                         " WHERE status IN ('sent', 'delivered')")
        first, last, sent = rows[0]
        if callbacks:
            wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE status = 'delivered'")[0][0] == N,
                     timeout=120, every=0.2)
        delivered = query(db, "SELECT count(*) FROM messages WHERE status = 'delivered'")[0][0]
        if not done or sent != N:
            say("WRONG: %d of %d sent" % (sent, N))
            wrong += 1
            return
        span = max((last - first) / 1000.0, 1e-3)
        rate = N / span
        say("sends%s: %d messages in %.2f s (first to last recorded sent): %.0f sends/s "
            "(target >= %d: %s); %.2f s from start to an empty outbox%s" % (
                " with status callbacks" if callbacks else "", N, span, rate, TARGET_SENDS,
                "met" if rate >= TARGET_SENDS else "MISSED", t1 - t0,
                "; %d delivered by callback" % delivered if callbacks else ""))
    finally:
        p.stop()
        fk.terminate()
        fk.wait()


def rate_limit(parley_bin, fake_bin, tmp):
    global wrong
    fk, db, p = setup(parley_bin, fake_bin, tmp,
                      ["--rate-long-code", "10", "--inline-replies", "off",
                       "--delivery-reports", "off"])
    try:
        p.start()
        p.stop()
        fill(db, 200, 1)
        p.start()
        replies = []
        for i in range(8):
            time.sleep(1.2)
            p.twilio_post("/twilio/bench", [("From", "+15559%06d" % i), ("To", "+15550100"),
                                            ("Body", "r%d" % i), ("MessageSid", "SMr%d" % i)], TOKEN)
            replies.append("reply r%d" % i)
        wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE status = 'queued'")[0][0] == 0,
                 timeout=60, every=0.2)
        times = [r[0] for r in query(db, "SELECT updated_at FROM messages WHERE status = 'sent'"
                                         " ORDER BY updated_at")]
        t0 = times[0]
        in10 = sum(1 for t in times if t0 <= t < t0 + 10000)
        ok = 95 <= in10 <= 105
        waits = []
        for text in replies:
            row = query(db, "SELECT updated_at - created_at FROM messages WHERE text = ?", (text,))
            waits.append(row[0][0] if row else -1)
        bulk_left = query(db, "SELECT count(*) FROM messages WHERE priority = 1 AND updated_at >"
                              " (SELECT max(updated_at) FROM messages WHERE priority = 0"
                              " AND direction = 'out')")[0][0]
        say("rate limit 10 msg/s on one long code: %d sent in the 10 s after the first (target "
            "100 +- 5%%: %s); replies waited %s ms (max %d) while %d bulk messages were still "
            "queued behind the last one" % (in10, "met" if ok else "MISSED",
                                             ",".join(str(w) for w in waits), max(waits), bulk_left))
        if max(waits) < 0 or max(waits) > 1000 or bulk_left == 0:
            say("WRONG: replies did not go ahead of the bulk queue")
            wrong += 1
    finally:
        p.stop()
        fk.terminate()
        fk.wait()


def main():
    parley_bin, fake_bin = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="parley-send-bench.")
    try:
        throughput(parley_bin, fake_bin, tmp, callbacks=False)
        throughput(parley_bin, fake_bin, tmp, callbacks=True)
        rate_limit(parley_bin, fake_bin, tmp)
    finally:
        if os.environ.get("BENCH_SEND_KEEP") == "1":
            say("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
