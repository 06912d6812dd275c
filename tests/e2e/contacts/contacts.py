"""Importing and exporting contacts (see ../contacts.sh)."""
import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Parley, call_json, check, query, request, say_json, summary  # noqa: E402

HOOK, ADMIN = "contacts-hook-1", "contacts-admin-2"
CLOCK = "2026-03-02 12:00"

FAN = """bot.config{ name = "Fan" }
bot.fallback(function(c, msg)
  return "age " .. tostring(c.fields.age) .. " city " .. tostring(c.fields.city)
end)
"""

FILE = (
    'number,fields.city,fields.age,tags,consent_source,consent_at\r\n'
    '"+1 (555) 0001",Austin,34,vip; early,web form,2025-06-01T12:00:00Z\r\n'
    '+15550002,"Austin, TX",,,,\r\n'
    '5550003,Dallas,20,,,\r\n'
    '+15550004,Dallas,20,,web form,yesterday\r\n'
    '+15550005,"two\nlines ""quoted""",40,,paper,2025-01-02\r\n'
    '+15550008,Waco,1,a,b,c,d\r\n'
    '+15550006,Houston,50,,web form,2025-06-01\r\n'
    '+15550007,,61,,shop till,1748779200\r\n'
)


def admin(p, method, path, body=b"", ctype="application/json"):
    return call_json(p, ADMIN, method, path, body, ctype)


def say(p, frm, text):
    return say_json(p, HOOK, "fan", frm, text)


def ledger(db, number):
    return query(db, "SELECT action, source, text, at FROM consent c JOIN bots b"
                     " ON b.id = c.bot_id WHERE b.name = 'fan' AND number = ? ORDER BY c.id",
                 (number,))


def contact(p, number, bot="fan"):
    return admin(p, "GET", "/v1/bots/%s/contacts/%s" % (bot, number.replace("+", "%2B")))[1]


