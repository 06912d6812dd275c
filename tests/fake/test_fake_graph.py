#!/usr/bin/env python3
"""Self-test of tests/fake/fake_graph.py (and of harness.FakeGraph): starts the
fake against a small webhook receiver and checks each behaviour README.md
documents. TAP lines; exit status 1 on any failure.

    python3 tests/fake/test_fake_graph.py
"""
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e", "lib"))
import harness  # noqa: E402
from harness import check, wait_for  # noqa: E402

SECRET, TOKEN, PNID = "s3cret", "EAAtoken", "1234567890"
IN = "15550000001"            # inside the window from the start (--window-open)
DETAILS_131047 = ("Message failed to send because more than 24 hours have passed since "
                  "the customer last replied to this number.")


class Receiver:
    """parley's stand-in: records every webhook post (raw bytes, headers);
    answers 500 to the next fail_next posts; echoes hub.challenge when
    hub.verify_token is "vt"."""

    def __init__(self):
        self.posts, self.fail_next, self.lock = [], 0, threading.Lock()
        rx = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with rx.lock:
                    rx.posts.append({"raw": raw, "headers": dict(self.headers), "t": time.time()})
                    fail = rx.fail_next > 0
                    rx.fail_next -= 1 if fail else 0
                self.reply(500 if fail else 200, b"EVENT_RECEIVED")

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                ok = q.get("hub.mode") == ["subscribe"] and q.get("hub.verify_token") == ["vt"]
                self.reply(200 if ok else 403, q.get("hub.challenge", [""])[0].encode() if ok else b"")

            def reply(self, status, data):
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/webhook" % self.server.server_address[1]

    def statuses(self, msg_id):
        """(status object, post) for each status webhook about msg_id, in order."""
        out = []
        for p in list(self.posts):
            body = json.loads(p["raw"])
            if body.get("object") != "whatsapp_business_account":
                continue
            for st in body["entry"][0]["changes"][0]["value"].get("statuses", []):
                if st["id"] == msg_id:
                    out.append((st, p))
        return out

    def messenger(self, kind, mid):
        return [json.loads(p["raw"]) for p in list(self.posts)
                if kind.encode() in p["raw"] and mid.encode() in p["raw"]]


def post(fake, path, body, token=TOKEN, ctype="application/json", query=""):
    headers = {"Content-Type": ctype}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, text = harness.request(fake.port, "POST", path + query, data, headers)
    return status, json.loads(text)


def wa(fake, to, kind="text", **obj):
    if not obj and kind == "text":
        obj = {"text": {"body": "hello"}}
    body = dict({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                 "type": kind}, **obj)
    return post(fake, "/v21.0/%s/messages" % PNID, body)


def err(answer):
    e = answer.get("error", {})
    return e.get("code"), e.get("error_data", {}).get("details", "")


def meta_bytes(obj):
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def buttons(*pairs):
    return [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in pairs]


def interactive(kind, body_text, action, **extra):
    return {"interactive": dict({"type": kind, "body": {"text": body_text}, "action": action}, **extra)}


def rows(n, title="Row", desc="d"):
    return [{"id": "r%d" % i, "title": title, "description": desc} for i in range(n)]


def test_auth_and_paths(fake):
    s, a = post(fake, "/v21.0/%s/messages" % PNID, {}, token="wrong")
    check("wrong token: 401, 190 OAuthException, fbtrace_id",
          s == 401 and a["error"]["code"] == 190 and a["error"]["type"] == "OAuthException"
          and a["error"]["fbtrace_id"].startswith("A"), a)
    s, a = post(fake, "/v21.0/%s/messages" % PNID, {}, token=None)
    check("no token: 401, 190", s == 401 and a["error"]["code"] == 190, a)
    s, a = post(fake, "/v21.0/999/messages", {})
    check("unknown phone number id: 400, 100 subcode 33 GraphMethodException",
          s == 400 and a["error"]["code"] == 100 and a["error"]["error_subcode"] == 33
          and a["error"]["type"] == "GraphMethodException", a)
    s, a = post(fake, "/v2/%s/messages" % PNID, {})
    check("version not vN.N: 400, 2500 unknown path", s == 400 and a["error"]["code"] == 2500, a)
    s, a = post(fake, "/v19.0/%s/messages" % PNID, b"to=1", ctype="application/x-www-form-urlencoded")
    check("Content-Type not JSON: 400, 100", s == 400 and err(a)[0] == 100, a)
    s, a = post(fake, "/v19.0/%s/messages" % PNID, b"{not json")
    check("body not JSON: 400, 100", s == 400 and err(a)[0] == 100, a)


