#!/usr/bin/env python3
"""fake_graph: a local stand-in for Meta's Graph API, for parley's end-to-end
tests of its WhatsApp Business Cloud API and Messenger/Instagram channels (see
README.md next to this file). Python 3, standard library only.

What it fakes, as Meta documents it (developers.facebook.com/documentation/
business-messaging/...):
  * WhatsApp send, POST /{version}/{phone-number-id}/messages: whatsapp/messages/
    send-messages, text-messages, interactive-reply-buttons-messages,
    interactive-list-messages; answers {"messaging_product","contacts","messages"}.
  * Its errors, {"error":{"message":"(#CODE) Title","type":"OAuthException",
    "code","error_data":{"messaging_product":"whatsapp","details"},"fbtrace_id"}}:
    whatsapp/support/error-codes. Some codes come back in the answer, others
    (131026, 131047, ...) later, in a "failed" status webhook.
  * The 24-hour customer service window: a free-form message to a number that
    has not written within it is accepted (200), then fails with 131047
    "Re-engagement message" in its status webhook.
  * Status webhooks (sent, delivered, read, failed: whatsapp/webhooks/reference/
    messages/status) and inbound message webhooks, serialized as Meta sends
    them (no spaces, non-ASCII as \\uXXXX, "/" as "\\/") and signed over those
    exact bytes: X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, body).
  * Messenger/Instagram Send API, POST /{version}/me/messages: messenger-platform/
    send-messages, quick-replies, error-codes ((#10) subcode 2018278 outside the
    24-hour standard messaging window; message tags HUMAN_AGENT and others).
  * Control endpoints under /_fake/ let a test deliver inbound messages, move
    the fake's clock, and drive the webhook verification handshake.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GRAPH_PATH = re.compile(r"^/v\d+\.\d+/([^/]+)/messages$")
MEDIA_PATH = re.compile(r"^/v\d+\.\d+/(\d+)$")
HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
RETRY_DELAYS = (0.1, 0.2, 0.4)          # webhook tries: 1 + 3 retries
MAX_BODY = 1 << 20
WA_TYPES = ("text", "image", "audio", "document", "video", "sticker", "location",
            "contacts", "interactive", "template", "reaction")
MEDIA_CAPTION = {"image": True, "video": True, "document": True, "audio": False, "sticker": False}
MS_TAGS = {"HUMAN_AGENT": 7 * 24, "CONFIRMED_EVENT_UPDATE": None,
           "POST_PURCHASE_UPDATE": None, "ACCOUNT_UPDATE": None}   # hours, None: any time

# WhatsApp codes: (title, details, HTTP status, when). "sync" answers the send
# request; "async" accepts it (200) and reports the code in a "failed" status.
WA_CODES = {
    0: ("AuthException", "We were unable to authenticate the app user.", 401, "sync"),
    1: ("API Unknown", "Invalid request or possible server error.", 400, "sync"),
    2: ("API Service", "Temporary due to downtime or due to being overloaded.", 503, "sync"),
    3: ("API Method", "Capability or permissions issue.", 500, "sync"),
    4: ("API Too Many Calls", "The app has reached its API call rate limit.", 400, "sync"),
    10: ("API Permission Denied", "Permission is either not granted or has been removed.", 403, "sync"),
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters.", 400, "sync"),
    190: ("Access token has expired", "Your access token has expired.", 401, "sync"),
    200: ("API Permission", "Permission is either not granted or has been removed.", 403, "sync"),
    368: ("Temporarily blocked for policies violations", "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.", 403, "sync"),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit.", 400, "sync"),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached.", 400, "sync"),
    130472: ("User's number is part of an experiment", "Message was not sent as part of an experiment.", 400, "async"),
    130497: ("Business account is restricted from messaging users in this country", "The WhatsApp Business Account is restricted from messaging to users in certain countries.", 403, "sync"),
    131000: ("Something went wrong", "Message failed to send due to an unknown error.", 500, "sync"),
    131005: ("Access denied", "Permission is either not granted or has been removed.", 403, "sync"),
    131008: ("Required parameter is missing", "The request is missing a required parameter.", 400, "sync"),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid.", 400, "sync"),
    131016: ("Service unavailable", "A service is temporarily unavailable.", 503, "sync"),
    131021: ("Recipient cannot be sender", "Sender and recipient phone number is the same.", 400, "sync"),
    131026: ("Message undeliverable", "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service and Privacy Policy; the recipient uses an old WhatsApp version.", 400, "async"),
    131031: ("Account has been locked", "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy, or we were unable to verify data included in the request against data set on the WhatsApp Business Account.", 403, "sync"),
    131042: ("Business eligibility payment issue", "There was an error related to your payment method.", 400, "sync"),
    131045: ("Incorrect certificate", "Message failed to send due to a phone number registration error.", 400, "sync"),
    131047: ("Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number.", 400, "async"),
    131048: ("Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.", 400, "sync"),
    131049: ("This message was not delivered to maintain healthy ecosystem engagement.", "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.", 400, "async"),
    131050: ("Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.", "This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.", 400, "async"),
    131051: ("Unsupported message type", "Unsupported message type.", 400, "sync"),
    131053: ("Media upload error", "Unable to upload the media used in the message.", 400, "async"),
    131056: ("(Business Account, Consumer Account) pair rate limit hit", "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.", 400, "sync"),
    131057: ("Account in maintenance mode", "Business Account is in maintenance mode", 400, "sync"),
    132000: ("Number of parameters does not match the expected number of params", "The number of variable parameter values included in the request did not match the number of variable parameters defined in the template.", 400, "sync"),
    132001: ("Template name does not exist in the translation", "The template does not exist in the specified language or the template has not been approved.", 404, "sync"),
    132015: ("Template is Paused", "Template is paused due to low quality so it cannot be sent in a template message.", 400, "sync"),
    133010: ("Phone number not registered", "Phone number not registered on the WhatsApp Business Platform.", 400, "sync"),
}
# Messenger codes: (message, subcode, HTTP status)
MS_CODES = {
    2: ("An unexpected error has occurred. Please retry your request later.", None, 500),
    4: ("(#4) Application request limit reached", None, 400),
    10: ("(#10) This message is sent outside of allowed window.", 2018278, 400),
    100: ("(#100) No matching user found", 2018001, 400),
    200: ("(#200) The user hasn't authorized the app to perform this action", None, 403),
    551: ("(#551) This person isn't available right now.", 1545041, 400),
    613: ("(#613) Calls to this api have exceeded the rate limit.", None, 400),
    1200: ("(#1200) Temporary send message failure. Please try again later", None, 500),
}

CFG = None
LOCK = threading.Lock()
STATE = {"offset": 0.0, "wa_last": {}, "ms_last": {}, "n_valid": 0, "n_rest": 0}
SEQ = itertools.count(1)
JOBS = queue.Queue()
LOG_FD = -1


class GraphError(Exception):
    """One of Graph's error answers: HTTP status and the "error" object."""

    def __init__(self, http_status, code, message, details=None, subcode=None,
                 etype="OAuthException", transient=False):
        super().__init__(message)
        self.http, self.code = http_status, code
        self.error = {"message": message, "type": etype, "code": code}
        if subcode is not None:
            self.error["error_subcode"] = subcode
        if transient:
            self.error["is_transient"] = True
        if details is not None:
            self.error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        self.error["fbtrace_id"] = "A" + base64.urlsafe_b64encode(os.urandom(16)).decode()[:22]

    def answer(self):
        return {"error": self.error}


