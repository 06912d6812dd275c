"""Replaying real messages before a reload (see ../replay.sh)."""
import argparse
import http.server
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import check, query, request, run_with_service, say_json, wait_for  # noqa: E402

HOOK, ADMIN = "replay-hook-1", "replay-admin-2"

V1 = r'''bot.config{ name = "Shop", quiet_hours = false, http = { allow = { "127.0.0.1" } } }
bot.keyword("price", function(c) return "A ticket is $10" end)
bot.keyword("hours", function(c) return "Open 9 to 5" end)
bot.keyword("join", function(c)
  c:expect("city")
  return "Which city?"
end)
bot.handler("city", function(c, msg)
  c.fields.city = msg.text
  return "Noted: " .. msg.text
end)
bot.keyword("stock", function(c)
  local res = http.get("http://127.0.0.1:PORT/stock")
  return "Left: " .. res.json.left
end)
bot.fallback(function(c, msg)
  return "You said: " .. msg.text .. (c.fields.city and (" in " .. c.fields.city) or "")
end)
'''
V2 = V1.replace("A ticket is $10", "A ticket is $12")
V3 = V2 + "\n-- a comment: nothing changes\n"
V4 = V2.replace('''bot.fallback(function(c, msg)
  return''', '''bot.fallback(function(c, msg)
  if msg.text:find("refund") then error("refunds are not handled here") end
  return''')
V5 = V2.replace('''  local res = http.get("http://127.0.0.1:PORT/stock")''',
                '''  local res = http.get("http://127.0.0.1:PORT/stock?v=5")''')
V7 = V2.replace('bot.keyword("price", function(c) return "A ticket is $12" end)',
                'bot.keyword("price", function(c) while true do end end)')
V6 = V2.replace('''bot.keyword("hours", function(c) return "Open 9 to 5" end)''',
                '''bot.keyword("hours", function(c) end)''')


class Service(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    left = 3

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps({"left": Service.left}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def say(p, frm, text):
    status, replies = say_json(p, HOOK, "shop", frm, text)
    return replies if status == 200 else (status, replies)


def reload(parley, p, folder, *flags):
    env = dict(os.environ, PARLEY_ADMIN_TOKEN=ADMIN)
    r = subprocess.run([parley, "reload", "shop", "--dir", folder, "--url", p.url()] + list(flags),
                       capture_output=True, text=True, env=env, timeout=120)
    return r.returncode, r.stdout, r.stderr


def put(p, source, query_string=""):
    status, body = request(p.port, "PUT", "/v1/bots/shop/script" + query_string,
                           json.dumps({"files": {"bot.lua": source}}).encode(),
                           {"Authorization": "Bearer " + ADMIN,
                            "Content-Type": "application/json"})
    return status, json.loads(body)


def active(p):
    status, body = request(p.port, "GET", "/v1/bots/shop/versions", b"",
                           {"Authorization": "Bearer " + ADMIN})
    return [v["version"] for v in json.loads(body)["versions"] if v["active"]]


def write(folder, source):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "bot.lua"), "w") as f:
        f.write(source)