def test_whatsapp_checks(fake):
    s, a = post(fake, "/v21.0/%s/messages" % PNID, {"to": IN, "type": "text", "text": {"body": "x"}})
    check("missing messaging_product: 100 naming it", s == 400 and err(a) == (100, "The parameter messaging_product is required.")
          and a["error"]["error_data"]["messaging_product"] == "whatsapp", a)
    cases = [
        ("to not a number", dict(to="12ab"), 131009, "to"),
        ("to too short", dict(to="123456"), 131009, "to"),
        ("unknown type", dict(type="poll"), 100, "type"),
        ("text.body missing", dict(text={}), 100, "text['body']"),
        ("text.body 4097 chars", dict(text={"body": "x" * 4097}), 131009, "text['body']"),
        ("image ftp link", dict(type="image", image={"link": "ftp://x/y.png"}), 131009, "image['link']"),
        ("image without link or id", dict(type="image", image={"caption": "c"}), 100, "image['id']"),
        ("audio with a caption", dict(type="audio", audio={"id": "1", "caption": "c"}), 100, "audio['caption']"),
        ("caption 1025 chars", dict(type="video", video={"id": "1", "caption": "c" * 1025}), 131009, "caption"),
        ("4 reply buttons", dict(type="interactive", **interactive("button", "b", {"buttons": buttons(*[("a%d" % i, "t%d" % i) for i in range(4)])})), 131009, "buttons"),
        ("button title 21 chars", dict(type="interactive", **interactive("button", "b", {"buttons": buttons(("a", "t" * 21))})), 131009, "title"),
        ("duplicate button ids", dict(type="interactive", **interactive("button", "b", {"buttons": buttons(("a", "x"), ("a", "y"))})), 131009, "unique"),
        ("button id 257 chars", dict(type="interactive", **interactive("button", "b", {"buttons": buttons(("a" * 257, "x"))})), 131009, "['id']"),
        ("button body 1025 chars", dict(type="interactive", **interactive("button", "b" * 1025, {"buttons": buttons(("a", "x"))})), 131009, "body"),
        ("list with 11 rows", dict(type="interactive", **interactive("list", "b", {"button": "Pick", "sections": [{"title": "S", "rows": rows(11)}]})), 131009, "rows"),
        ("list row title 25 chars", dict(type="interactive", **interactive("list", "b", {"button": "Pick", "sections": [{"title": "S", "rows": rows(1, "t" * 25)}]})), 131009, "['title']"),
        ("list row description 73", dict(type="interactive", **interactive("list", "b", {"button": "Pick", "sections": [{"title": "S", "rows": rows(1, "t", "d" * 73)}]})), 131009, "description"),
        ("list button 21 chars", dict(type="interactive", **interactive("list", "b", {"button": "P" * 21, "sections": [{"title": "S", "rows": rows(1)}]})), 131009, "button"),
        ("template without language", dict(type="template", template={"name": "hello"}), 100, "language"),
        ("template body param image", dict(type="template", template={"name": "h", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [{"type": "image", "image": {"id": "1"}}]}]}), 131009, "parameters"),
        ("location without latitude", dict(type="location", location={"longitude": 1}), 100, "latitude"),
    ]
    for desc, over, code, field in cases:
        body = dict({"messaging_product": "whatsapp", "to": IN, "type": "text", "text": {"body": "x"}}, **over)
        s, a = post(fake, "/v21.0/%s/messages" % PNID, body)
        check("%s: 400, %d naming %s" % (desc, code, field),
              s == 400 and err(a)[0] == code and field in err(a)[1]
              and a["error"]["message"] == {100: "(#100) Invalid parameter",
                                           131009: "(#131009) Parameter value is not valid"}[code], a)


