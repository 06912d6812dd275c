#!/usr/bin/env python3
"""Bad input gets a clear 4xx and changes nothing (run by tests/e2e/input.sh)."""
import argparse
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Parley, check, query, request, summary, twilio_signature  # noqa: E402

HOOK, ADMIN, TWILIO = "input-hook-7", "input-admin-8", "input-twilio-9"
BOT = """
bot.config{ numbers = {"+15550100"} }
bot.on_event("ok", function(c, ev) c:send("ok " .. tostring(ev.n)) end)
bot.on_event("boom", function(c, ev) error("boom on purpose") end)
bot.fallback(function(c, msg)
  c.fields.last = msg.text
  return "got " .. msg.text
end)
"""


def json_req(p, method, path, obj, token=HOOK):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    st, text = request(p.port, method, path, body,
                       {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        return st, json.loads(text)
    except ValueError:
        return st, text


def contacts(p):
    return [r[0] for r in query(p.db, "SELECT number FROM contacts ORDER BY number")]


def nested(depth):
    v = "deep"
    for _ in range(depth):
        v = {"a": v}
    return v


def test_urls(p):
    base = "/kannel/in?token=" + HOOK
    st, _ = request(p.port, "GET", base + "&from=%2B15550001&to=%2B15550100&text=hi&id=k1")
    check("a Kannel GET is answered", st == 200, st)
    before = contacts(p)
    cases = [("a NUL in from", "&from=%2B1555%00x&text=hi"),
             ("a NUL in text", "&from=%2B15550001&text=a%00b"),
             ("invalid UTF-8 in id", "&from=%2B15550001&text=hi&id=%FF%FE"),
             ("a NUL in to", "&from=%2B15550001&to=%2B1%00&text=hi")]
    for desc, q in cases:
        st, body = request(p.port, "GET", base + q)
        check("Kannel GET: %s is refused with 400" % desc, st == 400, (st, body))
    st, body = request(p.port, "GET", "/kannel/in?token=" + HOOK + "%00&from=%2B15550009&text=hi")
    check("Kannel GET: a NUL in the token is refused with 400", st == 400, (st, body))
    st, body = request(p.port, "GET", "/kannel?token=" + HOOK + "&from=%2B15550009&to=%2B15550100%00&text=hi")
    check("routed Kannel GET: a NUL in to is refused with 400", st == 400, (st, body))
    check("no contact was created by a refused request", contacts(p) == before, contacts(p))
    texts = [r[0] for r in query(p.db, "SELECT text FROM messages WHERE direction='in'")]
    check("no message was stored by a refused request", texts == ["hi"], texts)
    # a NUL in the path does not route to the bot before it
    params = [("From", "+15550003"), ("To", "+15550100"), ("Body", "x"), ("MessageSid", "SMnul")]
    path = "/twilio/in%00x"
    sig = twilio_signature(TWILIO, p.url() + path, params)
    st, body = request(p.port, "POST", path, urllib.parse.urlencode(params).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": sig})
    check("a NUL in the path is refused with 400", st == 400, (st, body))
    st, body = request(p.port, "GET", "/v1/bots/in/contacts/%2B15550001%00x",
                       headers={"Authorization": "Bearer " + ADMIN})
    check("a NUL in an admin path is refused with 400", st == 400, (st, body))
    check("... and nothing was stored", "+15550003" not in contacts(p), contacts(p))


def test_json_fields(p):
    cases = [("an id of 200 characters", {"from": "+15550004", "text": "hi", "id": "x" * 200}),
             ("an id with a control character", {"from": "+15550004", "text": "hi", "id": "a\u0001b"}),
             ("a to that is not a number", {"from": "+15550004", "to": "x" * 100, "text": "hi"}),
             ("a to that is not a string", {"from": "+15550004", "to": 5, "text": "hi"}),
             ("media that is not a list of URLs", {"from": "+15550004", "text": "hi", "media": 5})]
    for desc, obj in cases:
        st, body = json_req(p, "POST", "/v1/bots/in/messages", obj)
        check("JSON webhook: %s is refused with 400" % desc, st == 400, (st, body))
    st, body = json_req(p, "POST", "/v1/bots/in/messages", b'{"from":"+15550004","text":"a\\u0000b"}')
    check("JSON webhook: a NUL in text is refused with 400", st == 400, (st, body))
    check("no contact was created by them", "+15550004" not in contacts(p), contacts(p))
    st, body = json_req(p, "POST", "/v1/bots/in/status", {"id": "1", "status": "delivered",
                                                          "error": "e" * 5000})
    check("status report: an error of 5000 characters is refused with 400", st == 400, (st, body))
    st, body = json_req(p, "POST", "/v1/bots/in/status", {"provider_id": "p" * 300,
                                                          "status": "delivered"})
    check("status report: a provider_id of 300 characters is refused with 400", st == 400,
          (st, body))


def test_provider_id_dedup(p):
    st, body = json_req(p, "POST", "/v1/bots/in/messages",
                        {"from": "+15550005", "text": "first", "id": "dup-1"})
    check("a message with an id is answered", st == 200 and body["replies"] == ["got first"],
          (st, body))
    st, body = json_req(p, "POST", "/v1/bots/in/messages",
                        {"from": "+15550006", "text": "second", "id": "dup-1"})
    check("the same id from another number is acknowledged without replies",
          st == 200 and body["replies"] == [], (st, body))
    check("and creates no contact for that number", "+15550006" not in contacts(p), contacts(p))


def test_contact_patch(p):
    st, body = json_req(p, "POST", "/v1/bots/in/messages", {"from": "+15550007", "text": "one"})
    check("a fan texts", st == 200, (st, body))
    path = "/v1/bots/in/contacts/+15550007"
    for desc, obj in [("a 900 KB field", {"fields": {"big": "x" * 900000}}),
                      ("fields 20 KB in all", {"fields": {"a%d" % i: "y" * 1000 for i in range(20)}}),
                      ("a field nested 30 levels", {"fields": {"deep": nested(30)}}),
                      ("a field nested 16 levels (17 with fields)", {"fields": {"deep": nested(16)}}),
                      ("tags of 70 KB", {"tags": ["t%05d" % i + "z" * 60 for i in range(1000)]}),
                      ("tags that are not names", {"tags": [1, 2]}),
                      ("a timezone and a bad field together",
                       {"timezone": "America/Chicago", "fields": {"big": "x" * 20000}})]:
        st, body = json_req(p, "PATCH", path, obj, ADMIN)
        check("PATCH contact: %s is refused with 400" % desc, st == 400, (st, str(body)[:200]))
    st, body = json_req(p, "PATCH", path, {"fields": {"deep": nested(14)}}, ADMIN)
    check("PATCH contact: a field nested 15 levels (16 with fields) is taken", st == 200,
          (st, str(body)[:200]))
    st, body = json_req(p, "GET", path, b"", ADMIN)
    check("the refused PATCHes changed nothing",
          st == 200 and set(body["fields"]) == {"last", "deep"} and body["timezone"] is None
          and body["tags"] == [], (st, str(body)[:300]))
    st, body = json_req(p, "POST", "/v1/bots/in/messages", {"from": "+15550007", "text": "two"})
    check("the fan's next message is handled (its handler writes fields)",
          st == 200 and body["replies"] == ["got two"], (st, body))


def test_broadcast_times(p):
    for desc, obj in [("at 9000000000000000000", {"text": "x", "at": 9000000000000000000}),
                      ("at -1", {"text": "x", "at": -1}),
                      ("at past the year 9999", {"text": "x", "at": 253402300800}),
                      ("joined_after 9e18", {"text": "x", "segment": {"joined_after": 9000000000000000000}}),
                      ("joined_before -9e18", {"text": "x", "segment": {"joined_before": -9000000000000000000}})]:
        st, body = json_req(p, "POST", "/v1/bots/in/broadcasts", obj, ADMIN)
        check("broadcast: %s is refused with 400" % desc, st == 400, (st, body))
    rows = query(p.db, "SELECT count(*) FROM broadcasts")[0][0]
    check("no broadcast was created", rows == 0, rows)
    for q in ("limit=10abc", "after=abc", "after=-1", "after=99999999999999999999999"):
        st, body = json_req(p, "GET", "/v1/bots/in/contacts?" + q, b"", ADMIN)
        check("GET contacts?%s is refused with 400" % q, st == 400, (st, str(body)[:200]))
    for q in ("joined_after=abc", "joined_before=-5", "joined_after=253402300800",
              "c%22ity=Austin"):
        st, body = json_req(p, "GET", "/v1/bots/in/contacts?" + q, b"", ADMIN)
        check("GET contacts?%s is refused with 400" % q, st == 400, (st, str(body)[:200]))
    st, body = json_req(p, "GET", "/v1/bots/in/contacts?joined_after=253402300799", b"", ADMIN)
    check("GET contacts?joined_after=(the end of 9999) matches nobody",
          st == 200 and body["contacts"] == [], (st, str(body)[:200]))
    st, body = json_req(p, "GET", "/v1/bots/in/contacts?joined_before=1", b"", ADMIN)
    check("GET contacts?joined_before=1 matches nobody",
          st == 200 and body["contacts"] == [], (st, str(body)[:200]))
    st, body = json_req(p, "GET", "/v1/bots/in/broadcasts/99999999999999999999999", b"", ADMIN)
    check("a broadcast id past 64 bits is 404", st == 404, (st, body))


def test_events(p):
    st, body = json_req(p, "POST", "/v1/bots/in/events",
                        {"type": "ok", "contact": "+15550008", "data": {"n": 1}})
    check("an event with a handler: 200 accepted with what it sent",
          st == 200 and body == {"status": "accepted", "sent": ["ok 1"]}, (st, body))
    st, body = json_req(p, "POST", "/v1/bots/in/events", {"type": "boom", "contact": "+15550008"})
    check("an event whose handler fails: 422 with the handler's error",
          st == 422 and body.get("status") == "error" and "boom on purpose" in body.get("error", ""),
          (st, body))
    st, body = json_req(p, "POST", "/v1/bots/in/events", {"type": "nope", "contact": "+15550008"})
    check("an event with no handler for its type: 422 no_handler",
          st == 422 and body.get("status") == "no_handler" and "nope" in body.get("error", ""),
          (st, body))
    for desc, obj in [("a type with a space", {"type": "a b", "contact": "+15550009"}),
                      ("a type of 200 characters", {"type": "t" * 200, "contact": "+15550009"}),
                      ("data nested 30 levels", {"type": "ok", "contact": "+15550009",
                                                 "data": nested(30)}),
                      ("data of 100 KB", {"type": "ok", "contact": "+15550009",
                                          "data": {"x": "y" * 100000}})]:
        st, body = json_req(p, "POST", "/v1/bots/in/events", obj)
        check("event: %s is refused with 400" % desc, st == 400, (st, body))
    check("no contact was created by them", "+15550009" not in contacts(p), contacts(p))


def test_rejected_and_health(p):
    bad = "wrong-secret-token"
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "bad"}
    js = {"Authorization": "Bearer " + bad, "Content-Type": "application/json"}
    tries = [("POST", "/twilio/in", b"From=%2B1&Body=x", form, "messages"),
             ("POST", "/twilio", b"From=%2B1&To=%2B15550100&Body=x", form, "messages"),
             ("POST", "/twilio/status/in?m=1", b"MessageSid=SM1&MessageStatus=sent", form, "status"),
             ("GET", "/kannel/in?token=" + bad + "&from=1&text=x", b"", {}, "messages"),
             ("GET", "/kannel?token=" + bad + "&from=1&to=15550100&text=x", b"", {}, "messages"),
             ("GET", "/kannel/dlr/in?token=" + bad + "&m=1&type=1", b"", {}, "status"),
             ("POST", "/v1/bots/in/messages", b'{"from":"+1","text":"x"}', js, "messages"),
             ("POST", "/v1/messages", b'{"from":"+1","to":"+15550100","text":"x"}', js, "messages"),
             ("POST", "/v1/bots/in/events", b'{"type":"ok","contact":"+1"}', js, "events"),
             ("POST", "/v1/bots/in/status", b'{"id":"1","status":"sent"}', js, "status"),
             ("GET", "/v1/bots/in/versions", b"", js, "versions"),
             ("GET", "/v1/bots/in/contacts", b"", js, "contacts"),
             ("POST", "/v1/bots/in/broadcasts", b"{}", js, "broadcasts")]
    before = p.log().count("event=rejected")
    for method, path, body, headers, endpoint in tries:
        st, text = request(p.port, method, path, body, headers)
        check("%s %s with a wrong credential is 403" % (method, path.split("?")[0]), st == 403,
              (st, text))
    lines = [l for l in p.log().splitlines() if "event=rejected" in l][before:]
    check("each refused credential is logged as rejected", len(lines) == len(tries), "\n".join(lines))
    check("with the remote address", all("remote=127.0.0.1" in l for l in lines), "\n".join(lines))
    check("and the endpoint", all("endpoint=" in l for l in lines), "\n".join(lines))
    check("never the secret", bad not in p.log(), "")
    st, text = request(p.port, "GET", "/v1/bots/in/versions")
    check("no credential is 401", st == 401, (st, text))
    lines = [l for l in p.log().splitlines() if "event=rejected" in l]
    check("and logged as rejected too", lines and "reason=missing" in lines[-1], lines[-1:])
    st, _ = request(p.port, "HEAD", "/healthz")
    check("HEAD /healthz answers 200 like GET", st == 200, st)


def test_settings(binary, workdir, scripts):
    """A setting that is no whole number in range stops the start (exit 2)."""
    import subprocess
    from harness import free_port
    for flag, value in [("--reply-deadline-ms", "3s"), ("--reply-deadline-ms", "abc"),
                        ("--send-timeout-ms", "99999999999"), ("--send-timeout-ms", "-5"),
                        ("--send-attempts", "lots"), ("--send-concurrency", "0"),
                        ("--max-body", "1e9")]:
        cmd = [binary, "serve", "--listen", "127.0.0.1:%d" % free_port(), "--db",
               os.path.join(workdir, "settings.db"), "--scripts", scripts, flag, value]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PARLEY_WEBHOOK_TOKEN=HOOK))
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            out = b"(it started) " + out
        text = out.decode("utf-8", "replace")
        key = flag[2:].replace("-", "_")
        check("serve %s %s is refused at start, naming the setting" % (flag, value),
              proc.returncode == 2 and key in text and value in text, (proc.returncode, text))