def wa_error(code, details=None):
    title, default, status, _ = WA_CODES.get(code, ("Error", "Error %d." % code, 400, "sync"))
    transient = code in (1, 2, 131000, 131016)
    return GraphError(status, code, "(#%d) %s" % (code, title), details or default, transient=transient)


def ms_error(code):
    message, subcode, status = MS_CODES.get(code, ("(#%d) Error" % code, None, 400))
    return GraphError(status, code, message, subcode=subcode, transient=status >= 500)


def bad_param(details):
    return GraphError(400, 100, "(#100) Invalid parameter", details)


def bad_value(details):
    return GraphError(400, 131009, "(#131009) Parameter value is not valid", details)


# ------------------------------------------------------------------ utilities

def now():
    """The fake's clock: wall time plus what /_fake/advance added."""
    return time.time() + STATE["offset"]


def meta_json(obj):
    """obj serialized the way Meta serializes webhooks and answers: no spaces,
    non-ASCII as \\uXXXX (lowercase hex, surrogate pairs past U+FFFF) and "/"
    escaped as "\\/". A "/" only ever appears inside a JSON string, so
    escaping every one is safe."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def signature(body, secret=None):
    key = (CFG.app_secret if secret is None else secret).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def log(obj):
    """One line per answer or webhook: a single write(2) under a lock to an
    O_APPEND file, so lines never interleave and are readable at once."""
    if LOG_FD < 0:
        return
    line = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
    with LOCK:
        os.write(LOG_FD, line)


def new_wamid(number, inbound=False):
    """A wamid shaped like Meta's: base64 of a small binary record holding the
    user's number and a unique hex id ("wamid.HBgL..." for 11 digits)."""
    digits = re.sub(r"\D", "", number).encode()[:63]
    if inbound:
        tail = b"\x15\x02\x00\x12\x18\x14" + ("%08X" % next(SEQ)).encode() + os.urandom(6).hex().upper().encode()
    else:
        tail = b"\x15\x02\x00\x11\x18\x12" + ("%06X" % next(SEQ)).encode() + os.urandom(6).hex().upper().encode()
    return "wamid." + base64.b64encode(b"\x1c\x18" + bytes([len(digits)]) + digits + tail + b"\x00").decode()


