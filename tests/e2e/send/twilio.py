#!/usr/bin/env python3
"""Outbound delivery through a local fake of Twilio's REST API (run by
tests/e2e/send_twilio.sh; the fake is build/fake_twilio, tests/fake/).

The fake checks each request's format and basic auth, answers 429 and 500
on some calls, refuses some numbers with Twilio's error codes, and posts
signed status callbacks. Checked here: replies and triggered messages reach
it once each with the right From/To/Body/StatusCallback; 429/500 are
retried until taken; status callbacks move messages to delivered (in either
order) and run bot.on_status; 21610 opts the contact out in the consent
ledger; 21211 marks the contact; a broadcast does not hold back a reply on
the same number; a SIGKILL with requests in flight loses nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import FakeTwilio, Parley, check, query, request, summary, wait_for  # noqa: E402

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "fake-twilio-token-1"
ADMIN = "admin-token-2"

BOT = r'''
bot.config{ name = "Shop", numbers = { "+15550100" }, quiet_hours = false }
bot.fallback(function(c, msg) return "Got it: " .. msg.text end)
bot.on_event("order.paid", function(c, ev)
  c:send("Order " .. ev.order .. " confirmed", { transactional = true })
end)
bot.on_event("promo", function(c, ev) c:send("Promo " .. ev.n) end)
bot.on_event("poster", function(c, ev)
  c:send("Tour poster", { media = { "https://cdn.example.com/poster.jpg" }, transactional = true })
end)
-- captured by the on_status function only: one contact's report must not
-- leave anything in it for the next (it is frozen like any handler's)
local last_report = {}
bot.on_status(function(c, st)
  c.state.statuses = (c.state.statuses or "") .. st.status .. ";"
  if st.status == "failed" then c.state.failed_error = st.error end
  if c.state.saw == nil then
    c.state.saw = tostring(last_report.number)
    c.state.kept = pcall(function() last_report.number = c.number end)
  end
end)
'''


PROMO = r'''
bot.config{ name = "Promo", numbers = { "+15550300" }, quiet_hours = false }
bot.fallback(function(c, msg) return "Promo bot: " .. msg.text end)
'''


SLOW = r'''
bot.config{ name = "Slow", numbers = { "+15550500" }, quiet_hours = false,
            limits = { instructions = 1e9, time = "5s" } }
bot.keyword("slow", function(c, msg)
  local x = 0
  for i = 1, 6e7 do x = x + 1 end
  return "slow done"
end)
bot.fallback(function(c, msg) return "quick: " .. msg.text end)
'''


def Fake(binary, workdir, args, name="fake"):
    return FakeTwilio(binary, workdir, SID, TOKEN, args, name)


def event(p, contact, kind, data):
    body = json.dumps({"type": kind, "contact": contact, "data": data}).encode()
    return request(p.port, "POST", "/v1/bots/shop/events", body,
                   {"Authorization": "Bearer hook-token-3", "Content-Type": "application/json"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    scripts = os.path.join(a.dir, "scripts")
    os.makedirs(os.path.join(scripts, "shop"))
    with open(os.path.join(scripts, "shop", "bot.lua"), "w") as f:
        f.write(BOT)
    os.makedirs(os.path.join(scripts, "slow"))
    with open(os.path.join(scripts, "slow", "bot.lua"), "w") as f:
        f.write(SLOW)
    os.makedirs(os.path.join(scripts, "promo"))
    with open(os.path.join(scripts, "promo", "bot.lua"), "w") as f:
        f.write(PROMO)

    fake = Fake(a.fake, a.dir, ["--fail-429", "5", "--fail-500", "7",
                                "--code", "+15550666=21610", "--code", "+15550777=21211",
                                "--undelivered", "+15550888=30003"])
    # bot "promo" sends through a fake of its own that refuses nothing, so the
    # order of its sends shows the priorities alone (a per-bot setting)
    clean = Fake(a.fake, a.dir, [], name="clean")
    if not check("the fake Twilio APIs start", fake.port and clean.port,
                 fake.proc.stdout.read() if fake.proc.poll() is not None else ""):
        return summary()
    env = {"PARLEY_TWILIO_AUTH_TOKEN": TOKEN, "PARLEY_WEBHOOK_TOKEN": "hook-token-3",
           "PARLEY_ADMIN_TOKEN": ADMIN, "PARLEY_LOG": "debug", "PARLEY_RATE_LONG_CODE_PROMO": "4",
           "PARLEY_INLINE_REPLIES_SLOW": "on",
           "PARLEY_TWILIO_API_URL_PROMO": "http://127.0.0.1:%d" % clean.port}
    db = os.path.join(a.dir, "send.db")
    p = Parley(a.parley, a.dir, db, scripts, env, [
        "--provider", "twilio", "--twilio-api-url", "http://127.0.0.1:%d" % fake.port,
        "--twilio-account-sid", SID, "--inline-replies", "off", "--rate-long-code", "40",
        "--reply-deadline-ms", "150"])
    try:
        if not check("parley serve starts with provider twilio", p.start(), p.log()):
            return summary()
        run(p, fake, clean, db)
        restart_under_kill(a, p, db)
        refused_account(a, scripts, clean)
    finally:
        p.stop()
        fake.stop()
        clean.stop()
    return summary()


def status_of(db, text):
    rows = query(db, "SELECT status, provider_id, attempts, error FROM messages"
                     " WHERE direction = 'out' AND text = ?", (text,))
    return rows[0] if rows else None


def run(p, fake, clean, db):
    # an inbound Twilio message; inline replies are off: the reply goes through the API
    st, body = p.twilio_post("/twilio/shop", [("From", "+15550001"), ("To", "+15550100"),
                                               ("Body", "hello"), ("MessageSid", "SMin1")], TOKEN)
    check("inbound webhook is answered with an empty TwiML response (inline replies off)",
          st == 200 and "<Response/>" in body, body)
    sent = wait_for(lambda: [x for x in fake.accepted() if x.get("body") == "Got it: hello"])
    check("the reply reaches the provider API once", len(sent) == 1, fake.lines()[-5:])
    if sent:
        m = sent[0]
        check("with To = the fan and From = the number the fan texted",
              m.get("to") == "+15550001" and m.get("from") == "+15550100", m)
        cb = m.get("status_callback") or ""
        check("and a StatusCallback on the bot's status URL with our message id",
              cb.startswith(p.url() + "/twilio/status/shop?m="), cb)
        row = wait_for(lambda: (status_of(db, "Got it: hello") or ("",))[0] == "delivered"
                       and status_of(db, "Got it: hello"))
        check("the signed status callbacks move it to delivered, with Twilio's sid",
              row and row[1] == m.get("sid"), status_of(db, "Got it: hello"))
        states = wait_for(lambda: query(db, "SELECT v.state FROM conversations v JOIN contacts c"
                                            " ON c.id = v.contact_id WHERE c.number = '+15550001'"))
        check("bot.on_status ran for the report", states and "delivered;" in states[0][0], states)

    # triggered messages, some through 429s and 500s
    orders = ["+1555020%02d" % i for i in range(20)]
    for i, n in enumerate(orders):
        st, body = event(p, n, "order.paid", {"order": str(i)})
        if st != 200:
            check("event %d accepted" % i, False, body)
    texts = ["Order %d confirmed" % i for i in range(20)]
    done = wait_for(lambda: all((status_of(db, t) or ("",))[0] == "delivered" for t in texts),
                    timeout=40)
    check("20 triggered messages are all delivered despite 429s and 500s", done,
          [status_of(db, t) for t in texts if (status_of(db, t) or ("",))[0] != "delivered"])
    probes = query(db, "SELECT v.state FROM conversations v JOIN contacts c ON c.id = v.contact_id"
                       " WHERE c.number LIKE '+1555020%'")
    leaked = [r[0] for r in probes if '"saw":"nil"' not in r[0] or '"kept":false' not in r[0]]
    check("bot.on_status's upvalues are frozen: no report saw another contact's write",
          len(probes) == 20 and not leaked, leaked[:3] or probes[:3])
    bodies = [x.get("body") for x in fake.accepted()]
    check("each reached the provider exactly once (a 429 or 500 created nothing)",
          all(bodies.count(t) == 1 for t in texts), [t for t in texts if bodies.count(t) != 1])
    retried = [t for t in texts if (status_of(db, t) or (0, 0, 1))[2] > 1]
    rejected = [x for x in fake.lines() if x.get("rejected") in (429, 500)]
    check("the refused ones were retried (attempts > 1)", rejected and retried,
          "rejected %d, retried %d" % (len(rejected), len(retried)))
    st, metrics = request(p.port, "GET", "/metrics")
    check("/metrics counts the retries", 'parley_sends_total{result="retried"} 0' not in metrics
          and 'parley_sends_total{result="retried"}' in metrics, metrics[-600:])

    # a picture (MMS): MediaUrl
    event(p, "+15550003", "poster", {})
    mms = wait_for(lambda: [x for x in fake.accepted() if x.get("body") == "Tour poster"])
    check("a message with media reaches the API with its MediaUrl",
          mms and mms[0].get("media") == ["https://cdn.example.com/poster.jpg"], mms)

    # Twilio 21610: the carrier says the recipient opted out
    event(p, "+15550666", "order.paid", {"order": "x"})
    row = wait_for(lambda: (status_of(db, "Order x confirmed") or ("",))[0] == "failed"
                   and status_of(db, "Order x confirmed"))
    check("21610 fails the message at once, with the reason", row and "21610" in (row[3] or "")
          and row[2] == 1, status_of(db, "Order x confirmed"))
    c = query(db, "SELECT status FROM contacts WHERE number = '+15550666'")
    check("and opts the contact out", c and c[0][0] == "opted_out", c)
    ledger = query(db, "SELECT action, source, text FROM consent WHERE number = '+15550666'")
    check("with a consent ledger entry from the carrier",
          ledger and ledger[-1][0] == "optout" and ledger[-1][1] == "carrier" and "21610" in ledger[-1][2],
          ledger)
    states = wait_for(lambda: [r for r in query(db, "SELECT v.state FROM conversations v JOIN contacts c"
                                                    " ON c.id = v.contact_id WHERE c.number = '+15550666'")
                               if "failed" in r[0]])
    check("bot.on_status saw the failure with its reason", states and "21610" in states[0][0], states)
    event(p, "+15550666", "promo", {"n": "1"})
    supp = wait_for(lambda: query(db, "SELECT status FROM messages WHERE text = 'Promo 1'"))
    check("a later marketing send to that contact is suppressed, not sent",
          supp and supp[0][0] == "suppressed", supp)

    # Twilio 21211: an invalid number is marked on the contact
    event(p, "+15550777", "order.paid", {"order": "y"})
    row = wait_for(lambda: (status_of(db, "Order y confirmed") or ("",))[0] == "failed")
    c = query(db, "SELECT undeliverable, status FROM contacts WHERE number = '+15550777'")
    check("21211 fails the message and marks the contact invalid_number (its status unchanged:"
          " not opted in, as the event created it)",
          row and c and c[0] == ("invalid_number", "not_opted_in"), c)
    st, out = request(p.port, "GET", "/v1/bots/shop/contacts/+15550777", b"",
                      {"Authorization": "Bearer " + ADMIN})
    check("the admin API shows the mark", st == 200 and '"undeliverable":"invalid_number"' in out, out)
    event(p, "+15550777", "order.paid", {"order": "y2"})
    row = wait_for(lambda: status_of(db, "Order y2 confirmed"))
    check("a later send to that number is not tried: failed, saying why",
          row and row[0] == "failed" and (row[3] or "").startswith("undeliverable"), row)
    time.sleep(0.3)
    check("... and never reaches the provider",
          not [x for x in fake.lines() if x.get("body") == "Order y2 confirmed"], fake.lines()[-3:])
    p.twilio_post("/twilio/shop", [("From", "+15550777"), ("To", "+15550100"),
                                   ("Body", "I am real"), ("MessageSid", "SMreal1")], TOKEN)
    # (the fake refuses this number every time, so the mark comes back after)
    # requests to it: "Order y confirmed", then (not y2) the reply to its text
    tried = wait_for(lambda: len([x for x in fake.lines() if x.get("to") == "+15550777"]) == 2)
    check("the number texting in clears the mark: the reply to it is tried", tried,
          fake.lines()[-3:])

    # an undelivered report (carrier error 30003)
    event(p, "+15550888", "order.paid", {"order": "z"})
    row = wait_for(lambda: (status_of(db, "Order z confirmed") or ("",))[0] == "undelivered"
                   and status_of(db, "Order z confirmed"))
    check("an 'undelivered' callback is recorded with its error code",
          row and row[3] == "30003", status_of(db, "Order z confirmed"))

    # status callbacks: bad signature, unknown message, repeated
    params = [("MessageSid", "SMnope"), ("MessageStatus", "delivered")]
    st, _ = p.twilio_post("/twilio/status/shop?m=1", params, "wrong-token")
    check("a status callback with a bad signature is refused (403)", st == 403, st)
    st, _ = p.twilio_post("/twilio/status/shop?m=999999", params, TOKEN)
    check("a status for an unknown message is acknowledged (200)", st == 200, st)
    check("and logged", wait_for(lambda: "status_unknown" in p.log(), timeout=5), p.log()[-500:])
    sid = status_of(db, "Order 3 confirmed")[1]
    mid = query(db, "SELECT id FROM messages WHERE text = 'Order 3 confirmed'")[0][0]
    st, _ = p.twilio_post("/twilio/status/shop?m=%d" % mid,
                          [("MessageSid", sid), ("MessageStatus", "sent")], TOKEN)
    check("a late 'sent' after 'delivered' is acknowledged and changes nothing",
          st == 200 and status_of(db, "Order 3 confirmed")[0] == "delivered",
          status_of(db, "Order 3 confirmed"))

    # the reply deadline (150 ms here): a webhook that waits behind a slow
    # handler, or whose handler replies after it, is answered with an empty
    # <Response/> and its reply goes through the API
    answers = {}

    def post(name, text, sid):
        answers[name] = p.twilio_post("/twilio/slow", [("From", name), ("To", "+15550500"),
                                                      ("Body", text), ("MessageSid", sid)], TOKEN)
    t1 = threading.Thread(target=post, args=("+15550901", "slow", "SMs1"))
    t1.start()
    time.sleep(0.05)
    t2 = threading.Thread(target=post, args=("+15550902", "later", "SMs2"))
    t2.start()
    t1.join()
    t2.join()
    late = answers.get("+15550902", (0, ""))
    check("a webhook that waited past the deadline is answered with an empty <Response/>",
          late[0] == 200 and "<Response/>" in late[1], answers)
    check("and its reply goes out through the API",
          wait_for(lambda: [x for x in fake.accepted() if x.get("body") == "quick: later"], timeout=30),
          fake.lines()[-3:])
    first = answers.get("+15550901", (0, ""))
    check("a handler that runs past the deadline: its answer is empty and its reply goes "
          "through the API", "<Response/>" in first[1] and
          wait_for(lambda: [x for x in fake.accepted() if x.get("body") == "slow done"], timeout=30),
          first)

    # a broadcast on the same number does not hold back a reply: bot "promo"
    # sends 4 a second from +15550300 (its own rate, PARLEY_RATE_LONG_CODE_PROMO)
    fans = ["+1555040%02d" % i for i in range(8)]
    for i, n in enumerate(fans):
        p.twilio_post("/twilio/promo", [("From", n), ("To", "+15550300"), ("Body", "hi"),
                                        ("MessageSid", "SMp%d" % i)], TOKEN)
    wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = 'Promo bot: hi'"
                               " AND status IN ('sent','delivered')")[0][0] == len(fans), timeout=10)
    t0 = time.time()
    wait_for(lambda: False, timeout=1.0)  # the bucket refills
    body = json.dumps({"segment": {}, "text": "Sale today", "rate": 1000}).encode()
    st, out = request(p.port, "POST", "/v1/bots/promo/broadcasts", body,
                      {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
    check("a broadcast to the promo bot's 8 fans is created", st == 201, out)
    wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = 'Sale today'")[0][0] == len(fans),
             timeout=5)
    time.sleep(0.3)
    p.twilio_post("/twilio/promo", [("From", fans[0]), ("To", "+15550300"),
                                    ("Body", "where is my order"), ("MessageSid", "SMp-late")], TOKEN)
    wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = 'Sale today'"
                               " AND status IN ('sent','delivered')")[0][0] == len(fans), timeout=10)
    order = [x.get("body") for x in clean.accepted()]
    try:
        reply = order.index("Promo bot: where is my order")
        sales_before = order[:reply].count("Sale today")
        sales_after = order[reply:].count("Sale today")
    except ValueError:
        sales_before = sales_after = -1
    check("the reply went out ahead of the queued broadcast on the same number",
          0 <= sales_before <= 3 and sales_after >= 4,
          "sales before the reply: %d, after: %d" % (sales_before, sales_after))
    elapsed = time.time() - t0
    check("and the number's rate held (8 sales and a reply at 4/s take about 2 s)",
          elapsed >= 1.0 + 1.5, "%.2f s" % elapsed)


def refused_account(a, scripts, clean):
    """A wrong auth token: the provider refuses the account, so the bot's
    messages wait (not failed, attempts not counted) until the server runs
    with the right one."""
    db = os.path.join(a.dir, "refused.db")
    flags = ["--provider", "twilio", "--twilio-api-url", "http://127.0.0.1:%d" % clean.port,
             "--twilio-account-sid", SID, "--inline-replies", "off"]
    env = {"PARLEY_WEBHOOK_TOKEN": "hook-token-3", "PARLEY_TWILIO_AUTH_TOKEN": "not-the-token"}
    p = Parley(a.parley, a.dir, db, scripts, env, flags, name="refused")
    try:
        check("parley starts with a wrong Twilio token", p.start(), p.log()[-300:])
        body = json.dumps({"from": "+15550951", "text": "anyone there"}).encode()
        request(p.port, "POST", "/v1/bots/shop/messages", body,
                {"Authorization": "Bearer hook-token-3", "Content-Type": "application/json"})
        logged = wait_for(lambda: "provider_refused" in p.log(), timeout=10)
        # the log line comes before the sender's write is committed
        wait_for(lambda: query(db, "SELECT status FROM messages"
                                   " WHERE text = 'Got it: anyone there'") == [("queued",)],
                 timeout=10)
        row = query(db, "SELECT status, attempts, error FROM messages WHERE text = 'Got it: anyone there'")
        check("the refused account pauses the bot: its message waits, queued, the attempt not "
              "counted, with the reason", logged and row and row[0][0] == "queued" and row[0][1] == 0
              and "20003" in (row[0][2] or ""), (row, p.log()[-400:]))
        time.sleep(1)
        check("nothing is failed while paused",
              query(db, "SELECT count(*) FROM messages WHERE status = 'failed'")[0][0] == 0)
        p.stop()
        p.env["PARLEY_TWILIO_AUTH_TOKEN"] = TOKEN
        p.start()
        sent = wait_for(lambda: [x for x in clean.accepted() if x.get("body") == "Got it: anyone there"],
                        timeout=15)
        check("with the right token after a restart, the waiting message goes out", sent,
              query(db, "SELECT status, attempts, next_attempt_at, error FROM messages"
                        " WHERE direction = 'out'"))
    finally:
        p.stop()


def restart_under_kill(a, p, db):
    """Requests in flight when the server dies are sent after the restart."""
    slow = Fake(a.fake, a.dir, ["--latency-ms", "1500"], name="slow")
    p.stop()
    p.flags = [f if "127.0.0.1:" not in f else "http://127.0.0.1:%d" % slow.port for f in p.flags]
    try:
        check("parley restarts against a slow provider", p.start(), p.log()[-500:])
        texts = ["Crash %d" % i for i in range(5)]
        for i in range(5):
            event(p, "+1555030%02d" % i, "promo", {"n": "x"})
        time.sleep(0.1)
        # the events' messages are "Promo x"; wait until they are in flight
        inflight = wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = 'Promo x'"
                                              " AND status = 'sending'")[0][0] > 0, timeout=5)
        p.stop("KILL")
        check("messages were in flight when the server was killed", inflight)
        p.start()
        done = wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = 'Promo x'"
                                          " AND status IN ('sent','delivered')")[0][0] == 5,
                        timeout=20)
        check("after the restart every one of them is sent", done,
              query(db, "SELECT status, attempts FROM messages WHERE text = 'Promo x'"))
        check("the restart logged how many were in flight again", "outbox_recovered" in p.log())
        check("the database passes integrity_check",
              query(db, "PRAGMA integrity_check") == [("ok",)])
        del texts
    finally:
        slow.stop()


if __name__ == "__main__":
    sys.exit(main())
