#!/usr/bin/env python3
"""http.get/post from Lua against a real `parley serve` (run by
tests/e2e/lua_http.sh) and a local HTTP service on 127.0.0.1 that this
script controls: it can hold a response until told to answer.

Checked: while one fan's handler waits for a slow response, another fan's
message is answered at once (the engine is not blocked); the waiting fan's
next message waits for its handler and is handled after it, in order; a POST
carries its JSON body and headers; a timeout, a response over max_bytes, a
redirect (not followed) and a private address (refused unless
http_allow_private) reach the script as they should; a SIGKILL while a
handler waits runs it again after the restart, its reply recorded once; a
new script version loaded while a handler waits leaves that handler on its
old version and gives the next message the new one.
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Parley, check, free_port, query, request, summary, wait_for  # noqa: E402

TOKEN = "lua-http-webhook-token"
ADMIN = "lua-http-admin-token"

BOT = r'''
bot.config{ name = "Stock", quiet_hours = false,
  http = { allow = { "127.0.0.1", "localhost" }, timeout = "5s", max_bytes = "64KB" } }
local base = "http://127.0.0.1:PORT"

bot.keyword("stock", function(c, msg)
  local res, err = http.get(base .. "/slow")
  if not res then return "stock failed: " .. err end
  return "Left: " .. res.json.left .. " (v1)"
end)
bot.keyword("order", function(c, msg)
  local res = http.post(base .. "/orders", { sku = "A1", qty = 2 },
    { headers = { ["X-Shop-Key"] = "k-123" } })
  return "order " .. res.status .. " " .. res.body
end)
bot.keyword("hang", function(c, msg)
  local res, err = http.get(base .. "/hang", { timeout = 0.5 })
  return res and "hang answered" or ("hang: " .. err)
end)
bot.keyword("big", function(c, msg)
  local res, err = http.get(base .. "/big")
  return res and "big answered" or ("big: " .. err)
end)
bot.keyword("moved", function(c, msg)
  local res = http.get(base .. "/moved")
  return "moved " .. res.status .. " " .. (res.headers.location or "?")
end)
bot.keyword("local", function(c, msg)
  local res, err = http.get("http://localhost:PORT/fast")
  return res and ("local " .. res.status) or ("local: " .. err)
end)
bot.fallback(function(c, msg) return "echo " .. msg.text end)
'''


class Service(http.server.BaseHTTPRequestHandler):
    """The API the bot calls. /slow waits for `release` (set per request)."""
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    requests = []            # (method, path, headers, body)
    release = threading.Event()

    def log_message(self, *a):
        pass

    def _reply(self, status, body, ctype="application/json", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body=b""):
        with Service.lock:
            Service.requests.append((self.command, self.path, dict(self.headers), body))

    def do_GET(self):
        self._record()
        if self.path == "/slow":
            Service.release.wait(30)
            self._reply(200, '{"left": 3}')
        elif self.path == "/hang":
            time.sleep(3)
            self._reply(200, "late")
        elif self.path == "/big":
            self._reply(200, "x" * (200 * 1024), "text/plain")
        elif self.path == "/moved":
            self._reply(302, "", "text/plain", {"Location": "http://169.254.169.254/meta"})
        else:
            self._reply(200, '{"ok": true}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self._record(body)
        self._reply(201, '{"id": "o-1"}')


def seen(path):
    with Service.lock:
        return [r for r in Service.requests if r[1] == path]


def send(p, bot, number, text):
    body = json.dumps({"from": number, "text": text}).encode()
    return request(p.port, "POST", "/v1/bots/%s/messages" % bot, body,
                   {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})


def replies(db, number):
    return [r[0] for r in query(db, "SELECT m.text FROM messages m JOIN contacts c ON "
                                    "c.id = m.contact_id WHERE c.number = ? AND "
                                    "m.direction = 'out' ORDER BY m.id", (number,))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()

    svc_port = free_port()
    svc = http.server.ThreadingHTTPServer(("127.0.0.1", svc_port), Service)
    svc.daemon_threads = True
    svc.handle_error = lambda request, address: None  # parley killed mid-request
    threading.Thread(target=svc.serve_forever, daemon=True).start()

    scripts = os.path.join(a.dir, "scripts")
    for name in ("stock", "strict"):
        os.makedirs(os.path.join(scripts, name))
        with open(os.path.join(scripts, name, "bot.lua"), "w") as f:
            f.write(BOT.replace("PORT", str(svc_port)))
    db = os.path.join(a.dir, "parley.db")
    env = {"PARLEY_WEBHOOK_TOKEN": TOKEN, "PARLEY_ADMIN_TOKEN": ADMIN,
           "PARLEY_HTTP_ALLOW_PRIVATE": "on", "PARLEY_HTTP_ALLOW_PRIVATE_STRICT": "off"}
    p = Parley(a.parley, a.dir, db, scripts, env)
    if not check("parley serve starts", p.start(), p.log()):
        return summary()
    try:
        # 1. a slow response does not hold up another conversation
        Service.release.clear()
        st, body = send(p, "stock", "+15550001", "stock")
        check("the waiting handler's webhook is answered (200, no reply inline)",
              st == 200 and '"replies":[]' in body.replace(" ", ""), (st, body))
        check("its request reached the service", wait_for(lambda: seen("/slow"), 5))
        t0 = time.time()
        st, body = send(p, "stock", "+15550002", "hello")
        check("another fan is answered while the first waits",
              st == 200 and "echo hello" in body and time.time() - t0 < 3, (st, body))
        st, body = request(p.port, "GET", "/metrics", b"", {"Authorization": "Bearer " + ADMIN})
        check("/metrics shows the waiting handler and its request in flight",
              "parley_handlers_waiting 1" in body and "parley_http_in_flight 1" in body,
              [l for l in body.splitlines() if "http" in l or "waiting" in l])
        st, body = send(p, "stock", "+15550001", "after")
        check("the waiting fan's next message is acknowledged", st == 200, (st, body))
        time.sleep(0.3)
        check("... and not handled before its first handler ends",
              replies(db, "+15550001") == [], replies(db, "+15550001"))
        Service.release.set()
        got = wait_for(lambda: len(replies(db, "+15550001")) >= 2 and replies(db, "+15550001"), 10)
        check("after the response: the reply, then the next message's, in order",
              got == ["Left: 3 (v1)", "echo after"], got)

        # 2. POST with a JSON body and headers
        send(p, "stock", "+15550003", "order")
        got = wait_for(lambda: replies(db, "+15550003"), 10)
        check("a POST's answer reaches the script", got == ['order 201 {"id": "o-1"}'], got)
        posts = seen("/orders")
        body = json.loads(posts[0][3]) if posts else None
        hdrs = {k.lower(): v for k, v in posts[0][2].items()} if posts else {}
        check("the POST carried the table as JSON", body == {"sku": "A1", "qty": 2}, posts)
        check("... with Content-Type application/json and the script's header",
              hdrs.get("content-type") == "application/json" and hdrs.get("x-shop-key") == "k-123",
              hdrs)

        # 3. timeout, size cap, redirect, private addresses
        send(p, "stock", "+15550004", "hang")
        got = wait_for(lambda: replies(db, "+15550004"), 10)
        check("a timeout reaches the script as nil, reason", got and "timed out" in got[0], got)
        logged = wait_for(lambda: "event=http_failed" in p.log() and
                          "/hang -> timed out after 500 ms" in p.log(), 5)
        check("... and is logged (http_failed, with the request)", logged, p.log()[-600:])
        send(p, "stock", "+15550005", "big")
        got = wait_for(lambda: replies(db, "+15550005"), 10)
        check("a response over max_bytes is refused", got and "larger than 65536" in got[0], got)
        send(p, "stock", "+15550006", "moved")
        got = wait_for(lambda: replies(db, "+15550006"), 10)
        check("a redirect is not followed: the script sees the 302",
              got == ["moved 302 http://169.254.169.254/meta"], got)
        send(p, "strict", "+15550007", "local")
        got = wait_for(lambda: replies(db, "+15550007"), 10)
        check("http_allow_private off: a name resolving to 127.0.0.1 is refused",
              got and "private or local address" in got[0], got)
        send(p, "stock", "+15550008", "local")
        got = wait_for(lambda: replies(db, "+15550008"), 10)
        check("http_allow_private on: it is reached", got == ["local 200"], got)

        # 4. a new version while a handler waits
        Service.release.clear()
        n_slow = len(seen("/slow"))
        send(p, "stock", "+15550009", "stock")
        wait_for(lambda: len(seen("/slow")) > n_slow, 5)
        v2 = BOT.replace("PORT", str(svc_port)).replace("(v1)", "(v2)").replace(
            '"echo "', '"echo v2 "')
        st, body = request(p.port, "PUT", "/v1/bots/stock/script", v2.encode(),
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "text/x-lua"})
        check("a new version loads while a handler waits", st == 200, (st, body))
        Service.release.set()
        got = wait_for(lambda: replies(db, "+15550009"), 10)
        check("the waiting handler finishes on its own version", got == ["Left: 3 (v1)"], got)
        send(p, "stock", "+15550009", "next")
        got = wait_for(lambda: len(replies(db, "+15550009")) >= 2 and replies(db, "+15550009"), 10)
        check("the next message uses the new version", got and got[-1] == "echo v2 next", got)

        # 5. SIGKILL while a handler waits: it runs again after the restart
        Service.release.clear()
        n_slow = len(seen("/slow"))
        send(p, "stock", "+15550010", "stock")
        wait_for(lambda: len(seen("/slow")) > n_slow, 5)
        p.stop("KILL")
        Service.release.set()
        check("parley serve starts again", p.start(), p.log())
        got = wait_for(lambda: replies(db, "+15550010"), 10)
        # (the version active before the crash, v2, is active again)
        check("the handler ran again after the restart: its reply once",
              got == ["Left: 3 (v2)"], got)
        time.sleep(0.5)
        check("... and only once", replies(db, "+15550010") == ["Left: 3 (v2)"],
              replies(db, "+15550010"))
        pending = query(db, "SELECT count(*) FROM timers WHERE kind = 'rerun' AND status = 'pending'")
        check("no rerun record left pending", pending[0][0] == 0, pending)
    finally:
        Service.release.set()
        p.stop()
        svc.shutdown()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