def new_mid(obj="page"):
    unique = ("%08x" % next(SEQ)).encode() + os.urandom(24)
    if obj == "instagram":
        return base64.b64encode(b"ig_message_item:1:IGMessageThread:" + unique).decode()
    return "m_" + base64.urlsafe_b64encode(unique).decode().rstrip("=")


def in_window(last, hours):
    return last is not None and now() - last <= hours * 3600


def code_rule(to):
    """(code, "sync"|"async") set for this number or PSID by --code, or None."""
    return CFG.codes.get(to.lstrip("+"))


def count_valid(rate_error, server_error):
    """Counts a request that passed every check and raises the injected
    failure it is due: every --fail-rate th, then every --fail-500 th of the
    rest (two counters, as fake_twilio)."""
    with LOCK:
        STATE["n_valid"] += 1
        if CFG.fail_rate and STATE["n_valid"] % CFG.fail_rate == 0:
            raise rate_error()
        STATE["n_rest"] += 1
        if CFG.fail_500 and STATE["n_rest"] % CFG.fail_500 == 0:
            raise server_error()


def fail_500_error(details):
    return GraphError(500, 2, "An unexpected error has occurred. Please retry your request later.",
                      details, transient=True)


# ------------------------------------------------------- WhatsApp body checks

def need(obj, key, where, kind=str):
    value = obj.get(key)
    if value is None or value == "":
        raise bad_param("The parameter %s is required." % where)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise bad_param("Param %s must be %s." % (where, {str: "a string", dict: "an object",
                                                          list: "an array"}.get(kind, "a number")))
    return value


def length(value, where, lo, hi):
    if not isinstance(value, str):
        raise bad_param("Param %s must be a string." % where)
    if not lo <= len(value) <= hi:
        raise bad_value("Param %s must be between %d and %d characters long." % (where, lo, hi))
    return value


def optional_text(obj, key, where, hi):
    if key in obj:
        part = need(obj, key, where, dict)
        length(need(part, "text", where + "['text']"), where + "['text']", 1, hi)


def check_text(m):
    text = need(m, "text", "text", dict)
    return length(need(text, "body", "text['body']"), "text['body']", 1, 4096)


def check_media(m, kind):
    media = need(m, kind, kind, dict)
    if "link" in media:
        link = need(media, "link", kind + "['link']")
        if not re.match(r"^https?://[^\s/]+", link):
            raise bad_value("Param %s['link'] must be a valid http or https URL." % kind)
    elif "id" not in media:
        raise bad_param("The parameter %s['id'] or %s['link'] is required." % (kind, kind))
    else:
        need(media, "id", kind + "['id']")
    if "caption" in media:
        if not MEDIA_CAPTION[kind]:
            raise bad_param("Param %s['caption'] is not a valid parameter for %s messages." % (kind, kind))
        length(media["caption"], kind + "['caption']", 1, 1024)
    return media.get("caption", "")


def check_location(m):
    loc = need(m, "location", "location", dict)
    for key in ("latitude", "longitude"):
        value = loc.get(key)
        if value is None or isinstance(value, bool):
            raise bad_param("The parameter location['%s'] is required." % key)
        if not re.fullmatch(r"-?\d+(\.\d+)?", str(value)):
            raise bad_value("Param location['%s'] must be a number." % key)
    return loc.get("name", "")


def check_contacts(m):
    contacts = need(m, "contacts", "contacts", list)
    for i, c in enumerate(contacts):
        name = need(c if isinstance(c, dict) else {}, "name", "contacts[%d]['name']" % i, dict)
        need(name, "formatted_name", "contacts[%d]['name']['formatted_name']" % i)
    return contacts[0]["name"]["formatted_name"]


def check_reaction(m):
    reaction = need(m, "reaction", "reaction", dict)
    need(reaction, "message_id", "reaction['message_id']")
    if not isinstance(reaction.get("emoji", None), str):
        raise bad_param("The parameter reaction['emoji'] is required.")
    return reaction["emoji"]


def check_buttons(action):
    buttons = need(action, "buttons", "interactive['action']['buttons']", list)
    if not 1 <= len(buttons) <= 3:
        raise bad_value("Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3")
    ids, titles = set(), set()
    for i, b in enumerate(buttons):
        where = "interactive['action']['buttons'][%d]" % i
        if not isinstance(b, dict) or b.get("type") != "reply":
            raise bad_param("Param %s['type'] must be reply." % where)
        reply = need(b, "reply", where + "['reply']", dict)
        bid = length(need(reply, "id", where + "['reply']['id']"), where + "['reply']['id']", 1, 256)
        title = reply.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= 20:
            raise bad_value("Button title length invalid. Min length: 1, Max length: 20")
        if bid in ids or title in titles:
            raise bad_value("Button title or id is not unique: %s" % where)
        ids.add(bid)
        titles.add(title)