def test_whatsapp_accepts(fake):
    good = [
        ("image by link with caption", "image", {"image": {"link": "https://e.x/a.png", "caption": "c"}}, "c"),
        ("document by id", "document", {"document": {"id": "123", "filename": "a.pdf"}}, ""),
        ("sticker", "sticker", {"sticker": {"id": "9"}}, ""),
        ("location", "location", {"location": {"latitude": 1.5, "longitude": "2", "name": "Here"}}, "Here"),
        ("contacts", "contacts", {"contacts": [{"name": {"formatted_name": "Ann B"}}]}, "Ann B"),
        ("reaction", "reaction", {"reaction": {"message_id": "wamid.X", "emoji": "\U0001F44D"}}, "\U0001F44D"),
        ("3 reply buttons", "interactive", interactive("button", "Choose", {"buttons": buttons(("y", "Yes"), ("n", "No"), ("m", "t" * 20))}, footer={"text": "f"}), "Choose"),
        ("list, 2 sections, 10 rows", "interactive", interactive("list", "Pick one", {"button": "Options", "sections": [{"title": "A", "rows": rows(5)}, {"title": "B", "rows": [{"id": "z%d" % i, "title": "t" * 24} for i in range(5)]}]}), "Pick one"),
    ]
    for desc, kind, obj, text in good:
        s, a = wa(fake, IN, kind, **obj)
        line = [x for x in fake.accepted() if x.get("wamid") == (a.get("messages") or [{}])[0].get("id")]
        check("accepted: %s (200, logged with its text)" % desc,
              s == 200 and line and line[0]["type"] == kind and line[0]["text"] == text, (a, line))
    s, a = wa(fake, "+" + IN, "text", text={"body": "hi there"})
    wamid = a["messages"][0]["id"]
    check("text: 200 with Meta's answer shape (input as given, wa_id digits)",
          s == 200 and a["messaging_product"] == "whatsapp"
          and a["contacts"] == [{"input": "+" + IN, "wa_id": IN}] and list(a["messages"][0]) == ["id"]
          and re.fullmatch(r"wamid\.[A-Za-z0-9+/]+=*", wamid), a)
    ids = {wa(fake, IN)[1]["messages"][0]["id"] for _ in range(20)}
    check("wamids are unique", len(ids) == 20, ids)
    check("sent(to) lists the texts accepted", fake.sent(IN)[-21] == "hi there", fake.sent(IN)[-22:])
    return wamid


def test_status_webhooks(fake, rx, wamid):
    got = wait_for(lambda: len(rx.statuses(wamid)) >= 2 and rx.statuses(wamid), 10)
    names = [st["status"] for st, _ in got]
    check("status webhooks: sent then delivered, each its own post", names == ["sent", "delivered"], names)
    sent, post_ = got[0]
    h = post_["headers"]
    check("webhook headers: X-Hub-Signature-256 over the raw body, sha1 too, UA, JSON",
          h.get("X-Hub-Signature-256") == fake.sign(post_["raw"])
          and h.get("X-Hub-Signature") == "sha1=" + hmac.new(SECRET.encode(), post_["raw"], hashlib.sha1).hexdigest()
          and h.get("User-Agent") == "facebookexternalua" and h.get("Content-Type") == "application/json", h)
    body = json.loads(post_["raw"])
    ch = body["entry"][0]["changes"][0]
    check("status envelope as Meta documents it",
          body["object"] == "whatsapp_business_account" and ch["field"] == "messages"
          and ch["value"]["messaging_product"] == "whatsapp"
          and ch["value"]["metadata"]["phone_number_id"] == PNID and body["entry"][0]["id"]
          and sent["recipient_id"] == IN and re.fullmatch(r"\d+", sent["timestamp"]), body)
    check("sent: conversation (with expiration_timestamp) and pricing, service, free",
          sent["conversation"]["origin"] == {"type": "service"} and "expiration_timestamp" in sent["conversation"]
          and sent["pricing"] == {"billable": False, "pricing_model": "PMP", "type": "free_customer_service",
                                  "category": "service"}
          and "expiration_timestamp" not in got[1][0]["conversation"], got)
    check("status raw bytes are Meta's compact serialization", post_["raw"] == meta_bytes(body), post_["raw"][:200])
    line = wait_for(lambda: [x for x in fake.webhooks("status") if x["id"] == wamid], 5)
    check("status webhooks logged", line and line[0]["status"] == "sent" and line[0]["http"] == 200
          and line[0]["attempts"] == 1, line)


