"""parley pull against parley serve (see ../pull.sh)."""
import argparse
import http.client
import http.server
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import check, query, request, run_with_service, say_json, wait_for  # noqa: E402

HOOK, ADMIN = "pull-hook-1", "pull-admin-2"
FAN = "+15550001"

CLUB = r'''bot.config{ name = "Club", quiet_hours = false, http = { allow = { "127.0.0.1" } } }
local base = "http://127.0.0.1:PORT"

bot.on_join(function(c, msg)
  c:start_drip("welcome")
  c:expect("city")
  return "Welcome! Which city are you in?"
end)

bot.handler("city", function(c, msg)
  c.fields.city = msg.text
  c.state.asked = (c.state.asked or 0) + 1
  c:tag("local")
  return "Noted, " .. msg.text .. ". Your number is {{number}}."
end)

bot.drip("welcome", {
  { after = "2s", text = "Second two in {{fields.city}}" },
  { after = "1s", text = 'Tickets: {{link "https://club.example/day"}}' },
})

bot.keyword("stock", function(c)
  local res = http.get(base .. "/stock")
  return "Left: " .. res.json.left
end)

bot.keyword("boom", function(c)
  error("no stock for " .. c.fields.city)
end)

bot.on_click(function(c, click)
  return "Enjoy, " .. c.fields.city
end)

bot.fallback(function(c, msg)
  return "You said " .. msg.text .. " (" .. c.fields.city .. ", asked " .. c.state.asked .. ")"
end)
'''


class Service(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b'{"left": 3, "note": "line one\\nline two"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def say(p, text):
    return say_json(p, HOOK, "club", FAN, text)[0]


def pull(parley, p, args, env):
    r = subprocess.run([parley, "pull", "club", FAN, "--url", p.url()] + args,
                       capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, r.stdout, r.stderr


def test(parley, path):
    r = subprocess.run([parley, "test", path], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def replies(db):
    return [r[0] for r in query(db, "SELECT text FROM messages WHERE number = ? AND"
                                    " direction = 'out' ORDER BY id", (FAN,))]


def run(p, parley, db, scripts, tmp):
    for text in ("hi", "Austin", "stock"):
        say(p, text)
    check("the conversation's first answers", wait_for(lambda: len(replies(db)) >= 3),
          replies(db))
    check("the drip's steps went out", wait_for(lambda: len(replies(db)) >= 5), replies(db))
    p.stop()
    p.env["PARLEY_TEST_CLOCK"] = "2026-03-02 12:10"  # ten minutes on
    check("parley serve starts again", p.start(), p.log())
    link = re.findall(r"/l/\w{12}", " ".join(replies(db)))
    if check("the drip's step carries a short link", link, replies(db)):
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        conn.request("GET", link[0], headers={"User-Agent": "Mozilla/5.0 (iPhone) Safari/604.1"})
        check("the fan opens it", conn.getresponse().status == 302)
        conn.close()
    say(p, "what now")
    say(p, "boom")
    say(p, "bye {{fields.city}} \\ done")
    wait_for(lambda: len(replies(db)) >= 8)

    env = dict(os.environ, PARLEY_ADMIN_TOKEN=ADMIN)
    bot_dir = os.path.join(scripts, "club")
    rc, out, err = pull(parley, p, ["--bot-dir", bot_dir, "--last", "100"], env)
    path = os.path.join(bot_dir, "tests", "pulled_15550001.chat")
    check("parley pull writes the bot's tests/pulled_NUMBER.chat", rc == 0 and
          os.path.exists(path) and "wrote" in err, (rc, out, err))
    text = open(path).read() if os.path.exists(path) else ""
    check("it has the clock, the fan's messages, the answer a request got, the click",
          "@clock 2026-03-02 12:00:00 UTC" in text and "> +15550001 hi" in text and
          "@http GET http://127.0.0.1:" in text and "/stock -> 200 " in text and
          "@click +15550001 https://club.example/day" in text and
          re.search(r"^~ [0-9a-z]+\n< \+15550001 Second two in Austin$", text, re.M), text)
    rc, out = test(parley, path)
    check("the pulled transcript passes against the same version", rc == 0, out + text)

    rc, out, err = pull(parley, p, ["--output", "-", "--last", "5"], env)
    check("--output - writes it to stdout", rc == 0 and "> +15550001" in out, (rc, err))
    mid = os.path.join(tmp, "mid.chat")
    rc, out, err = pull(parley, p, ["--output", mid, "--bot-dir", bot_dir, "--last", "5"], env)
    mtext = open(mid).read() if os.path.exists(mid) else ""
    check("pulled from the middle: the contact as it was then (fields, tags, state, joined)",
          rc == 0 and re.search(r'@contact \+15550001 \{.*"city":"Austin".*\}', mtext) and
          '"asked":1' in mtext and '"joined":true' in mtext and '"local"' in mtext, mtext)
    check("and @bot finds the bot from where the file is", "@bot " in mtext, mtext)
    rc, out = test(parley, mid)
    check("the transcript from the middle passes", rc == 0, out + mtext)

    masked = os.path.join(tmp, "masked.chat")
    rc, out, err = pull(parley, p, ["--mask", "--output", masked, "--bot-dir", bot_dir], env)
    ktext = open(masked).read() if os.path.exists(masked) else ""
    check("a masked transcript has no real number in it", rc == 0 and "15550001" not in ktext
          and "+15550100" in ktext, ktext)
    rc, out = test(parley, masked)
    check("and still passes", rc == 0, out + ktext)

    rc, out, err = pull(parley, p, ["--output", "-"], dict(env, PARLEY_ADMIN_TOKEN="wrong"))
    check("a wrong token is refused, said", rc == 1 and "HTTP 403" in err, err)
    r = subprocess.run([parley, "pull", "club", "+15559999", "--url", p.url(), "-o", "-"],
                       capture_output=True, text=True, env=env, timeout=60)
    check("an unknown contact is said", r.returncode == 1 and "no such contact" in r.stderr,
          r.stderr)
    r = subprocess.run([parley, "pull", "club"], capture_output=True, text=True, env=env)
    check("without a number: the usage", r.returncode == 2 and "usage: parley pull" in r.stderr)
    st, body = request(p.port, "GET", "/v1/bots/club/contacts/%2B15550001/transcript?last=0",
                       b"", {"Authorization": "Bearer " + ADMIN})
    check("last=0 is refused, naming the range", st == 400 and "1 to 10000" in body, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    parley = os.path.abspath(a.parley)
    env = {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN,
           "PARLEY_TEST_CLOCK": "2026-03-02 12:00", "PARLEY_LOG": "warn",
           "PARLEY_HTTP_ALLOW_PRIVATE": "on"}
    return run_with_service(parley, a.dir, Service, "club", CLUB, env,
                            lambda p, db, scripts, port: run(p, parley, db, scripts, a.dir))


if __name__ == "__main__":
    sys.exit(main())