def check_list(action):
    length(need(action, "button", "interactive['action']['button']"),
           "interactive['action']['button']", 1, 20)
    sections = need(action, "sections", "interactive['action']['sections']", list)
    if not 1 <= len(sections) <= 10:
        raise bad_value("Invalid number of sections. Min allowed: 1, Max allowed: 10")
    rows, ids = 0, set()
    for i, s in enumerate(sections):
        where = "interactive['action']['sections'][%d]" % i
        s = s if isinstance(s, dict) else {}
        if len(sections) > 1 or "title" in s:
            length(need(s, "title", where + "['title']"), where + "['title']", 1, 24)
        for j, r in enumerate(need(s, "rows", where + "['rows']", list)):
            rw = "%s['rows'][%d]" % (where, j)
            r = r if isinstance(r, dict) else {}
            rid = length(need(r, "id", rw + "['id']"), rw + "['id']", 1, 200)
            length(need(r, "title", rw + "['title']"), rw + "['title']", 1, 24)
            if "description" in r:
                length(r["description"], rw + "['description']", 0, 72)
            if rid in ids:
                raise bad_value("Row id is not unique: %s['id']" % rw)
            ids.add(rid)
            rows += 1
    if not 1 <= rows <= 10:
        raise bad_value("Invalid number of rows. Min allowed: 1, Max allowed total across sections: 10")


def check_interactive(m):
    inter = need(m, "interactive", "interactive", dict)
    kind = need(inter, "type", "interactive['type']")
    body = need(inter, "body", "interactive['body']", dict) if kind in ("button", "list") else inter.get("body", {})
    if kind in ("button", "list"):
        length(need(body, "text", "interactive['body']['text']"), "interactive['body']['text']",
               1, 1024 if kind == "button" else 4096)
        optional_text(inter, "footer", "interactive['footer']", 60)
        if kind == "list" or (inter.get("header") or {}).get("type") == "text":
            optional_text(inter, "header", "interactive['header']", 60)
        action = need(inter, "action", "interactive['action']", dict)
        (check_buttons if kind == "button" else check_list)(action)
    return body.get("text", "") if isinstance(body, dict) else ""


def check_template(m):
    tpl = need(m, "template", "template", dict)
    name = length(need(tpl, "name", "template['name']"), "template['name']", 1, 512)
    need(need(tpl, "language", "template['language']", dict), "code", "template['language']['code']")
    for i, comp in enumerate(tpl.get("components") or []):
        where = "template['components'][%d]" % i
        comp = comp if isinstance(comp, dict) else {}
        if need(comp, "type", where + "['type']") not in ("header", "body", "button", "footer"):
            raise bad_value("Param %s['type'] must be one of {HEADER, BODY, BUTTON, FOOTER}." % where)
        for j, p in enumerate(comp.get("parameters") or []):
            pw = "%s['parameters'][%d]" % (where, j)
            p = p if isinstance(p, dict) else {}
            ptype = need(p, "type", pw + "['type']")
            if comp["type"] == "body" and ptype not in ("text", "currency", "date_time"):
                raise bad_value("Param %s['type'] must be one of {TEXT, CURRENCY, DATE_TIME}." % pw)
            if ptype == "text":
                need(p, "text", pw + "['text']")
    return name


CHECKS = {"text": check_text, "location": check_location, "contacts": check_contacts,
          "interactive": check_interactive, "template": check_template, "reaction": check_reaction}


def check_whatsapp(body):
    """Checks a send request's JSON as Meta does; (to, digits, type, text)."""
    if need(body, "messaging_product", "messaging_product") != "whatsapp":
        raise bad_param("Param messaging_product must be whatsapp.")
    to = need(body, "to", "to")
    if not re.fullmatch(r"\+?\d{7,15}", to):
        raise bad_value("Param to must be a phone number: 7 to 15 digits, with an optional leading +.")
    kind = body.get("type", "text")
    if kind not in WA_TYPES:
        raise bad_param("Param type must be one of {%s}." % ", ".join(t.upper() for t in WA_TYPES))
    text = check_media(body, kind) if kind in MEDIA_CAPTION else CHECKS[kind](body)
    return to, to.lstrip("+"), kind, text


# -------------------------------------------------------------- WhatsApp send

def wa_envelope(value):
    head = {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": CFG.display_phone_number,
                         "phone_number_id": CFG.phone_number_id}}
    head.update(value)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": CFG.waba_id, "changes": [{"value": head, "field": "messages"}]}]}


def wa_status(wamid, to, status, billing=None, errors=None):
    st = {"id": wamid, "status": status, "timestamp": str(int(now())), "recipient_id": to}
    if billing:
        category, ptype, billable, conv_id = billing
        if not CFG.omit_conversation:
            conv = {"id": conv_id}
            if status == "sent":
                conv["expiration_timestamp"] = str(int(now() + CFG.window_hours * 3600))
            conv["origin"] = {"type": category}
            st["conversation"] = conv
        st["pricing"] = {"billable": billable, "pricing_model": "PMP", "type": ptype, "category": category}
    if errors:
        st["errors"] = errors
    return st