def test_window(fake, rx):
    s, a = wa(fake, "15559990001", "text", text={"body": "late"})
    wamid = a["messages"][0]["id"]
    got = wait_for(lambda: rx.statuses(wamid), 10)
    time.sleep(0.3)
    st = [x[0] for x in rx.statuses(wamid)]
    e = st[0].get("errors", [{}])[0] if st else {}
    check("outside the window: 200, then one 'failed' status with 131047",
          s == 200 and got and [x["status"] for x in st] == ["failed"] and e.get("code") == 131047
          and e.get("title") == "Re-engagement message" and e.get("message") == "Re-engagement message"
          and e.get("error_data") == {"details": DETAILS_131047} and e.get("href", "").startswith("https://"), st)
    s, a = wa(fake, "15559990001", "template", template={"name": "order_update", "language": {"code": "en_US"},
              "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]})
    wamid = a["messages"][0]["id"]
    check("template outside the window: 200, message_status accepted",
          s == 200 and a["messages"][0] == {"id": wamid, "message_status": "accepted"}, a)
    got = wait_for(lambda: len(rx.statuses(wamid)) >= 2 and rx.statuses(wamid), 10)
    check("template statuses: sent, delivered, priced utility/regular",
          got and [x[0]["status"] for x in got] == ["sent", "delivered"]
          and got[0][0]["pricing"]["category"] == "utility" and got[0][0]["pricing"]["billable"] is True, got)
    check("sent(to) gives the template name", fake.sent("15559990001") == ["late", "order_update"],
          fake.sent("15559990001"))


def test_inbound(fake, rx):
    n = len(rx.posts)
    r = fake.post_inbound("15557770001", text="h\u00e9llo \U0001F600 a/b", name="Zo\u00eb")
    raw = rx.posts[n]["raw"] if len(rx.posts) > n else b""
    check("inbound: parley's answer, payload and signature come back",
          r["status"] == 200 and r["body"] == "EVENT_RECEIVED" and raw.decode() == r["payload"]
          and r["signature"] == fake.sign(raw) == rx.posts[n]["headers"]["X-Hub-Signature-256"], r)
    check("inbound bytes: ASCII, \\u escapes (surrogate pair), \\/ , no spaces between tokens",
          b"h\\u00e9llo \\ud83d\\ude00 a\\/b" in raw and b"Zo\\u00eb" in raw and raw.isascii()
          and raw == meta_bytes(json.loads(raw)), raw)
    v = json.loads(raw)["entry"][0]["changes"][0]["value"]
    m = v["messages"][0]
    check("inbound envelope: contacts (profile name, wa_id) and the message",
          v["contacts"] == [{"profile": {"name": "Zo\u00eb"}, "wa_id": "15557770001"}]
          and m["from"] == "15557770001" and m["id"].startswith("wamid.") and re.fullmatch(r"\d+", m["timestamp"])
          and m["type"] == "text" and m["text"] == {"body": "h\u00e9llo \U0001F600 a/b"}, v)
    s, a = wa(fake, "15557770001")
    got = wait_for(lambda: rx.statuses(a["messages"][0]["id"]), 10)
    check("after an inbound message the window is open", got and got[0][0]["status"] == "sent", got)
    reply = {"context": {"from": "15550783881", "id": "wamid.ctx"}, "type": "interactive",
             "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}}
    r = fake.post_inbound("15557770002", message=reply)
    m = json.loads(r["payload"])["entry"][0]["changes"][0]["value"]["messages"][0]
    check("a button_reply message object goes through, context first",
          list(m)[:5] == ["context", "from", "id", "timestamp", "type"]
          and m["interactive"]["button_reply"]["id"] == "yes", m)
    r = fake.post_inbound("15557770003", messages=[{"type": "text", "text": {"body": "1"}, "id": "wamid.given"},
                                                   {"from": "15557770004", "type": "location",
                                                    "location": {"latitude": 1, "longitude": 2}}])
    v = json.loads(r["payload"])["entry"][0]["changes"][0]["value"]
    check("several messages: ids kept when given, one contact per sender",
          [x["id"] for x in v["messages"]][0] == "wamid.given" and len(v["contacts"]) == 2, v)
    st = {"id": "wamid.Q", "status": "read", "timestamp": "1", "recipient_id": "1"}
    r = fake.post_inbound("15557770001", statuses=[st])
    v = json.loads(r["payload"])["entry"][0]["changes"][0]["value"]
    check("statuses-only delivery", v.get("statuses") == [st] and "contacts" not in v, v)
    n = len(rx.posts)
    r = fake.post_inbound("15557770001", text="t", tamper=True)
    check("tamper: a wrong signature is sent", r["signature"] != fake.sign(r["payload"].encode())
          and rx.posts[n]["headers"]["X-Hub-Signature-256"] == r["signature"], r)
    n = len(rx.posts)
    r = fake.post_inbound("15557770001", text="again", repeat=3)
    check("repeat 3: the same bytes posted three times",
          len(rx.posts) - n == 3 and len({p["raw"] for p in rx.posts[n:]}) == 1, len(rx.posts) - n)
    rx.fail_next = 2
    r = fake.post_inbound("15557770001", text="retry")
    check("5xx then 200: tried 3 times", r["status"] == 200 and r["attempts"] == 3, r)
    rx.fail_next = 9
    t0 = time.time()
    r = fake.post_inbound("15557770001", text="retry")
    rx.fail_next = 0
    check("always 5xx: 4 tries over ~0.7 s", r["status"] == 500 and r["attempts"] == 4
          and 0.65 <= time.time() - t0 < 3, (r, time.time() - t0))
    line = fake.webhooks("inbound")[-1]
    check("inbound webhook logged", line["http"] == 500 and line["attempts"] == 4, line)


def test_clock(fake, rx):
    fake.post_inbound("15556660001", text="hi")
    fake.advance(23 * 3600)
    _, a = wa(fake, "15556660001")
    ok = wait_for(lambda: rx.statuses(a["messages"][0]["id"]), 10)
    fake.advance(2 * 3600)
    _, b = wa(fake, "15556660001")
    late = wait_for(lambda: rx.statuses(b["messages"][0]["id"]), 10)
    check("advance: inside at 23 h, failed 131047 at 25 h",
          ok and ok[0][0]["status"] == "sent" and late and late[0][0]["status"] == "failed"
          and late[0][0]["errors"][0]["code"] == 131047, (ok, late))


def test_verify(fake):
    good, bad = fake.verify("vt", "12345"), fake.verify("nope")
    check("verify: the app's answer to hub.mode=subscribe&hub.verify_token&hub.challenge",
          good == {"status": 200, "body": "12345"} and bad["status"] == 403, (good, bad))


def ms(fake, psid, query="", token=TOKEN, node="me", **over):
    body = dict({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "hello"}}, **over)
    return post(fake, "/v21.0/%s/messages" % node, body, token=token, query=query)


def test_messenger(fake, rx):
    s, a = ms(fake, "P1")
    check("Messenger outside the window: 400, (#10) subcode 2018278",
          s == 400 and a["error"]["code"] == 10 and a["error"]["error_subcode"] == 2018278
          and a["error"]["message"] == "(#10) This message is sent outside of allowed window.", a)
    r = fake.messenger_inbound("P1", text="hi \u00e9/")
    body = json.loads(r["payload"])
    e = body["entry"][0]
    ev = e["messaging"][0]
    check("Messenger inbound: Meta's page envelope, signed",
          body["object"] == "page" and e["id"] == "555" and isinstance(e["time"], int)
          and ev["sender"] == {"id": "P1"} and ev["recipient"] == {"id": "555"} and isinstance(ev["timestamp"], int)
          and ev["message"]["mid"].startswith("m_") and ev["message"]["text"] == "hi \u00e9/"
          and "hi \\u00e9\\/" in r["payload"] and r["signature"] == fake.sign(r["payload"].encode()), r)
    s, a = ms(fake, "P1", query="?access_token=" + TOKEN, token=None)
    check("Messenger send in the window, token as access_token: recipient_id, message_id",
          s == 200 and a["recipient_id"] == "P1" and a["message_id"].startswith("m_"), a)
    s, a = ms(fake, "P1", node="555", message={"text": "q", "quick_replies": [
        {"content_type": "text", "title": "t" * 20, "payload": "p"}] * 13})
    check("POST /{page-id}/messages, 13 quick replies: 200", s == 200, a)
    cases = [("text 2001 chars", {"message": {"text": "x" * 2001}}),
             ("14 quick replies", {"message": {"text": "q", "quick_replies": [{"content_type": "text", "title": "t", "payload": "p"}] * 14}}),
             ("quick reply title 21 chars", {"message": {"text": "q", "quick_replies": [{"content_type": "text", "title": "t" * 21, "payload": "p"}]}}),
             ("no messaging_type", {"messaging_type": None}),
             ("unknown tag", {"messaging_type": "MESSAGE_TAG", "tag": "NEWS"}),
             ("text and attachment", {"message": {"text": "a", "attachment": {"type": "image", "payload": {"url": "https://x"}}}})]
    for desc, over in cases:
        s, a = ms(fake, "P1", **over)
        check("Messenger %s: 400, 100" % desc, s == 400 and a["error"]["code"] == 100, a)
    s, a = ms(fake, "P-never", messaging_type="MESSAGE_TAG", tag="ACCOUNT_UPDATE")
    check("MESSAGE_TAG ACCOUNT_UPDATE outside the window: 200", s == 200, a)
    fake.messenger_inbound("P2", postback={"title": "Start", "payload": "GET_STARTED"})
    fake.advance(2 * 86400)
    s1, _ = ms(fake, "P2")
    s2, _ = ms(fake, "P2", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    fake.advance(6 * 86400)
    s3, a3 = ms(fake, "P2", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    check("HUMAN_AGENT: 2 days later RESPONSE fails, the tag passes; 8 days later it fails",
          (s1, s2, s3) == (400, 200, 400) and a3["error"]["error_subcode"] == 2018278, (s1, s2, s3))
    r = fake.messenger_inbound("P3", text="ig", obj="instagram")
    e = json.loads(r["payload"])["entry"][0]
    s, a = ms(fake, "P3")
    fake.advance(25 * 3600)
    s2, a2 = ms(fake, "P3")
    check("Instagram: object instagram, then (#10) subcode 2534022 out of the window",
          e["id"] == "17841400000000001" and s == 200 and s2 == 400 and a2["error"]["error_subcode"] == 2534022,
          (e, a, a2))
    r = fake.messenger_inbound("P4", postback={"title": "Buy", "payload": "BUY"})
    pb = json.loads(r["payload"])["entry"][0]["messaging"][0]["postback"]
    r = fake.messenger_inbound("P4", text="Red", quick_reply="RED")
    qr = json.loads(r["payload"])["entry"][0]["messaging"][0]["message"]
    check("postback and quick_reply shapes", pb["payload"] == "BUY" and pb["title"] == "Buy"
          and pb["mid"].startswith("m_") and qr["quick_reply"] == {"payload": "RED"}, (pb, qr))
    check("Messenger sends logged with mid", [x["text"] for x in fake.accepted() if x.get("to") == "P1"]
          == ["hello", "q"], fake.accepted()[-3:])


def test_log(fake):
    acc, rej = fake.accepted(), fake.rejected()
    check("log: accepted lines {wamid|mid, to, type, body, text}",
          acc and all({"to", "type", "body", "text"} <= set(x) and ("wamid" in x or "mid" in x) for x in acc), acc[:2])
    check("log: rejected lines {rejected, code, to, message}",
          rej and all({"rejected", "code", "to", "message"} <= set(x) for x in rej)
          and any(x["code"] == 131009 and x["to"] == IN for x in rej), rej[:3])
    check("log: webhook lines {webhook, id, status, http, attempts}",
          all({"webhook", "id", "status", "http", "attempts"} <= set(x) for x in fake.webhooks()), fake.webhooks()[:2])


def test_failures(workdir, rx):
    fake = harness.FakeGraph(workdir, rx.url, SECRET, TOKEN, PNID,
                             args=["--window-open", IN, "--fail-rate", "3", "--fail-500", "2"], name="g2")
    got = [wa(fake, IN) for _ in range(6)]
    check("--fail-rate 3 --fail-500 2: 200 500 400 200 500 400",
          [s for s, _ in got] == [200, 500, 400, 200, 500, 400], [s for s, _ in got])
    check("throughput error: 130429 (#130429) Rate limit hit, details as Meta",
          err(got[2][1]) == (130429, "Cloud API message throughput has been reached.")
          and got[2][1]["error"]["message"] == "(#130429) Rate limit hit", got[2][1])
    check("500: code 2, is_transient", got[1][1]["error"]["code"] == 2
          and got[1][1]["error"]["is_transient"] is True, got[1][1])
    check("stop: SIGTERM exits 0", fake.stop() == 0)

    fake = harness.FakeGraph(workdir, rx.url, SECRET, TOKEN, PNID, name="g3", args=[
        "--window-open", IN, "--window-hours", "1", "--read", "--status-delay-ms", "300",
        "--omit-conversation", "--messenger-receipts", "--code", "15550002222=368",
        "--code", "15550003333=131026", "--code", "15550004444=131047:sync", "--code", "P8=551"])
    s, a = wa(fake, "15550002222")
    check("--code 368: 403 (#368) Temporarily blocked for policies violations",
          s == 403 and a["error"]["message"] == "(#368) Temporarily blocked for policies violations", a)
    s, a = wa(fake, "15550004444")
    check("--code NUMBER=131047:sync answers at once", s == 400 and err(a)[0] == 131047, a)
    s, a = wa(fake, "15550003333")
    got = wait_for(lambda: rx.statuses(a["messages"][0]["id"]), 10)
    check("--code 131026: 200, then failed with 131026",
          s == 200 and got and got[0][0]["status"] == "failed" and got[0][0]["errors"][0]["code"] == 131026, got)
    t0 = time.time()
    s, a = wa(fake, IN)
    got = wait_for(lambda: len(rx.statuses(a["messages"][0]["id"])) >= 3 and rx.statuses(a["messages"][0]["id"]), 10)
    check("--read: sent, delivered, read (no pricing on read)",
          got and [x[0]["status"] for x in got] == ["sent", "delivered", "read"] and "pricing" not in got[2][0], got)
    check("--omit-conversation: pricing but no conversation", got and "conversation" not in got[0][0]
          and "pricing" in got[0][0], got)
    check("--status-delay-ms 300", got and got[0][1]["t"] - t0 >= 0.3, got and got[0][1]["t"] - t0)
    fake.post_inbound("15550005555", text="x")
    fake.advance(3700)
    s, a = wa(fake, "15550005555")
    got = wait_for(lambda: rx.statuses(a["messages"][0]["id"]), 10)
    check("--window-hours 1", got and got[0][0]["status"] == "failed", got)
    fake.messenger_inbound("P9", text="hi")
    s, a = ms(fake, "P9")
    mid = a.get("message_id", "?")
    got = wait_for(lambda: len(rx.messenger("watermark", mid)) + len(rx.messenger("\"read\"", "P9")) >= 2
                   and rx.messenger("delivery", mid), 10)
    check("--messenger-receipts: a delivery event naming the mid",
          got and got[0]["entry"][0]["messaging"][0]["delivery"]["mids"] == [mid], got)
    s, a = ms(fake, "P8")
    check("--code P8=551 on Messenger", s == 400 and a["error"]["code"] == 551
          and a["error"]["error_subcode"] == 1545041, a)
    fake.stop()


def test_openssl():
    if not shutil.which("openssl"):
        return harness.skip("signature matches openssl dgst -sha256 -hmac", "no openssl")
    body = meta_bytes({"text": {"body": "h\u00e9llo \U0001F600 a/b"}})
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", SECRET], input=body,
                         capture_output=True).stdout.decode()
    check("signature matches openssl dgst -sha256 -hmac",
          out.strip().endswith(harness.graph_signature(SECRET, body)[7:]), out)


def main():
    workdir = tempfile.mkdtemp(prefix="fake_graph_test.")
    rx = Receiver()
    fake = harness.FakeGraph(workdir, rx.url, SECRET, TOKEN, PNID, args=["--window-open", IN])
    check("starts and prints its port", fake.port is not None)
    if fake.port is None:
        return harness.summary()
    try:
        test_auth_and_paths(fake)
        test_whatsapp_checks(fake)
        wamid = test_whatsapp_accepts(fake)
        test_status_webhooks(fake, rx, wamid)
        test_window(fake, rx)
        test_inbound(fake, rx)
        test_verify(fake)
        test_messenger(fake, rx)
        test_clock(fake, rx)
        test_log(fake)
        test_failures(workdir, rx)
        test_openssl()
    finally:
        check("SIGTERM: exit status 0", fake.stop() == 0)
        shutil.rmtree(workdir, ignore_errors=True)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
