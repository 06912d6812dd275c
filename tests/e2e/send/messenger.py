#!/usr/bin/env python3
"""The Messenger and Instagram channels end to end (run by
tests/e2e/messenger.sh) against tests/fake/fake_graph.py.

Checked: the verify handshake; a signed Messenger message answered through
the Send API with messaging_type RESPONSE, stored under messenger:PSID; a
tampered signature refused; quick replies out and a tapped one back with
msg.choice; a postback; an Instagram message answered to instagram:IGSID;
a day later (the server restarted with its clock on) free text to the
person is refused as outside the window, and a message with a tag goes as
MESSAGE_TAG.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import FakeGraph, Parley, check, free_port, query, request, summary, wait_for, write_bot  # noqa: E402

VERIFY = "m-verify-4"
ADMIN = "admin-5"
HOOK = "hook-token-8"
PSID = "1001"
IGSID = "2002"

BOT = r'''
bot.config{ name = "Shop", quiet_hours = false, channels = { "messenger", "instagram" } }
bot.keyword("MENU", function(c)
  c:send{ text = "What would you like?", buttons = { { id = "track", title = "Track order" } } }
end)
bot.keyword("TRACK ORDER", function(c, msg)
  return "On its way (" .. (msg.choice and msg.choice.id or "typed") .. ", " .. msg.channel .. ")"
end)
bot.keyword("POSTER", function(c)
  c:send("Tonight's poster", { media = "https://cdn.example.com/poster.jpg" })
end)
bot.keyword("GET STARTED", function(c, msg) return "Welcome! (" .. msg.choice.id .. ")" end)
bot.on_event("nudge", function(c, ev)
  local free = c:send("Still thinking about it?")
  c:send("Your order shipped.", { tag = "POST_PURCHASE_UPDATE" })
  c.fields.free = free
end)
bot.fallback(function(c, msg) return "You said: " .. msg.text .. " on " .. c.channel end)
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    scripts = os.path.join(a.dir, "scripts")
    write_bot(scripts, "shop", BOT)
    port = free_port()
    fake = FakeGraph(a.dir, "http://127.0.0.1:%d/messenger/shop" % port,
                     args=["--ig-id", "17841400000000000"])
    if not check("the fake Graph API starts", fake.port):
        return summary()
    env = {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN, "PARLEY_MESSENGER_PAGE_ID": fake.page_id,
           "PARLEY_MESSENGER_PAGE_TOKEN": fake.token,
           "PARLEY_MESSENGER_APP_SECRET": fake.app_secret,
           "PARLEY_MESSENGER_VERIFY_TOKEN": VERIFY,
           "PARLEY_MESSENGER_API_URL": fake.url() + "/v21.0"}
    db = os.path.join(a.dir, "m.db")
    p = Parley(a.parley, a.dir, db, scripts, env, ["--test-clock", "2026-03-02 10:00 UTC"])
    try:
        if not check("parley serve starts with a Messenger channel", p.start(port), p.log()):
            return summary()
        run(fake, db)
        p.stop()
        later(a, fake, db, scripts, env, port)
    finally:
        p.stop()
        fake.stop()
    return summary()


def sent_to(fake, psid):
    return [x for x in fake.accepted() if x.get("to") == psid]


def run(fake, db):
    r = fake.verify(VERIFY)
    check("verify: the right token is answered with the challenge",
          r.get("status") == 200 and r.get("body") == "1158201444", r)
    check("verify: a wrong token is refused", fake.verify("nope").get("status") == 403)

    r = fake.messenger_inbound(PSID, text="hello")
    check("a signed message is taken (200)", r.get("status") == 200, r)
    out = wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("text") == "You said: hello on messenger"])
    check("its reply goes through the Send API as a RESPONSE",
          out and out[0].get("messaging_type") == "RESPONSE", fake.lines()[-3:])
    check("the conversation is stored under messenger:PSID",
          query(db, "SELECT count(*) FROM messages WHERE number = ?", ("messenger:" + PSID,))[0][0] == 2)
    check("a tampered signature is refused (403)",
          fake.messenger_inbound(PSID, text="x", tamper=True).get("status") == 403)

    fake.messenger_inbound(PSID, text="MENU")
    menu = wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("text") == "What would you like?"])
    qr = menu[0]["body"]["message"].get("quick_replies") if menu else None
    check("buttons go out as quick replies",
          qr == [{"content_type": "text", "title": "Track order", "payload": "track"}], menu)
    fake.messenger_inbound(PSID, text="Track order", quick_reply="track")
    check("a tapped quick reply reaches its keyword with msg.choice",
          wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("text") == "On its way (track, messenger)"]),
          [x.get("text") for x in sent_to(fake, PSID)])
    fake.messenger_inbound(PSID, postback={"title": "Get started", "payload": "GS"})
    check("a postback reaches the keyword of its title, its payload the choice",
          wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("text") == "Welcome! (GS)"]))

    fake.messenger_inbound(PSID, text="POSTER")
    poster = wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("type") == "image"])
    texts = [x.get("text") for x in sent_to(fake, PSID)]
    check("text with a picture goes as the text, then the picture as an attachment",
          poster and poster[0]["body"]["message"]["attachment"]["payload"]["url"]
          == "https://cdn.example.com/poster.jpg" and "Tonight's poster" in texts
          and texts.index("Tonight's poster") < len(texts) - 1, (texts, poster))

    fake.messenger_inbound(IGSID, text="hi", obj="instagram")
    check("an Instagram message is answered to instagram:IGSID",
          wait_for(lambda: [x for x in sent_to(fake, IGSID) if x.get("text") == "You said: hi on instagram"]),
          fake.lines()[-3:])


def later(a, fake, db, scripts, env, port):
    fake.advance(25 * 3600)
    p = Parley(a.parley, a.dir, db, scripts, env, ["--test-clock", "2026-03-03 11:00 UTC"],
               name="later")
    try:
        if not check("parley serve starts again a day later", p.start(port), p.log()):
            return
        body = json.dumps({"type": "nudge", "contact": "messenger:" + PSID, "data": {}}).encode()
        st, _ = request(port, "POST", "/v1/bots/shop/events", body,
                        {"Authorization": "Bearer " + HOOK, "Content-Type": "application/json"})
        check("an event for the Messenger contact is taken", st == 200, st)
        tagged = wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("text") == "Your order shipped."])
        check("a tagged message goes outside the window as MESSAGE_TAG",
              tagged and tagged[0].get("messaging_type") == "MESSAGE_TAG"
              and tagged[0]["body"].get("tag") == "POST_PURCHASE_UPDATE", tagged)
        rows = query(db, "SELECT status, error FROM messages WHERE text = 'Still thinking about it?'")
        check("free text a day later is refused: failed, with the window's reason",
              rows and rows[0][0] == "failed" and "Messenger's 24-hour messaging window" in rows[0][1],
              rows)
        st, body = request(port, "POST", "/v1/bots/shop/conversations/messenger:%s/reply" % PSID,
                           json.dumps({"text": "Hi, Ana here", "who": "Ana"}).encode(),
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
        person = wait_for(lambda: [x for x in sent_to(fake, PSID) if x.get("text") == "Hi, Ana here"])
        check("a person's reply from the console a day later goes, tagged HUMAN_AGENT",
              st == 200 and person and person[0].get("messaging_type") == "MESSAGE_TAG"
              and person[0]["body"].get("tag") == "HUMAN_AGENT", (st, body, person))
        check("the refused free text never reached the Send API",
              not [x for x in sent_to(fake, PSID) if x.get("text") == "Still thinking about it?"])
    finally:
        p.stop()


if __name__ == "__main__":
    sys.exit(main())