def webhook_error(code):
    title, details, _, _ = WA_CODES.get(code, ("Error", "Error %d." % code, 400, "async"))
    return [{"code": code, "title": title, "message": title,
             "error_data": {"details": details}, "href": HREF}]


def send_whatsapp(body):
    to, wa_id, kind, text = check_whatsapp(body)
    rule = code_rule(wa_id)
    if rule and rule[1] == "sync":
        raise wa_error(rule[0])
    count_valid(lambda: GraphError(CFG.rate_limit_http, 130429, "(#130429) Rate limit hit",
                                   WA_CODES[130429][1]),
                lambda: fail_500_error(WA_CODES[2][1]))
    wamid = new_wamid(wa_id)
    with LOCK:
        inside = in_window(STATE["wa_last"].get(wa_id), CFG.window_hours)
    if rule:
        statuses = [("failed", wa_status(wamid, wa_id, "failed", errors=webhook_error(rule[0])))]
    elif kind != "template" and not inside:
        statuses = [("failed", wa_status(wamid, wa_id, "failed", errors=webhook_error(131047)))]
    else:
        billing = (("utility", "regular", True) if kind == "template"
                   else ("service", "free_customer_service", False)) + (uuid.uuid4().hex,)
        names = ["sent", "delivered"] + (["read"] if CFG.read else [])
        statuses = [(s, wa_status(wamid, wa_id, s, billing if s != "read" else None)) for s in names]
    opaque = body.get("biz_opaque_callback_data")
    if isinstance(opaque, str) and opaque:  # echoed in each status, as Meta does
        for _, st in statuses:
            st["biz_opaque_callback_data"] = opaque
    JOBS.put((CFG.status_delay_ms / 1000.0,
              [("status", wamid, s, wa_envelope({"statuses": [st]})) for s, st in statuses]))
    message = {"id": wamid}
    if kind == "template":
        message["message_status"] = "accepted"
    log({"wamid": wamid, "to": wa_id, "type": kind, "body": body, "text": text})
    return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": wa_id}],
            "messages": [message]}


# ------------------------------------------------------------- Messenger send