def run(p, parley, db, tmp, port):
    fans = ["+15550001", "+15550002", "+15550003"]
    for f in fans:
        say(p, f, "price")
        say(p, f, "hours")
    say(p, fans[0], "join")
    say(p, fans[0], "Austin")
    say(p, fans[0], "where is my refund")  # only a real fan wrote this
    say(p, fans[1], "stock")
    wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = 'Left: 3'")[0][0])
    Service.left = 99  # a replay must not ask again: the recorded answer is used
    inbound = query(db, "SELECT count(*) FROM messages WHERE direction = 'in'")[0][0]

    folder = os.path.join(tmp, "v2")
    write(folder, V2.replace("PORT", str(port)))
    rc, out, err = reload(parley, p, folder, "--dry-run")
    check("reload --dry-run prints the replay: the 3 price messages changed", rc == 0 and
          "replayed %d real messages of 3 conversations" % inbound in out and
          "3 changed, 0 now fail" in out and "old: A ticket is $10" in out and
          "new: A ticket is $12" in out, (rc, out, err))
    check("and activates nothing", active(p) == [1], active(p))
    check("the running version still answers", say(p, "+15550009", "price") == ["A ticket is $10"])
    rc, out, err = reload(parley, p, folder)
    check("reload activates it, printing the same report", rc == 0 and "version 2 is active" in out
          and "4 changed" in out, (rc, out, err))

    status, body = put(p, V3.replace("PORT", str(port)))
    r = body.get("replay", {})
    check("an identical version: an empty report (every message the same)",
          status == 200 and r.get("changed") == 0 and r.get("errors") == 0 and
          r.get("silent") == 0 and r.get("identical") == r.get("messages") and
          r.get("unanswerable") == 0 and all(not v for v in r.get("examples", {}).values()),
          body)
    check("the recorded answer answered the request (not the service, now saying 99)",
          r.get("unanswerable") == 0 and r.get("identical") == r.get("messages"), r)

    status, body = put(p, V4.replace("PORT", str(port)))
    r = body.get("replay", {})
    failing = r.get("examples", {}).get("errors", [])
    check("a version failing on a message only real fans sent is refused (422)",
          status == 422 and "accept_errors" in body.get("error", "") and r.get("errors") == 1,
          body)
    check("the report names the message and the new error",
          failing and failing[0]["number"] == fans[0] and
          failing[0]["text"] == "where is my refund" and
          failing[0]["new"] == ["error: refunds are not handled here"] and
          failing[0]["old"] == ["You said: where is my refund in Austin"], failing)
    check("the old version stays active", active(p) == [3] and
          say(p, "+15550010", "refund?") == ["You said: refund?"], active(p))
    folder4 = os.path.join(tmp, "v4")
    write(folder4, V4.replace("PORT", str(port)))
    rc, out, err = reload(parley, p, folder4)
    check("parley reload says so, and which message", rc == 1 and "now fail" in err and
          "where is my refund" in err and "refunds are not handled here" in err, (rc, out, err))
    rc, out, err = reload(parley, p, folder4, "--accept-errors")
    check("--accept-errors activates it all the same", rc == 0 and "is active" in out,
          (rc, out, err))
    check("a restart keeps the version accepted", (p.stop(), p.start())[1] and active(p) == [4],
          active(p))

    status, body = put(p, V5.replace("PORT", str(port)))
    r = body.get("replay", {})
    un = r.get("examples", {}).get("unanswerable", [])
    check("a request the old messages never made is unanswerable, and said so",
          status == 200 and r.get("unanswerable") == 1 and un and un[0]["text"] == "stock" and
          un[0]["old"] == ["Left: 3"] and r.get("errors") == 0, body)

    status, body = put(p, V6.replace("PORT", str(port)), "?dry_run=1")
    r = body.get("replay", {})
    check("a version that stops answering: the messages that now get no reply",
          status == 200 and body.get("status") == "dry_run" and r.get("silent") == 3 and
          r["examples"]["silent"][0]["new"] == [] and
          r["examples"]["silent"][0]["old"] == ["Open 9 to 5"], body)
    check("a dry run through the API activates nothing", active(p) == [5], active(p))

    status, body = put(p, V7.replace("PORT", str(port)))
    r = body.get("replay", {})
    check("a version that now hits a limit on real messages is refused, the messages named",
          status == 422 and r.get("limits") == 4 and r.get("errors") == 0 and
          r["examples"]["limits"][0]["text"] == "price" and not r.get("stopped") and
          active(p) == [5], body)

    # the console's ways: a version's test shows the replay; making one active is gated
    status, body = request(p.port, "POST", "/v1/bots/shop/versions/1/test", b"",
                           {"Authorization": "Bearer " + ADMIN})
    r = json.loads(body).get("replay") or {}
    check("a version's test replays real messages on it and the active version",
          status == 200 and r.get("changed", 0) >= 4 and
          r["examples"]["changed"][0]["new"] == ["A ticket is $10"], body)
    status, body = request(p.port, "POST", "/v1/bots/shop/rollback",
                           json.dumps({"version": 4}).encode(),
                           {"Authorization": "Bearer " + ADMIN,
                            "Content-Type": "application/json"})
    check("a rollback to a version that fails on real messages is refused, with the report",
          status == 422 and json.loads(body)["replay"]["errors"] == 2 and active(p) == [5], body)
    status, body = request(p.port, "POST", "/v1/bots/shop/rollback?accept_errors=1",
                           json.dumps({"version": 4}).encode(),
                           {"Authorization": "Bearer " + ADMIN,
                            "Content-Type": "application/json"})
    check("accept_errors makes it active", status == 200 and active(p) == [4], body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    parley = os.path.abspath(a.parley)
    env = {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN,
           "PARLEY_TEST_CLOCK": "2026-03-02 12:00", "PARLEY_LOG": "warn",
           "PARLEY_HTTP_ALLOW_PRIVATE": "on"}
    return run_with_service(parley, a.dir, Service, "shop", V1, env,
                            lambda p, db, scripts, port: run(p, parley, db, a.dir, port))


if __name__ == "__main__":
    sys.exit(main())
