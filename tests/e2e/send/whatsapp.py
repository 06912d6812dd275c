#!/usr/bin/env python3
"""The WhatsApp channel end to end (run by tests/e2e/whatsapp.sh) against
tests/fake/fake_graph.py, a fake of Meta's Graph API that checks each Cloud
API request (path, token, JSON body) and posts signed webhooks.

Checked: the GET verify handshake answers the challenge for the verify
token only; a signed message is answered through the API (not inline) and
stored under whatsapp:+NUMBER; a tampered signature is refused with 403 and
nothing stored; a delivery Meta posts twice (the same wamid) is handled
once; buttons go out as an interactive message and a tapped button reaches
the handler with msg.choice; statuses move the message to delivered and
run bot.on_status; STOP opts the contact out in the consent ledger; a drip
step 25 hours after the fan's last message (the server restarted with its
clock a day on) is refused as free text, recorded as failed with the
window's reason, and the template goes instead.
"""
import argparse
import http.client
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import FakeGraph, Parley, check, free_port, query, request, summary, wait_for, write_bot  # noqa: E402

ADMIN = "admin-token-7"
VERIFY = "verify-token-9"
FAN = "15550001"

BOT = r'''
bot.config{ name = "Shop", quiet_hours = false }
bot.keyword("MENU", function(c)
  c:send{ text = "What would you like?", buttons = { { id = "track", title = "Track order" }, "Talk to us" } }
end)
bot.keyword("TRACK ORDER", function(c, msg)
  return "Order 1042 is on its way (" .. (msg.choice and msg.choice.id or "typed") .. ", " .. msg.channel .. ")"
end)
bot.keyword("FOLLOW", function(c)
  c:start_drip("follow_up")
  return "We will check in tomorrow."
end)
bot.handler("check_in", function(c)
  local status = c:send("How was your order?")
  c.fields.free_text = status
  if status == "failed" then
    c:send{ template = "order_feedback", language = "en_US", params = { "Ann" } }
  end
end)
bot.drip("follow_up", { { after = "25h", call = "check_in" } })
bot.on_status(function(c, st)
  c.state.statuses = (c.state.statuses or "") .. st.status .. ";"
end)
bot.fallback(function(c, msg) return "You said: " .. msg.text end)
'''


def out_rows(db, text):
    return query(db, "SELECT status, provider_id, error, number, sender FROM messages"
                     " WHERE direction = 'out' AND text = ? ORDER BY id", (text,))