def check_messenger(body):
    """Checks a Send API request; (psid, messaging_type, kind, text)."""
    psid = need(need(body, "recipient", "recipient", dict), "id", "recipient[id]")
    mtype = body.get("messaging_type")
    if mtype not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        raise GraphError(400, 100, "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
    if mtype == "MESSAGE_TAG" and body.get("tag") not in MS_TAGS:
        raise GraphError(400, 100, "(#100) param tag must be one of {%s}" % ", ".join(MS_TAGS))
    if "message" not in body and "sender_action" in body:
        return psid, mtype, "sender_action", body["sender_action"]
    msg = need(body, "message", "message", dict)
    if ("text" in msg) == ("attachment" in msg):
        raise GraphError(400, 100, "(#100) Must send either message[text] or message[attachment]")
    if "text" in msg:
        text = need(msg, "text", "message[text]")
        if len(text) > 2000:
            raise GraphError(400, 100, "(#100) Length of param message[text] must be less than or equal to 2000")
        kind = "text"
    else:
        att = need(msg, "attachment", "message[attachment]", dict)
        kind = att.get("type")
        if kind not in ("image", "audio", "video", "file", "template"):
            raise GraphError(400, 100, "(#100) param message[attachment][type] must be one of {IMAGE, AUDIO, VIDEO, FILE, TEMPLATE}")
        need(att, "payload", "message[attachment][payload]", dict)
        text = att["payload"].get("text", att["payload"].get("url", ""))
    replies = msg.get("quick_replies", [])
    if not isinstance(replies, list) or len(replies) > 13:
        raise GraphError(400, 100, "(#100) param message[quick_replies] must be an array of at most 13 elements")
    for i, qr in enumerate(replies):
        ctype = qr.get("content_type") if isinstance(qr, dict) else None
        if ctype not in ("text", "user_phone_number", "user_email"):
            raise GraphError(400, 100, "(#100) param message[quick_replies][%d][content_type] is invalid" % i)
        if ctype == "text":
            if not 1 <= len(str(qr.get("title", ""))) <= 20:
                raise GraphError(400, 100, "(#100) Title of quick reply %d must be 1 to 20 characters" % i)
            if qr.get("payload") in (None, ""):
                raise GraphError(400, 100, "(#100) param message[quick_replies][%d][payload] is required" % i)
    return psid, mtype, kind, text


def send_messenger(body):
    psid, mtype, kind, text = check_messenger(body)
    rule = code_rule(psid)
    if rule:
        raise ms_error(rule[0])
    with LOCK:
        last, obj = STATE["ms_last"].get(psid, (None, "page"))
    hours = MS_TAGS.get(body.get("tag"), 0) if mtype == "MESSAGE_TAG" else CFG.window_hours
    if hours is not None and not in_window(last, hours):
        err = ms_error(10)
        if obj == "instagram":
            err.error["error_subcode"] = 2534022
        raise err
    count_valid(lambda: ms_error(613), lambda: fail_500_error(None))
    mid = new_mid(obj)
    if CFG.messenger_receipts and kind != "sender_action":
        account = CFG.ig_id if obj == "instagram" else CFG.page_id
        base = {"sender": {"id": psid}, "recipient": {"id": account}}
        events = [dict(base, delivery={"mids": [mid], "watermark": int(now() * 1000)})]
        if CFG.read:
            events.append(dict(base, timestamp=int(now() * 1000), read={"watermark": int(now() * 1000)}))
        JOBS.put((CFG.status_delay_ms / 1000.0, [
            ("messenger_status", mid, "read" if "read" in ev else "delivery",
             {"object": obj, "entry": [{"id": account, "time": int(now() * 1000), "messaging": [ev]}]})
            for ev in events]))
    if kind == "sender_action":
        return {"recipient_id": psid}
    log({"mid": mid, "to": psid, "type": kind, "messaging_type": mtype, "body": body, "text": text})
    return {"recipient_id": psid, "message_id": mid}


# ------------------------------------------------------------------- webhooks

def deliver(kind, payload, secret=None, ident=None, status=None):
    """POSTs payload (bytes) to --webhook, signed with secret (default: the
    app secret); tries again after 100, 200, 400 ms on a connection error or
    a 5xx. Logs one line; returns (http, body, tries)."""
    key = (CFG.app_secret if secret is None else secret).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
               "X-Hub-Signature": "sha1=" + hmac.new(key, payload, hashlib.sha1).hexdigest(),
               "X-Hub-Signature-256": signature(payload, key.decode())}
    got, answer, error, tries = 0, b"", None, 0
    for delay in (0,) + RETRY_DELAYS:
        time.sleep(delay)
        tries += 1
        try:
            req = urllib.request.Request(CFG.webhook, data=payload, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                got, answer, error = r.status, r.read(), None
        except urllib.error.HTTPError as e:
            got, answer, error = e.code, e.read(), None
        except (OSError, http.client.HTTPException) as e:
            got, answer, error = 0, b"", str(e)
        if 0 < got < 500:
            break
    line = {"webhook": kind, "id": ident, "status": status, "http": got, "attempts": tries}
    if error:
        line["error"] = error
    log(line)
    return got, answer.decode("utf-8", "replace"), tries


def status_worker():
    """Posts queued status webhooks in order, one delivery per status, each
    after the previous one has finished; never in a request thread."""
    while True:
        delay, items = JOBS.get()
        time.sleep(delay)
        for kind, ident, status, payload in items:
            deliver(kind, meta_json(payload), ident=ident, status=status)


def post_signed(kind, payload, spec, ident):
    """Serializes and signs payload, posts it ("repeat" times, with a wrong
    signature if "tamper"), and tells the test what happened."""
    raw = meta_json(payload)
    secret = CFG.app_secret + ("-tampered" if spec.get("tamper") else "")
    for _ in range(max(1, int(spec.get("repeat", 1)))):
        got, answer, tries = deliver(kind, raw, secret, ident=ident)
    sig = signature(raw, secret)
    return {"status": got, "body": answer, "payload": raw.decode("ascii"), "signature": sig,
            "attempts": tries}


def wa_inbound(spec):
    msgs = spec.get("messages") or ([spec["message"]] if "message" in spec else [])
    if not msgs and "text" in spec:
        msgs = [{"type": "text", "text": {"body": spec["text"]}}]
    built, contacts, seen = [], [], set()
    for m in msgs:
        frm = str(m.get("from") or spec.get("from") or "")
        if not frm:
            raise ValueError("each message needs a \"from\"")
        kind = m.get("type") or next((k for k in m if k in WA_TYPES + ("button", "order", "system")), "unknown")
        out = {"context": m["context"]} if "context" in m else {}
        out.update({"from": frm, "id": m.get("id") or new_wamid(frm, inbound=True),
                    "timestamp": str(m.get("timestamp") or int(now())), "type": kind})
        out.update({k: v for k, v in m.items() if k not in out})
        built.append(out)
        if frm not in seen:
            seen.add(frm)
            contacts.append({"profile": {"name": spec.get("name", "Test User")}, "wa_id": frm})
        with LOCK:
            STATE["wa_last"][frm] = now()
    value = {"contacts": contacts, "messages": built} if built else {}
    if spec.get("statuses"):
        value["statuses"] = spec["statuses"]
    ident = built[0]["id"] if built else None
    return post_signed("inbound", wa_envelope(value), spec, ident)


def messenger_inbound(spec):
    obj = spec.get("object", "page")
    psid = str(spec.get("psid") or "")
    if obj not in ("page", "instagram") or not psid:
        raise ValueError("needs \"psid\" and \"object\" page or instagram")
    account, ms = (CFG.ig_id if obj == "instagram" else CFG.page_id), int(now() * 1000)
    event = {"sender": {"id": psid}, "recipient": {"id": account}, "timestamp": ms}
    mid = spec.get("mid") or new_mid(obj)
    if "postback" in spec:
        event["postback"] = dict(spec["postback"], mid=mid)
    else:
        msg = {"mid": mid, "text": spec.get("text", "")}
        if "quick_reply" in spec:
            msg["quick_reply"] = {"payload": spec["quick_reply"]}
        if "attachments" in spec:
            msg["attachments"] = spec["attachments"]
        event["message"] = msg
    with LOCK:
        STATE["ms_last"][psid] = (now(), obj)
    payload = {"object": obj, "entry": [{"id": account, "time": ms, "messaging": [event]}]}
    return post_signed("messenger_inbound", payload, spec, mid)


def verify(query):
    """Meta's subscription handshake: GET --webhook with hub.mode=subscribe,
    hub.verify_token and hub.challenge; the app must echo the challenge."""
    q = urllib.parse.parse_qs(query)
    params = urllib.parse.urlencode({"hub.mode": q.get("mode", ["subscribe"])[0],
                                     "hub.verify_token": q.get("token", [""])[0],
                                     "hub.challenge": q.get("challenge", ["1158201444"])[0]})
    url = CFG.webhook + ("&" if "?" in CFG.webhook else "?") + params
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "facebookplatform/1.0 (+http://developers.facebook.com)"})
        with urllib.request.urlopen(req, timeout=10) as r:
            got, answer = r.status, r.read()
    except urllib.error.HTTPError as e:
        got, answer = e.code, e.read()
    except (OSError, http.client.HTTPException):
        got, answer = 0, b""
    log({"webhook": "verify", "id": None, "status": None, "http": got, "attempts": 1})
    return {"status": got, "body": answer.decode("utf-8", "replace")}