def test_clocks(binary, workdir, scripts):
    """A transcript's ~ and the simulator's /advance stop at the end of 9999."""
    import subprocess
    bot = os.path.join(scripts, "in")
    os.makedirs(os.path.join(bot, "tests"), exist_ok=True)
    path = os.path.join(bot, "tests", "far.chat")
    with open(path, "w") as f:
        f.write("@clock 9999-12-30 00:00 UTC\n~ 1d\n~ 2d\n")
    r = subprocess.run([binary, "test", path], capture_output=True, text=True, timeout=30)
    os.remove(path)
    check("a transcript's ~ past the end of 9999 fails, naming the line",
          r.returncode != 0 and "far.chat:3" in r.stdout + r.stderr
          and "9999" in r.stdout + r.stderr, r.stdout + r.stderr)
    deep = json.dumps(nested(30))
    for desc, line, says in [("a type bot.on_event cannot name", "@event +15550001 bad!type {}",
                              "type must be 1 to 128 letters"),
                             ("data nested 30 levels", "@event +15550001 ok {\"d\":%s}" % deep,
                              "deeper than 16 levels")]:
        with open(path, "w") as f:
            f.write("@clock 2026-03-02 10:00 UTC\n" + line + "\n")
        r = subprocess.run([binary, "test", path], capture_output=True, text=True, timeout=30)
        os.remove(path)
        check("a transcript's @event with %s fails, saying why" % desc,
              r.returncode != 0 and "far.chat:2" in r.stdout and says in r.stdout,
              r.stdout + r.stderr)
    r = subprocess.run([binary, "sim", bot], input="/advance 36600d\n" * 81, capture_output=True,
                       text=True, timeout=60)
    check("the simulator's /advance past the end of 9999 is refused",
          r.returncode != 0 and "9999" in r.stderr, (r.returncode, r.stderr[-500:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    scripts = os.path.join(a.dir, "scripts")
    os.makedirs(os.path.join(scripts, "in"))
    with open(os.path.join(scripts, "in", "bot.lua"), "w") as f:
        f.write(BOT)
    env = {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN,
           "PARLEY_TWILIO_AUTH_TOKEN": TWILIO}
    test_settings(a.parley, a.dir, scripts)
    test_clocks(a.parley, a.dir, scripts)
    # noon in the bot's zone (UTC), whatever the machine's time: the event's
    # send is not held by quiet hours
    p = Parley(a.parley, a.dir, os.path.join(a.dir, "input.db"), scripts, env,
               flags=["--test-clock", "2026-03-02 12:00"])
    if not check("parley serve starts", p.start(), p.log()):
        return summary()
    try:
        test_urls(p)
        test_json_fields(p)
        test_provider_id_dedup(p)
        test_contact_patch(p)
        test_broadcast_times(p)
        test_events(p)
        test_rejected_and_health(p)
    finally:
        p.stop()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