def cli(args, parley, port):
    env = dict(os.environ, PARLEY_ADMIN_TOKEN=ADMIN, PARLEY_URL="http://127.0.0.1:%d" % port)
    r = subprocess.run([parley, "contacts"] + args, capture_output=True, text=True, env=env,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


def broadcast_done(p, bid):
    """The broadcast once it is done (polled for at most 20 s), else its last state."""
    shown = {}
    for _ in range(200):
        shown = admin(p, "GET", "/v1/bots/fan/broadcasts/%s" % bid)[1]
        if isinstance(shown, dict) and shown.get("status") == "done":
            break
        time.sleep(0.1)
    return shown


def import_during_broadcast(p):
    """The sender writes through the writer's connection as an import does:
    they take turns (both on it at once crashed the server, or committed
    half an import batch)."""
    first = "number,fields.city,consent_source,consent_at\n" + "".join(
        "+1555%07d,Tyler,web form,2025-06-01\n" % (3000000 + i) for i in range(5000))
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import", first.encode(), "text/csv")
    check("5,000 contacts with consent are imported", status == 200
          and rep.get("opted_in") == 5000, (status, rep))
    status, made = admin(p, "POST", "/v1/bots/fan/broadcasts", json.dumps(
        {"segment": {"city": "Tyler"}, "text": "Tyler sale", "at": 1767225600,
         "rate": 1000}).encode())
    second = "number,fields.city\n" + "".join(
        "+1555%07d,Lufkin\n" % (4000000 + i) for i in range(30000))
    status2, rep2 = admin(p, "POST", "/v1/bots/fan/contacts/import", second.encode(),
                          "text/csv")
    check("an import while a broadcast is being sent is applied whole",
          status2 == 200 and rep2.get("created") == 30000 and rep2.get("failed") == 0,
          (status2, rep2))
    shown = {}
    for _ in range(3):  # up to a minute
        shown = broadcast_done(p, made.get("id")) if status == 201 else made
        if shown.get("status") == "done":
            break
    check("... and the broadcast reaches every contact",
          shown.get("status") == "done" and shown.get("sent", 0) + shown.get("held", 0) == 5000,
          shown)
    check("... and no write of the sender failed", "outbox_failed" not in p.log(),
          [line for line in p.log().splitlines() if "outbox_failed" in line][:3])


def not_opted_in(p, db):
    """Imported without evidence: no broadcast; the first message answered."""
    check("a customer imported without evidence texts the bot and gets the bot's answer",
          say(p, "+15550002", "ORDER 123") == (200, ["age nil city Austin, TX"]))
    c2 = contact(p, "+15550002")
    check("and is subscribed by it, as a new number is (no ledger entry)",
          c2.get("status") == "subscribed" and ledger(db, "+15550002") == [], c2)
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        b"number,fields.city,consent_source,consent_at\n+15550050,Waco,,\n"
                        b"+15550051,Waco,web form,2025-06-01\n", "text/csv")
    check("an import makes one contact not opted in, one subscribed",
          status == 200 and rep.get("not_opted_in") == 1 and rep.get("opted_in") == 1, rep)
    status, page = admin(p, "GET", "/v1/bots/fan/contacts?status=not_opted_in")
    check("the contacts API filters on status not_opted_in",
          status == 200 and [c["number"] for c in page["contacts"]] == ["+15550050"], page)
    status, page = admin(p, "GET", "/v1/bots/fan/contacts?status=joined")
    check("the contacts API refuses an unknown status, naming the three", status == 400 and
          '"subscribed", "not_opted_in" or "opted_out"' in page.get("error", ""), page)
    status, made = admin(p, "POST", "/v1/bots/fan/broadcasts", json.dumps(
        {"segment": {"city": "Waco"}, "text": "Waco sale", "at": 1767225600}).encode())
    shown = broadcast_done(p, made.get("id")) if status == 201 else made
    check("a broadcast skips the contact not opted in, and counts it",
          shown.get("status") == "done" and shown.get("not_opted_in") == 1
          and shown.get("sent", 0) + shown.get("held", 0) == 1 and shown.get("suppressed") == 0,
          shown)
    check("no message to it is stored",
          query(db, "SELECT count(*) FROM messages WHERE number = '+15550050'")[0][0] == 0
          and query(db, "SELECT count(*) FROM messages WHERE number = '+15550051'"
                        " AND text = 'Waco sale'")[0][0] == 1)
    status, refused = admin(p, "POST", "/v1/bots/fan/broadcasts", json.dumps(
        {"segment": {"status": "joined"}, "text": "hi"}).encode())
    check("a segment's unknown status is refused, naming the three", status == 400 and
          '"subscribed", "not_opted_in" or "opted_out"' in refused.get("error", ""), refused)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    parley = os.path.abspath(a.parley)
    scripts = os.path.join(a.dir, "scripts")
    for name in ("fan", "copy"):
        os.makedirs(os.path.join(scripts, name))
        with open(os.path.join(scripts, name, "bot.lua"), "w") as f:
            f.write(FAN)
    db = os.path.join(a.dir, "parley.db")
    p = Parley(parley, a.dir, db, scripts,
               {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN,
                "PARLEY_TEST_CLOCK": CLOCK, "PARLEY_LOG": "warn"})
    if not check("parley serve starts", p.start(), p.log()):
        return summary()
    try:
        run(p, parley, db, a.dir)
    finally:
        p.stop()
    return summary()


