"""Tracked links through parley serve (see ../links.sh)."""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Parley, call_json, check, query, request, say_json, summary, wait_for, write_bot  # noqa: E402,E501

HOOK, ADMIN = "links-hook-1", "links-admin-2"
PRESALE = "https://shop.example/presale?from=sms&x=1"
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
PREVIEW = "facebookexternalhit/1.1 Facebot Twitterbot/1.0"

SHOP = """bot.config{ name = "Shop" }
bot.keyword("mine", function(c)
  local link = c:link("https://shop.example/mine")
  return "Yours: " .. link
end)
bot.keyword("presale", function(c)
  return 'Presale: {{link "%s"}}'
end)
bot.on_click(function(c, click)
  c.fields.clicked = click.url
  c.fields.agent = click.user_agent
  return "Enjoy " .. click.url
end)
bot.fallback(function(c) return "hi" end)
""" % PRESALE


def admin(p, method, path, body=b""):
    return call_json(p, ADMIN, method, path, body)


def say(p, frm, text):
    return say_json(p, HOOK, "shop", frm, text)


def visit(p, path, agent=PHONE, method="GET"):
    """(status, Location) of a visit to path."""
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
    try:
        headers = {"User-Agent": agent} if agent is not None else {}
        conn.request(method, path, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Location")
    finally:
        conn.close()


def links_of(db, number):
    """The short links the contact's outgoing messages carry, oldest first."""
    rows = query(db, "SELECT text FROM messages WHERE number = ? AND direction = 'out'"
                     " ORDER BY id", (number,))
    return [m for (t,) in rows for m in re.findall(r"http://127\.0\.0\.1:\d+/l/\w+", t)]


def stat_of(p, url):
    status, body = admin(p, "GET", "/v1/bots/shop/links")
    for s in body.get("links", []) if status == 200 else []:
        if s["url"] == url:
            return s
    return {}


def run(p, parley, db, tmp):
    fans = ["+15550001", "+15550002", "+15550003"]
    for f in fans:
        say(p, f, "hello")
    status, made = admin(p, "POST", "/v1/bots/shop/broadcasts", json.dumps(
        {"text": 'Presale is open: {{link "%s"}} (reply STOP to end)' % PRESALE}).encode())
    check("a broadcast with a tracked link is accepted", status in (200, 201), made)
    done = wait_for(lambda: admin(p, "GET", "/v1/bots/shop/broadcasts/%s" % made.get("id"))[1]
                    .get("status") == "done")
    check("the broadcast runs to its end", done)
    codes = {f: links_of(db, f) for f in fans}
    check("each contact's message carries one short link of its own",
          all(len(v) == 1 for v in codes.values()) and
          len({v[0] for v in codes.values()}) == 3, codes)
    check("a short link is BASE/l/ and 12 letters and digits (public_url when link_url is unset)",
          all(re.fullmatch(r"http://127\.0\.0\.1:%d/l/[0-9A-Za-z]{12}" % p.port, v[0])
              for v in codes.values()), codes)
    rows = query(db, "SELECT text, segments FROM messages WHERE number = ? AND direction = 'out'"
                     " AND broadcast_id IS NOT NULL", (fans[0],))
    check("the message is stored as sent, the short link in place of the placeholder, "
          "and counted in segments as sent", rows and "{{" not in rows[0][0] and
          rows[0][1] == 1, rows)
    path = {f: "/l/" + codes[f][0].rsplit("/", 1)[1] for f in fans}

    # visits
    got = [visit(p, path[fans[0]]), visit(p, path[fans[0]]), visit(p, path[fans[1]])]
    check("a visit is sent on to the link's URL with a 302", all(g == (302, PRESALE) for g in got),
          got)
    check("a link preview is sent on too", visit(p, path[fans[2]], PREVIEW) == (302, PRESALE))
    check("so is a HEAD request", visit(p, path[fans[2]], PHONE, "HEAD")[0] == 302)
    check("a visit without a user agent is sent on", visit(p, path[fans[2]], None)[0] == 302)
    check("an unknown code is 404", visit(p, "/l/AAAAAAAAAAAA")[0] == 404)
    check("a code of the wrong shape is 404", visit(p, "/l/x%27--")[0] == 404 and
          visit(p, "/l/")[0] == 404)
    check("a POST to a short link is 405", visit(p, path[fans[0]], PHONE, "POST")[0] == 405)

    st = stat_of(p, PRESALE)
    check("the link's counts: 3 sent, 3 clicks of people by 2 people, 3 by programs",
          (st.get("sent"), st.get("clicks"), st.get("people"), st.get("bot_clicks")) ==
          (3, 3, 2, 3), st)
    status, clicks = admin(p, "GET", "/v1/bots/shop/clicks?url=" +
                           PRESALE.replace("?", "%3F").replace("&", "%26").replace("=", "%3D"))
    listed = clicks.get("clicks", []) if status == 200 else []
    check("the clicks are listed with number, user agent and whether a program made them",
          len(listed) == 6 and
          [(c["number"], c["bot"]) for c in reversed(listed)] ==
          [(fans[0], False), (fans[0], False), (fans[1], False), (fans[2], True),
           (fans[2], True), (fans[2], True)] and
          listed[-1]["user_agent"] == PHONE and listed[2]["user_agent"] == PREVIEW, clicks)
    status, one = admin(p, "GET", "/v1/bots/shop/clicks?number=%2B15550002")
    check("one contact's clicks", status == 200 and len(one.get("clicks", [])) == 1, one)
    check("an unknown contact's clicks are 404",
          admin(p, "GET", "/v1/bots/shop/clicks?number=%2B15559999")[0] == 404)
    check("the links need the admin token",
          request(p.port, "GET", "/v1/bots/shop/links")[0] == 401)

    status, seg = admin(p, "GET", "/v1/bots/shop/contacts?clicked=" +
                        PRESALE.replace("?", "%3F").replace("&", "%26").replace("=", "%3D"))
    check("the clicked segment has the people who clicked, not the one a preview fetched for",
          status == 200 and sorted(c["number"] for c in seg.get("contacts", [])) == fans[:2], seg)
    status, seg = admin(p, "GET", "/v1/bots/shop/contacts?clicked=true")
    check("clicked=true: anyone who clicked a link", status == 200 and
          len(seg.get("contacts", [])) == 2, seg)
    status, bad = admin(p, "POST", "/v1/bots/shop/broadcasts", json.dumps(
        {"segment": {"clicked": "presale"}, "text": "hi"}).encode())
    check("a clicked that is not a URL is refused, naming it", status == 400 and
          "clicked" in bad.get("error", ""), bad)
    status, made = admin(p, "POST", "/v1/bots/shop/broadcasts", json.dumps(
        {"segment": {"clicked": PRESALE}, "text": "Thanks for looking"}).encode())
    wait_for(lambda: admin(p, "GET", "/v1/bots/shop/broadcasts/%s" % made.get("id"))[1]
             .get("status") == "done")
    reached = query(db, "SELECT number FROM messages WHERE text = 'Thanks for looking'"
                        " ORDER BY number")
    check("a broadcast to the clicked segment reaches those two",
          [r[0] for r in reached] == fans[:2], reached)
    status, shown = admin(p, "GET", "/v1/bots/shop/broadcasts/%s" % made.get("id"))
    status, first = admin(p, "GET", "/v1/bots/shop/broadcasts")
    presale_b = [b for b in first.get("broadcasts", []) if "Presale" in b.get("text", "")]
    check("a broadcast shows the clicks on its links and the people who made them",
          presale_b and presale_b[0].get("clicks") == 3 and presale_b[0].get("people") == 2,
          presale_b)

    # bot.on_click
    thanks = query(db, "SELECT number FROM messages WHERE text = ? ORDER BY id",
                   ("Enjoy " + PRESALE,))
    check("bot.on_click ran for each click of a person, not for the programs'",
          [r[0] for r in thanks] == [fans[0], fans[0], fans[1]], thanks)
    status, c1 = admin(p, "GET", "/v1/bots/shop/contacts/%2B15550001")
    check("bot.on_click sees the URL and the user agent",
          c1.get("fields", {}).get("clicked") == PRESALE and
          c1.get("fields", {}).get("agent") == PHONE, c1)

    # c:link and the keyword's template
    status, replies = say(p, fans[0], "mine")
    mine = re.findall(r"/l/\w+", replies[0]) if status == 200 and replies else []
    check("c:link gives a short link", len(mine) == 1, replies)
    if mine:
        check("and it is sent on to its URL", visit(p, mine[0]) == (302, "https://shop.example/mine"))
        bound = query(db, "SELECT message_id FROM links WHERE code = ?", (mine[0][3:],))
        check("c:link's link is the message's it went in", bound and bound[0][0], bound)
    status, replies = say(p, fans[1], "presale")
    check("a reply's {{link}} becomes a short link", status == 200 and replies and
          re.search(r"/l/\w{12}$", replies[0]), replies)

    # a restart keeps it all
    p.stop()
    check("parley serve starts again", p.start(), p.log())
    check("after a restart the link still sends on", visit(p, path[fans[1]]) == (302, PRESALE))
    st = stat_of(p, PRESALE)
    check("and the counts went on (4 sent, 4 clicks of people)",
          (st.get("sent"), st.get("clicks"), st.get("people")) == (4, 4, 2), st)

    # erasing a contact erases its links and clicks
    admin(p, "DELETE", "/v1/bots/shop/contacts/%2B15550002")
    check("an erased contact's link is 404", visit(p, path[fans[1]])[0] == 404)
    left = query(db, "SELECT count(*) FROM clicks k JOIN links l ON l.id = k.link_id"
                     " WHERE l.url = ? AND k.contact_id NOT IN (SELECT id FROM contacts)",
                 (PRESALE,))
    check("and its clicks are gone", left[0][0] == 0, left)
    p.stop()

    # link_url
    p.env["PARLEY_LINK_URL"] = "https://go.shop.example/"
    check("parley serve starts with link_url", p.start(), p.log())
    status, replies = say(p, fans[0], "presale")
    check("link_url is the base of new short links", status == 200 and replies and
          re.search(r"Presale: https://go\.shop\.example/l/\w{12}$", replies[0]), replies)
    p.stop()
    r = subprocess.run([parley, "serve", "--listen", "127.0.0.1:1", "--db", db, "--scripts",
                        p.scripts, "--link-url", "ftp://go.shop.example"],
                       capture_output=True, text=True, env=p.env, timeout=60)
    check("a link_url that is not http(s) is refused at the start, named",
          r.returncode != 0 and "link_url = 'ftp://go.shop.example'" in r.stderr, r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    parley = os.path.abspath(a.parley)
    scripts = os.path.join(a.dir, "scripts")
    write_bot(scripts, "shop", SHOP)
    db = os.path.join(a.dir, "parley.db")
    p = Parley(parley, a.dir, db, scripts,
               {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN,
                "PARLEY_TEST_CLOCK": "2026-03-02 12:00", "PARLEY_LOG": "warn"})
    if not check("parley serve starts", p.start(), p.log()):
        return summary()
    try:
        run(p, parley, db, a.dir)
    finally:
        p.stop()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