def count(db, sql, args=()):
    return query(db, sql, args)[0][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    scripts = os.path.join(a.dir, "scripts")
    write_bot(scripts, "shop", BOT)
    port = free_port()
    # 15550009's sends are throttled (130429), 15550008's undeliverable (131026, in a status)
    fake = FakeGraph(a.dir, "http://127.0.0.1:%d/whatsapp/shop" % port,
                     args=["--code", "15550009=130429", "--code", "15550008=131026:async"])
    if not check("the fake Graph API starts", fake.port,
                 fake.proc.stdout.read() if fake.proc.poll() is not None else ""):
        return summary()
    env = {"PARLEY_ADMIN_TOKEN": ADMIN, "PARLEY_LOG": "debug",
           "PARLEY_WHATSAPP_PHONE_NUMBER_ID": fake.phone_number_id,
           "PARLEY_WHATSAPP_ACCESS_TOKEN": fake.token,
           "PARLEY_WHATSAPP_APP_SECRET": fake.app_secret,
           "PARLEY_WHATSAPP_VERIFY_TOKEN": VERIFY,
           "PARLEY_WHATSAPP_API_URL": fake.url() + "/v21.0"}
    db = os.path.join(a.dir, "wa.db")
    p = Parley(a.parley, a.dir, db, scripts, env, ["--test-clock", "2026-03-02 10:00 UTC"])
    try:
        if not check("parley serve starts with a WhatsApp channel", p.start(port), p.log()):
            return summary()
        handshake(fake)
        conversation(p, fake, db)
        media(p, fake, db)
        meta_errors(fake, db)
        window(a, p, fake, db, scripts, env, port)
        refused_token(a, fake, db, scripts, env, port)
    finally:
        p.stop()
        fake.stop()
    return summary()


def handshake(fake):
    r = fake.verify(VERIFY, "1158201444")
    check("verify: the right token is answered with the challenge",
          r.get("status") == 200 and r.get("body") == "1158201444", r)
    r = fake.verify("not-the-token")
    check("verify: a wrong token is refused (403)", r.get("status") == 403, r)


def conversation(p, fake, db):
    r = fake.post_inbound(FAN, "hello")
    check("a signed message is taken (200)", r.get("status") == 200, r)
    check("its reply goes through the Cloud API",
          wait_for(lambda: "You said: hello" in fake.sent(FAN)), fake.lines()[-3:])
    rows = out_rows(db, "You said: hello")
    check("the reply is stored to whatsapp:+%s, from the channel, sent with its wamid" % FAN,
          wait_for(lambda: (out_rows(db, "You said: hello") or [("",)])[0][0] in ("sent", "delivered"))
          and rows and rows[0][3] == "whatsapp:+" + FAN and rows[0][4] == "whatsapp:"
          and (out_rows(db, "You said: hello")[0][1] or "").startswith("wamid."),
          out_rows(db, "You said: hello"))
    inbound = count(db, "SELECT count(*) FROM messages WHERE direction = 'in'")

    r = fake.post_inbound(FAN, "tampered", tamper=True)
    check("a tampered signature is refused (403)", r.get("status") == 403, r)
    check("... and nothing of it is stored",
          count(db, "SELECT count(*) FROM messages WHERE direction = 'in'") == inbound
          and not count(db, "SELECT count(*) FROM messages WHERE text LIKE '%tampered%'"))
    check("... and logged as rejected", "event=rejected provider=whatsapp reason=signature" in p.log(),
          p.log()[-800:])

    r = fake.post_inbound(FAN, "twice", repeat=2)
    check("a delivery posted twice (Meta's retry) is taken both times", r.get("status") == 200, r)
    check("... and handled once: one message stored, one reply",
          wait_for(lambda: "You said: twice" in fake.sent(FAN))
          and count(db, "SELECT count(*) FROM messages WHERE direction = 'in' AND text = 'twice'") == 1
          and fake.sent(FAN).count("You said: twice") == 1,
          fake.sent(FAN))

    twice = {"id": "wamid.SAME-IN-ONE-DELIVERY", "type": "text", "text": {"body": "one delivery"}}
    r = fake.post_inbound(FAN, messages=[twice, dict(twice)])
    check("the same wamid twice in one delivery is handled once",
          r.get("status") == 200 and wait_for(lambda: "You said: one delivery" in fake.sent(FAN))
          and count(db, "SELECT count(*) FROM messages WHERE direction = 'in'"
                        " AND text = 'one delivery'") == 1
          and fake.sent(FAN).count("You said: one delivery") == 1, (r, fake.sent(FAN)))

    fake.post_inbound(FAN, "MENU")
    menu = wait_for(lambda: [x for x in fake.accepted() if x.get("type") == "interactive"])
    buttons = (menu[0]["body"]["interactive"]["action"]["buttons"] if menu else [])
    check("buttons go out as an interactive message with reply buttons",
          [b["reply"]["title"] for b in buttons] == ["Track order", "Talk to us"]
          and buttons[0]["reply"]["id"] == "track", menu)
    fake.post_inbound(FAN, message={"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": "track", "title": "Track order"}}})
    check("a tapped button reaches its keyword with msg.choice and msg.channel",
          wait_for(lambda: "Order 1042 is on its way (track, whatsapp)" in fake.sent(FAN)),
          fake.sent(FAN))

    check("statuses move the reply to delivered",
          wait_for(lambda: out_rows(db, "You said: hello")[0][0] == "delivered"),
          out_rows(db, "You said: hello"))
    check("... and run bot.on_status",
          wait_for(lambda: "delivered;" in (query(
              db, "SELECT v.state FROM conversations v JOIN contacts c ON c.id = v.contact_id"
                  " WHERE c.number = ?", ("whatsapp:+" + FAN,)) or [("",)])[0][0]))

    fake.post_inbound("15550002", "STOP")
    check("STOP on WhatsApp opts the contact out in the consent ledger",
          wait_for(lambda: query(db, "SELECT action, source FROM consent WHERE number = ?",
                                 ("whatsapp:+15550002",)) == [("optout", "keyword")]),
          query(db, "SELECT number, action, source FROM consent"))
    fake.post_inbound("15550002", "hello again")
    check("... and nothing but the opt-out's confirmation goes to it",
          wait_for(lambda: count(db, "SELECT count(*) FROM messages WHERE direction = 'in'"
                                     " AND text = 'hello again'") == 1)
          and not [t for t in fake.sent("15550002") if t and "You said" in t], fake.sent("15550002"))