def run(p, parley, db, tmp):
    # before the import: +15550006 opted out by keyword, +15550007 texted in
    say(p, "+15550006", "hi")
    say(p, "+15550006", "STOP")
    check("a contact that texts in is cached with its fields",
          say(p, "+15550007", "hi") == (200, ["age nil city nil"]))
    admin(p, "PATCH", "/v1/bots/fan/contacts/%2B15550007",
          json.dumps({"fields": {"city": "Houston"}}).encode())

    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import", FILE.encode(), "text/csv")
    check("a CSV import is answered 200 with its report", status == 200, rep)
    want = {"rows": 8, "created": 3, "updated": 2, "unchanged": 0, "opted_in": 3,
            "opted_out": 0, "not_opted_in": 1, "kept_opted_out": 1, "failed": 3}
    got = {k: rep.get(k) for k in want} if isinstance(rep, dict) else rep
    check("the report counts each outcome", got == want, "want %s\ngot  %s" % (want, got))
    errors = [(e["row"], e["line"], e["column"]) for e in rep.get("errors", [])] \
        if isinstance(rep, dict) else []
    check("each bad row is reported with its row, line and column",
          errors == [(4, 4, "number"), (5, 5, "consent_at"), (7, 8, "")], rep)
    msgs = [e["error"] for e in rep.get("errors", [])] if isinstance(rep, dict) else []
    check("the errors say why", len(msgs) == 3 and "'5550003' is not an E.164 number" in msgs[0]
          and "'yesterday' is not a time" in msgs[1] and "the row has 7 fields; the header has 6"
          in msgs[2], msgs)

    c1 = contact(p, "+15550001")
    check("the number is stored in E.164, fields typed, tags split and trimmed, opted in",
          c1.get("status") == "subscribed" and c1.get("fields") == {"city": "Austin", "age": 34}
          and c1.get("tags") == ["vip", "early"], c1)
    check("the opt-in's source and time are in the consent ledger",
          ledger(db, "+15550001") == [("optin", "import", "web form", 1748779200000)],
          ledger(db, "+15550001"))
    c2 = contact(p, "+15550002")
    check("a contact without consent evidence is not_opted_in (no ledger entry)",
          c2.get("status") == "not_opted_in" and c2.get("fields") == {"city": "Austin, TX"}
          and ledger(db, "+15550002") == [], (c2, ledger(db, "+15550002")))
    c5 = contact(p, "+15550005")
    check("quoted fields keep their line breaks and quotes",
          c5.get("fields", {}).get("city") == 'two\nlines "quoted"', c5)
    c6 = contact(p, "+15550006")
    check("a contact that opted out stays opted out, with no opt-in written",
          c6.get("status") == "opted_out" and c6.get("fields") == {"city": "Houston", "age": 50}
          and [r[0] for r in ledger(db, "+15550006")] == ["optout"],
          (c6, ledger(db, "+15550006")))
    c7 = contact(p, "+15550007")
    check("fields are merged into a contact's own",
          c7.get("fields") == {"city": "Houston", "age": 61} and c7.get("status") == "subscribed",
          c7)
    check("a contact the engine holds sees the imported fields at once",
          say(p, "+15550007", "again") == (200, ["age 61 city Houston"]))
    check("nothing is made of a refused row", contact(p, "+15550004").get("error"))

    # segments by range over the imported, typed fields
    status, page = admin(p, "GET", "/v1/bots/fan/contacts?age.min=40&age.max=55")
    check("the contacts API takes a field's range (age.min, age.max)",
          status == 200 and [c["number"] for c in page["contacts"]] == ["+15550006", "+15550005"],
          page)
    status, page = admin(p, "GET", "/v1/bots/fan/contacts?age.min=old")
    check("a range bound that is not a number is refused", status == 400
          and "min and max are numbers" in page.get("error", ""), page)
    status, made = admin(p, "POST", "/v1/bots/fan/broadcasts", json.dumps(
        {"segment": {"age": {"min": 60}, "since": {"after": "2025-01-01T10:00"}},
         "text": "hi", "at": 1767225600}).encode())
    status2, shown = admin(p, "GET", "/v1/bots/fan/broadcasts/%s" % made.get("id"))
    check("a broadcast's segment takes ranges of numbers and dates",
          status == 201 and shown.get("segment") == {"age": {"min": 60},
                                                     "since": {"after": "2025-01-01 10:00"}},
          (made, shown))
    status, refused = admin(p, "POST", "/v1/bots/fan/broadcasts", json.dumps(
        {"segment": {"age": {"least": 60}}, "text": "hi"}).encode())
    check("a range with an unknown key is refused", status == 400
          and "a range has min, max, after, before" in refused.get("error", ""), refused)

    count = "SELECT count(*) FROM consent"
    before = (query(db, count), query(db, "SELECT count(*), group_concat(fields || tags) FROM contacts"))
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import", FILE.encode(), "text/csv")
    again = {k: rep.get(k) for k in ("created", "updated", "opted_in", "unchanged", "failed")}
    check("the same file again changes nothing",
          again == {"created": 0, "updated": 0, "opted_in": 0, "unchanged": 5, "failed": 3}, rep)
    after = (query(db, count), query(db, "SELECT count(*), group_concat(fields || tags) FROM contacts"))
    check("and adds no ledger rows or contacts", before == after, (before, after))

    not_opted_in(p, db)

    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        b'number,fields.city\n+15550009,"Austin\n', "text/csv")
    check("a CSV syntax error refuses the whole file with its line, nothing written",
          status == 400 and "line 2: a quoted field is not closed" in rep.get("error", "")
          and "error" in contact(p, "+15550009"), rep)
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        b'number,email\n+15550009,a@b\n', "text/csv")
    check("an unknown column is named", status == 400 and "unknown column 'email'"
          in rep.get("error", ""), rep)
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import", b"number\n+1555\n",
                        "application/xml")
    check("another Content-Type is refused", status == 400, rep)
    # messages quote the input cut at a byte count: never inside a character
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        ("number,a" + "\u00e9" * 40 + "\n+15550009,x\n").encode(), "text/csv")
    check("a long non-ASCII unknown column is named in a JSON answer (cut on a character)",
          status == 400 and isinstance(rep, dict)
          and "unknown column 'a\u00e9\u00e9" in rep.get("error", ""), (status, rep))
    check("... and the server still answers", admin(p, "GET", "/v1/bots/fan/contacts")[0] == 200)
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        ("number,status\n+15550009,a" + "\u00e9" * 25 + "\n").encode(),
                        "text/csv")
    check("a row's long non-ASCII bad value is listed among the errors",
          status == 200 and rep.get("failed") == 1 and len(rep.get("errors", [])) == 1
          and "is not a status" in rep["errors"][0]["error"], (status, rep))
    status, rep = request(p.port, "POST", "/v1/bots/fan/contacts/import", b"number\n",
                          {"Content-Type": "text/csv"})
    check("without the admin token: 401", status == 401, rep)

    lines = (b'{"number":"+15550010","fields":{"age":18,"pets":{"cats":2}},"tags":["jl"],'
             b'"consent_source":"sms keyword","consent_at":1748779200}\n'
             b'\n'
             b'{"number":"+15550011","fields":[1]}\n'
             b'{"number":"+15550001","status":"opted_out"}\n'
             b'not json\n')
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import", lines, "application/x-ndjson")
    check("JSON lines import: good rows applied, bad ones reported by line",
          status == 200 and rep.get("created") == 1 and rep.get("opted_out") == 1
          and [(e["row"], e["column"]) for e in rep.get("errors", [])] == [(3, "fields"), (5, "")],
          rep)
    check("a table field is kept as a table",
          contact(p, "+15550010").get("fields") == {"age": 18, "pets": {"cats": 2}})
    check("an opt-out in a file is written to the ledger",
          contact(p, "+15550001").get("status") == "opted_out"
          and ledger(db, "+15550001")[-1][:2] == ("optout", "import"), ledger(db, "+15550001"))

    # a field named as a script may name one (c.fields["first name"])
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        "number,fields.first name\n+15550041,Ann Lee\n".encode(), "text/csv")
    check("a field name with a space is imported", status == 200 and rep.get("created") == 1,
          (status, rep))
    status, rep = admin(p, "POST", "/v1/bots/fan/contacts/import",
                        b'number,"fields.a\tb"\n+15550042,x\n', "text/csv")
    check("a field name with a control character is refused, naming the rule",
          status == 400 and "without control characters" in rep.get("error", ""), (status, rep))

    # export, and import the export into another bot: the same export back
    say(p, "+15550040", "hello")
    status, exported = admin(p, "GET", "/v1/bots/fan/contacts.csv")
    check("a contact subscribed by texting the bot is exported with its first message as "
          "the evidence", "\r\n+15550040,subscribed,first message,2026-03-02T12:" in exported,
          exported)
    rows = list(csv.reader(io.StringIO(exported))) if status == 200 else []
    check("the export is CSV with a header and a row per contact",
          rows and rows[0][:5] == ["number", "status", "consent_source", "consent_at", "tags"]
          and len(rows) == 1 + query(db, "SELECT count(*) FROM contacts c JOIN bots b ON"
                                         " b.id = c.bot_id WHERE b.name = 'fan'")[0][0], rows[:3])
    status, rep = admin(p, "POST", "/v1/bots/copy/contacts/import", exported.encode(), "text/csv")
    check("the export imports cleanly", status == 200 and rep.get("failed") == 0, rep)
    status, copied = admin(p, "GET", "/v1/bots/copy/contacts.csv")
    check("and exports the same again", copied == exported,
          "first  %r\nsecond %r" % (exported, copied))
    check("a contact not opted in is exported with its status and no evidence",
          "\r\n+15550050,not_opted_in,,,," in exported, exported)
    check("and the import of the export keeps the status, with no ledger entry",
          contact(p, "+15550050", "copy").get("status") == "not_opted_in"
          and query(db, "SELECT count(*) FROM consent WHERE number = '+15550050'")[0][0] == 0,
          contact(p, "+15550050", "copy"))

    # the CLI, in pieces smaller than the file
    big = os.path.join(tmp, "big.csv")
    n = 12000  # over 1 MiB, the server's max_body
    with open(big, "w", newline="") as f:
        f.write("number,fields.n,fields.note,tags,consent_source,consent_at\n")
        for i in range(n):
            number = "+1666%07d" % i if i != 10000 else "bad"
            f.write('%s,%d,"a, ""note""\nwith a line break, and some more text to fill",bulk,'
                    'form,2025-03-01\n' % (number, i))
    rc, out, err = cli(["import", "fan", big], parley, p.port)
    check("parley contacts import sends a file larger than max_body in pieces",
          rc == 1 and "rows=12000 created=11999" in out and "failed=1" in out, (rc, out, err))
    check("and numbers a bad row as the file's row and line",
          "big.csv: row 10002 (line 20002), column number: 'bad' is not an E.164" in err, err)
    rc, out, err = cli(["import", "fan", big], parley, p.port)
    check("run again, it changes nothing", "created=0 updated=0 unchanged=11999" in out,
          (out, err))
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write('number\n+15550020\n"+15550021\n')
    rc, out, err = cli(["import", "fan", bad], parley, p.port)
    check("a file that is not CSV is refused by the CLI before anything is sent",
          rc == 1 and "line 3: a quoted field is not closed" in err
          and "error" in contact(p, "+15550020"), (rc, out, err))
    jl = os.path.join(tmp, "more.jsonl")
    with open(jl, "w") as f:
        f.write('{"number":"+15550030","tags":["cli"]}\n')
    rc, out, err = cli(["import", "fan", jl], parley, p.port)
    check("the CLI takes JSON lines by the .jsonl name", rc == 0 and "created=1" in out,
          (rc, out, err))
    out_csv = os.path.join(tmp, "out.csv")
    rc, out, err = cli(["export", "fan", "--output", out_csv], parley, p.port)
    status, exported = admin(p, "GET", "/v1/bots/fan/contacts.csv")
    check("parley contacts export writes what the API gives",
          rc == 0 and open(out_csv, newline="").read() == exported, (rc, err))
    # the server found as parley reload finds it: the listen setting of
    # --config FILE, else PARLEY_LISTEN (no PARLEY_URL)
    conf = os.path.join(tmp, "parley.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:%d\n" % p.port)
    env = dict(os.environ, PARLEY_ADMIN_TOKEN=ADMIN)
    env.pop("PARLEY_URL", None)
    env.pop("PARLEY_LISTEN", None)
    r = subprocess.run([parley, "contacts", "export", "fan", "--config", conf], env=env,
                       capture_output=True, timeout=120)  # bytes: CSV lines end in CRLF
    check("parley contacts export --config finds the server at the file's listen address",
          r.returncode == 0 and r.stdout.decode() == exported, (r.returncode, r.stderr))
    env["PARLEY_LISTEN"] = "0.0.0.0:%d" % p.port
    r = subprocess.run([parley, "contacts", "export", "fan"], env=env,
                       capture_output=True, timeout=120)
    check("parley contacts export finds the server at PARLEY_LISTEN (0.0.0.0 reached here)",
          r.returncode == 0 and r.stdout.decode() == exported, (r.returncode, r.stderr))

    # a restart: every imported contact is still there
    p.stop()
    check("parley serve starts again", p.start(), p.log())
    status, after_restart = admin(p, "GET", "/v1/bots/fan/contacts.csv")
    check("after a restart the contacts are all there, as exported", after_restart == exported)
    check("and the engine reads them", say(p, "+15550007", "hi") == (200, ["age 61 city Houston"]))
    import_during_broadcast(p)
    check("a contact not opted in is still not opted in after a restart",
          contact(p, "+15550050").get("status") == "not_opted_in", contact(p, "+15550050"))
    check("and its first message after the restart is answered and subscribes it",
          say(p, "+15550050", "hi") == (200, ["age nil city Waco"])
          and contact(p, "+15550050").get("status") == "subscribed", contact(p, "+15550050"))


if __name__ == "__main__":
    sys.exit(main())