# ----------------------------------------------------------------- HTTP side

def graph_request(method, url, headers, raw):
    """Checks what every Graph request must have (token, path, method, JSON
    body); returns the body and the function that answers it."""
    token = None
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip()
    token = token or urllib.parse.parse_qs(url.query).get("access_token", [None])[0]
    m = GRAPH_PATH.match(url.path)
    node = m.group(1) if m else None
    whatsapp = node == CFG.phone_number_id
    page = node in ("me", CFG.page_id, CFG.ig_id)
    wants = [CFG.access_token] if whatsapp else [CFG.page_token] if page else [CFG.access_token, CFG.page_token]
    if not token or not any(hmac.compare_digest(token.encode(), w.encode()) for w in wants):
        raise GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")
    if not m:
        raise GraphError(400, 2500, "Unknown path components: " + url.path)
    if not whatsapp and not page:
        raise GraphError(400, 100, "Unsupported %s request. Object with ID '%s' does not exist, cannot be "
                         "loaded due to missing permissions, or does not support this operation. Please "
                         "read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
                         % (method.lower(), node), subcode=33, etype="GraphMethodException")
    if method != "POST":
        raise GraphError(400, 100, "Unsupported %s request." % method.lower(), subcode=33,
                         etype="GraphMethodException")
    if headers.get_content_type() != "application/json":
        raise bad_param("Content-Type must be application/json.") if whatsapp else \
            GraphError(400, 100, "(#100) Content-Type must be application/json")
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise bad_param("The request body must be a JSON object.")
    return body, (send_whatsapp if whatsapp else send_messenger)


def media_type(media_id):
    """What a fan's phone says a file is: ids starting with 8 a web page
    (a fan can send any document), the others a JPEG."""
    return "text/html" if media_id.startswith("8") else "image/jpeg"