def raw_get(port, path, headers, header=None):
    """(status, body bytes, Content-Type) of a GET; with header, that
    header's value too."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        out = (r.status, r.read(), r.getheader("Content-Type"))
        return out + (r.getheader(header),) if header else out
    finally:
        conn.close()


def meta_errors(fake, db):
    fake.post_inbound("15550009", "busy?")
    row = lambda: (out_rows(db, "You said: busy?") or [("", None, "")])[0]
    check("Meta's throughput error (130429) is tried again, not failed",
          wait_for(lambda: row()[0] == "queued" and "WhatsApp 130429" in (row()[2] or "")
                   and query(db, "SELECT attempts FROM messages WHERE text = 'You said: busy?'")[0][0] >= 1),
          (row(), fake.rejected()[-2:]))
    fake.post_inbound("15550008", "hello?")
    check("a failed status (131026) fails the message with Meta's code and title",
          wait_for(lambda: (out_rows(db, "You said: hello?") or [("",)])[0][0] == "failed"
                   and (out_rows(db, "You said: hello?")[0][2] or "").startswith("131026 ")),
          out_rows(db, "You said: hello?"))


def media(p, fake, db):
    auth = {"Authorization": "Bearer " + ADMIN}
    fake.post_inbound(FAN, message={"type": "image", "image": {
        "id": "1200034", "mime_type": "image/jpeg", "sha256": "x", "caption": "my receipt"}})
    check("a picture reaches the handler with its caption as the text",
          wait_for(lambda: "You said: my receipt" in fake.sent(FAN)), fake.sent(FAN))
    st, body, ctype = raw_get(p.port, "/v1/bots/shop/media/1200034", auth)
    check("GET /v1/bots/BOT/media/ID fetches the file from the Graph API, with its type",
          st == 200 and body == b"\xff\xd8\xff\xe0fake-jpeg-1200034" and ctype == "image/jpeg",
          (st, body[:80], ctype))
    st, _, ctype, csp = raw_get(p.port, "/v1/bots/shop/media/1200034", auth,
                                "Content-Security-Policy")
    check("... under a CSP that runs nothing", csp == "default-src 'none'; sandbox", csp)
    st, body, ctype, disposition = raw_get(p.port, "/v1/bots/shop/media/8000002", auth,
                                           "Content-Disposition")
    check("a fan's web page is served as a download, never shown on parley's origin",
          st == 200 and ctype == "text/html" and disposition == "attachment", (st, ctype, disposition))
    st, body, _ = raw_get(p.port, "/v1/bots/shop/media/9000001", auth)
    check("a media id Meta does not know: 404 with Meta's words", st == 404
          and b"does not exist" in body, (st, body))
    st, _, _ = raw_get(p.port, "/v1/bots/shop/media/1200034", {})
    check("... and the endpoint takes the admin credentials only", st == 401, st)
    st, _, _ = raw_get(p.port, "/v1/bots/shop/media/abc", auth)
    check("a media id that is not digits is no such endpoint", st == 404, st)


def window(a, p, fake, db, scripts, env, port):
    fake.post_inbound(FAN, "FOLLOW")
    check("a drip starts", wait_for(lambda: "We will check in tomorrow." in fake.sent(FAN)))
    p.stop()
    fake.advance(25 * 3600 + 600)
    # the server comes back a day and an hour later: the drip step is due
    p2 = Parley(a.parley, a.dir, db, scripts, env, ["--test-clock", "2026-03-03 11:10 UTC"],
                name="later")
    try:
        if not check("parley serve starts again a day later", p2.start(port), p2.log()):
            return
        check("the drip's free text is refused: recorded as failed with the window's reason",
              wait_for(lambda: out_rows(db, "How was your order?")
                       and out_rows(db, "How was your order?")[0][0] == "failed"
                       and "24-hour customer service window" in (out_rows(db, "How was your order?")[0][2] or "")),
              out_rows(db, "How was your order?"))
        sent = wait_for(lambda: [x for x in fake.accepted() if x.get("type") == "template"])
        tmpl = sent[0]["body"]["template"] if sent else {}
        check("... and the template goes instead, with its language and parameters",
              tmpl.get("name") == "order_feedback" and tmpl.get("language") == {"code": "en_US"}
              and tmpl.get("components", [{}])[0].get("parameters") == [{"type": "text", "text": "Ann"}],
              sent)
        check("... while the free text never reached the API",
              "How was your order?" not in fake.sent(FAN), fake.sent(FAN))
        number = urllib.parse.quote("whatsapp:+" + FAN)
        st, body = request(port, "POST", "/v1/bots/shop/conversations/%s/reply" % number,
                           json.dumps({"text": "Hi, a person here", "who": "Ana"}).encode(),
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
        check("a person's reply from the console a day later is refused: 422 window_closed",
              st == 422 and json.loads(body).get("status") == "window_closed"
              and "24-hour" in json.loads(body).get("error", ""), (st, body))
        body = json.dumps({"segment": {}, "text": "Sale today!", "rate": 50,
                           "template": {"name": "flash_sale", "language": "en_US",
                                        "params": ["{{fields.free_text}}"]}}).encode()
        st, answer = request(port, "POST", "/v1/bots/shop/broadcasts", body,
                             {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
        sale = wait_for(lambda: [x for x in fake.accepted() if x.get("type") == "template"
                                 and x["body"]["template"]["name"] == "flash_sale"
                                 and x.get("to") == FAN])
        check("a broadcast with a template through the admin API reaches WhatsApp fans as the template",
              st == 201 and sale and sale[0]["body"]["template"]["components"][0]["parameters"]
              == [{"type": "text", "text": "failed"}], (st, answer, sale))
        bad = json.dumps({"segment": {}, "text": "x", "template": {"name": "Flash Sale"}}).encode()
        st, answer = request(port, "POST", "/v1/bots/shop/broadcasts", bad,
                             {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
        check("... and a template name Meta would refuse is a 400 naming it",
              st == 400 and "template.name" in answer, (st, answer))
        check("the handler saw c:send say failed",
              query(db, "SELECT fields FROM contacts WHERE number = ?", ("whatsapp:+" + FAN,))[0][0]
              == '{"free_text":"failed"}', query(db, "SELECT fields FROM contacts"))
    finally:
        p2.stop()



def refused_token(a, fake, db, scripts, env, port):
    """A WhatsApp token Meta refuses (190) holds the bot's WhatsApp messages
    only: its SMS go on."""
    bad = dict(env, PARLEY_WHATSAPP_ACCESS_TOKEN="expired-token", PARLEY_WEBHOOK_TOKEN="sms-hook",
               PARLEY_INLINE_REPLIES="off")
    p = Parley(a.parley, a.dir, db, scripts, bad, ["--test-clock", "2026-03-03 12:00 UTC",
                                                   "--provider", "sim"], name="badtoken")
    try:
        if not check("parley serve starts with a WhatsApp token Meta refuses", p.start(port), p.log()):
            return
        fake.post_inbound(FAN, "anyone there?")
        check("a WhatsApp reply waits, the account refused (190)",
              wait_for(lambda: (out_rows(db, "You said: anyone there?") or [("",)])[0][0] == "queued"
                       and "WhatsApp 190" in (out_rows(db, "You said: anyone there?")[0][2] or "")),
              out_rows(db, "You said: anyone there?"))
        check("... logged with its channel", "event=provider_refused bot=shop channel=whatsapp" in p.log(),
              p.log()[-600:])
        body = json.dumps({"from": "+15550077", "text": "sms here"}).encode()
        st, answer = request(port, "POST", "/v1/bots/shop/messages", body,
                             {"Authorization": "Bearer sms-hook", "Content-Type": "application/json"})
        sms = "SELECT status, updated_at FROM messages WHERE text = 'You said: sms here'"
        check("an SMS fan of the same bot is answered through the outbox meanwhile",
              st == 200 and wait_for(lambda: (query(db, sms) or [("",)])[0][0] == "sent"),
              (st, answer, query(db, sms)))
        # sent between the WhatsApp message's refusal and its next try: held by
        # a pause of the bot's, it would have gone with that try, not before
        wa = query(db, "SELECT updated_at, next_attempt_at FROM messages"
                       " WHERE text = 'You said: anyone there?'")
        sent_at = query(db, sms)[0][1]
        check("... while the WhatsApp message waits: the pause is the channel's, not the bot's",
              wa[0][0] < sent_at < wa[0][1], (sent_at, wa))
    finally:
        p.stop()


if __name__ == "__main__":
    sys.exit(main())
