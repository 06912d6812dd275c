#!/usr/bin/env python3
"""make bench, console part: the console's inbox over 10,000 conversations.

A bot's database gets 10,000 contacts with a fan's message and the bot's
reply each (written straight into it while parley is stopped), then
`parley serve` starts and:

1. API: the inbox's calls, each timed over 20 runs (median and slowest):
   the first page, the next page, a search that matches one conversation's
   text, the "needs a person" filter, one conversation's history.
2. The page: headless Chromium (Debian's chromium and chromium-driver,
   python3-selenium) opens /console signed in; reported is the time from
   the start of the navigation to the inbox's first page drawn (the page's
   performance mark "inbox-rendered"), over 5 loads. Skipped, said so,
   where Chromium is missing.

Prints figures; no target is set for them yet.
"""
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e", "lib"))
from harness import Parley, request  # noqa: E402

N = 10000
ADMIN = "bench-admin"
BOT = 'bot.fallback(function(c, msg) return "reply " .. msg.text end)\n'


def say(line):
    print(line, flush=True)


def fill(db, n):
    """n conversations of bot 'bench': a message in and a reply out each."""
    con = sqlite3.connect(db)
    bot = con.execute("SELECT id FROM bots WHERE name = 'bench'").fetchone()[0]
    now = int(time.time() * 1000) - n * 1000
    with con:
        for i in range(1, n + 1):
            number = "+1555%07d" % i
            at = now + i * 1000
            con.execute("INSERT INTO contacts(id, bot_id, number, fields, first_seen, last_seen)"
                        " VALUES(?, ?, ?, ?, ?, ?)",
                        (i, bot, number, json.dumps({"name": "Fan %d" % i}), at, at))
            for k, (direction, text, status) in enumerate(
                    (("in", "Hello from fan %d" % i, "done"),
                     ("out", "reply Hello from fan %d" % i, "sent"))):
                con.execute("INSERT INTO messages(id, bot_id, contact_id, direction, number, text,"
                            " status, segments, created_at, updated_at)"
                            " VALUES(?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                            (2 * i + k, bot, i, direction, number, text, status, at + k, at + k))
        con.execute("UPDATE contacts SET handoff = ? WHERE id % 100 = 0",
                    (json.dumps({"reason": "bench", "since": now}),))
    con.close()


def timed(port, path, runs=20):
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        status, body = request(port, "GET", path, headers={"Authorization": "Bearer " + ADMIN})
        ms.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError("%s: %d %s" % (path, status, body[:200]))
    return statistics.median(ms), max(ms), body


def api(p):
    say("console API over %d conversations (ms: median, slowest of 20)" % N)
    first, worst, body = timed(p.port, "/v1/bots/bench/conversations")
    page = json.loads(body)
    say("  first page (50):        %6.1f %6.1f" % (first, worst))
    med, worst, _ = timed(p.port, "/v1/bots/bench/conversations?before=" + page["next"])
    say("  next page:              %6.1f %6.1f" % (med, worst))
    med, worst, body = timed(p.port, "/v1/bots/bench/conversations?search=fan%205000")
    say("  search in every text:   %6.1f %6.1f (%d found)"
        % (med, worst, len(json.loads(body)["conversations"])))
    med, worst, body = timed(p.port, "/v1/bots/bench/conversations?needs_person=1")
    say("  needs a person:         %6.1f %6.1f (%d found)"
        % (med, worst, len(json.loads(body)["conversations"])))
    med, worst, _ = timed(p.port, "/v1/bots/bench/contacts/%2B15550005000/messages")
    say("  one conversation:       %6.1f %6.1f" % (med, worst))


def page(p):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        say("console page: skipped (python3-selenium is not installed)")
        return
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        say("console page: skipped (chromium, chromium-driver are not installed)")
        return
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        d.get(p.url() + "/console/nothing-here")  # the cookie's site, without the page
        d.add_cookie({"name": "parley_session", "value": session_cookie(p), "path": "/"})
        times = []
        for _ in range(5):
            d.get(p.url() + "/console/")
            t = None
            deadline = time.time() + 30
            while t is None and time.time() < deadline:
                t = d.execute_script(
                    "const m = performance.getEntriesByName('inbox-rendered');"
                    "return m.length ? m[0].startTime : null;")
                if t is None:
                    time.sleep(0.02)
            if t is None:
                raise RuntimeError("the inbox was not drawn within 30 s")
            times.append(t)
        say("console page: first render of the inbox over %d conversations: median %.0f ms, "
            "slowest %.0f ms (5 loads, from navigation start)"
            % (N, statistics.median(times), max(times)))
    finally:
        d.quit()


def session_cookie(p):
    """A session's secret, signed in through the API."""
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
    conn.request("POST", "/v1/console/session", json.dumps({"token": ADMIN, "name": "bench"}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie") or ""
    conn.close()
    return cookie.split(";", 1)[0].split("=", 1)[1]


def main():
    parley = sys.argv[1] if len(sys.argv) > 1 else "./parley"
    tmp = tempfile.mkdtemp(prefix="parley-bench-console-")
    scripts = os.path.join(tmp, "scripts")
    os.makedirs(os.path.join(scripts, "bench"))
    with open(os.path.join(scripts, "bench", "bot.lua"), "w") as f:
        f.write(BOT)
    db = os.path.join(tmp, "console.db")
    p = Parley(parley, tmp, db, scripts, {"PARLEY_ADMIN_TOKEN": ADMIN, "PARLEY_LOG": "warn"})
    try:
        if not p.start():
            say("WRONG: parley serve did not start: " + p.log()[-500:])
            return 1
        p.stop()
        fill(db, N)
        if not p.start():
            say("WRONG: parley serve did not start again: " + p.log()[-500:])
            return 1
        api(p)
        page(p)
    finally:
        p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