def media_bytes(media_id):
    """A media file's made-up bytes: a JPEG's first bytes and the id."""
    return b"\xff\xd8\xff\xe0fake-jpeg-" + media_id.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_graph/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def answer(self, status, obj):
        data = meta_json(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            return self.answer(413, bad_param("Request body too large.").answer())
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            return self.control(method, url, raw)
        if method == "GET" and url.path.startswith("/_media/"):
            return self.media_file(url.path[len("/_media/"):])
        m = MEDIA_PATH.match(url.path)
        if method == "GET" and m and m.group(1) not in (CFG.phone_number_id, CFG.page_id, CFG.ig_id):
            return self.media_info(m.group(1))
        body = None
        try:
            body, send = graph_request(method, url, self.headers, raw)
            self.answer(200, send(body))
        except GraphError as e:
            body = body if isinstance(body, dict) else {}
            recipient = body.get("recipient")
            to = body.get("to") or (recipient.get("id") if isinstance(recipient, dict) else None)
            line = {"rejected": e.http, "code": e.code, "to": to, "message": e.error["message"]}
            if "error_subcode" in e.error:
                line["subcode"] = e.error["error_subcode"]
            log(line)
            self.answer(e.http, e.answer())

    def bearer_ok(self):
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        return token and hmac.compare_digest(token.encode(), CFG.access_token.encode())

    def media_info(self, media_id):
        """GET /{version}/{media-id}: the media's URL, as the Cloud API's
        "retrieve media URL" answers; ids starting with 9 are not there."""
        if not self.bearer_ok():
            e = GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")
            return self.answer(e.http, e.answer())
        if media_id.startswith("9"):
            e = GraphError(400, 100, "Unsupported get request. Object with ID '%s' does not exist"
                           % media_id, subcode=33, etype="GraphMethodException")
            return self.answer(e.http, e.answer())
        data = media_bytes(media_id)
        log({"media": media_id})
        self.answer(200, {"url": "http://127.0.0.1:%d/_media/%s" % (CFG.port_bound, media_id),
                          "mime_type": media_type(media_id), "sha256": hashlib.sha256(data).hexdigest(),
                          "file_size": len(data), "id": media_id, "messaging_product": "whatsapp"})

    def media_file(self, media_id):
        """The media's bytes, to the access token only (as Meta's media URLs)."""
        if not self.bearer_ok():
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = media_bytes(media_id)
        self.send_response(200)
        self.send_header("Content-Type", media_type(media_id))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def control(self, method, url, raw):
        """/_fake/inbound, /_fake/messenger_inbound, /_fake/advance (POST),
        /_fake/verify (GET)."""
        try:
            spec = json.loads(raw.decode("utf-8")) if raw else {}
            if url.path == "/_fake/verify" and method == "GET":
                return self.answer(200, verify(url.query))
            if method != "POST" or not isinstance(spec, dict):
                raise ValueError("POST a JSON object")
            if url.path == "/_fake/inbound":
                return self.answer(200, wa_inbound(spec))
            if url.path == "/_fake/messenger_inbound":
                return self.answer(200, messenger_inbound(spec))
            if url.path == "/_fake/advance":
                with LOCK:
                    STATE["offset"] += float(spec.get("seconds", 0))
                return self.answer(200, {"now": now()})
            self.answer(404, {"error": "no such control endpoint"})
        except (ValueError, TypeError, KeyError) as e:
            self.answer(400, {"error": str(e)})


# ------------------------------------------------------------------------ main

def parse_args(argv):
    p = argparse.ArgumentParser(description="A local fake of Meta's Graph API (WhatsApp Cloud API, Messenger).")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--app-secret", required=True)
    p.add_argument("--access-token", required=True)
    p.add_argument("--page-token", help="Messenger page access token (default: --access-token)")
    p.add_argument("--phone-number-id", required=True)
    p.add_argument("--page-id", default="555")
    p.add_argument("--ig-id", default="17841400000000001", help="Instagram account id")
    p.add_argument("--waba-id", default="102290129340398")
    p.add_argument("--display-phone-number", default="15550783881")
    p.add_argument("--webhook", required=True)
    p.add_argument("--log")
    p.add_argument("--window-open", action="append", default=[], metavar="NUMBER")
    p.add_argument("--window-hours", type=float, default=24.0)
    p.add_argument("--fail-rate", type=int, default=0, metavar="N")
    p.add_argument("--rate-limit-http", type=int, default=400)
    p.add_argument("--fail-500", type=int, default=0, metavar="N")
    p.add_argument("--code", action="append", default=[], metavar="NUMBER=CODE[:sync|:async]")
    p.add_argument("--read", action="store_true")
    p.add_argument("--status-delay-ms", type=int, default=0)
    p.add_argument("--omit-conversation", action="store_true", help="v24.0+ status webhooks")
    p.add_argument("--messenger-receipts", action="store_true")
    cfg = p.parse_args(argv)
    cfg.page_token = cfg.page_token or cfg.access_token
    cfg.codes = {}
    for spec in cfg.code:
        m = re.fullmatch(r"\+?([\w.-]+)=(\d+)(?::(sync|async))?", spec)
        if not m:
            p.error("--code wants NUMBER=CODE[:sync|:async], not %r" % spec)
        code = int(m.group(2))
        cfg.codes[m.group(1)] = (code, m.group(3) or WA_CODES.get(code, (0, 0, 0, "sync"))[3])
    return cfg


def main(argv):
    global CFG, LOG_FD
    CFG = parse_args(argv)
    if CFG.log:
        LOG_FD = os.open(CFG.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for who in CFG.window_open:
        STATE["wa_last"][who.lstrip("+")] = now()
        STATE["ms_last"][who] = (now(), "page")
    server = ThreadingHTTPServer(("127.0.0.1", CFG.port), Handler)
    server.daemon_threads = True
    CFG.port_bound = server.server_address[1]
    threading.Thread(target=status_worker, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    print("fake_graph listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
