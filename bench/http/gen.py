#!/usr/bin/env python3
"""The workload of shared/bench/WORKLOAD.md as signed Twilio webhooks.

    gen.py URL TOKEN [N] > messages.txt

URL is what Twilio would call (public URL + "/twilio/BOT"); TOKEN the auth
token. Writes N lines (default 200000), line i (0-based) message i:

    <X-Twilio-Signature> <application/x-www-form-urlencoded body>

From = contact(i) ("+1555" + (i mod 10000) zero-padded to 7 digits), To a
fixed bot number, Body the text bench/bench.c's message_text(i) gives, and
MessageSid "SM" + i as 32 hex digits (unique, and ordered like i when
compared as text). The signature is runtime/providers/twilio_webhook.c's: base64 of
HMAC-SHA1(token, URL + each parameter's name then value, sorted by name).
"""
import base64
import hashlib
import hmac
import sys
from urllib.parse import quote_plus

U = 10000
TO = "+15005550006"
STOP_TEXTS = ["STOP", " unsubscribe", "Cancel ", "end", "\tQUIT\n"]
START_TEXTS = ["START", " start ", "Start"]
TOUR_TEXTS = ["When is the next tour?", "TOUR dates please", "tour merch?", "Tour!"]
MERCH_TEXTS = ["where can I buy merch", "MERCH?", "any merch left"]
FREE_TEXTS = ["hello", "I love the new album", "please stop by the store",
              "detour on the highway", "see you at the show", "merchandise?",
              "start the show already", "thanks!"]


def lowbias32(x):
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def message_text(i):
    slot = ((i % 100) + (lowbias32(i // 100) % 100)) % 100
    if slot <= 1:
        return STOP_TEXTS[i % 5]
    if slot == 2:
        return START_TEXTS[i % 3]
    if slot <= 12:
        return TOUR_TEXTS[i % 4]
    if slot <= 17:
        return MERCH_TEXTS[i % 3]
    return FREE_TEXTS[i % 8]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: gen.py URL TOKEN [N] > messages.txt")
    url, token = sys.argv[1], sys.argv[2].encode()
    n = int(sys.argv[3]) if len(sys.argv) == 4 else 200000
    out = sys.stdout
    to_q = quote_plus(TO)
    for i in range(n):
        frm = "+1555%07d" % (i % U)
        body = message_text(i)
        sid = "SM%032x" % i
        # sorted by name: Body, From, MessageSid, To
        data = url + "Body" + body + "From" + frm + "MessageSid" + sid + "To" + TO
        sig = base64.b64encode(hmac.new(token, data.encode(), hashlib.sha1).digest()).decode()
        form = "From=%s&To=%s&Body=%s&MessageSid=%s" % (quote_plus(frm), to_q,
                                                         quote_plus(body), sid)
        out.write(sig + " " + form + "\n")


if __name__ == "__main__":
    main()
