#!/usr/bin/env python3
"""Crash test of `parley serve` (run by tests/e2e/crash.sh).

Workers post JSON webhook messages with unique ids while the server is
killed with SIGKILL and restarted on the same database; a message that fails
(connection refused or reset, 503) is retried until it is acknowledged, as a
provider would. Each worker owns its contacts and sends one message at a time,
so the order of each contact's messages is defined. Then malformed requests
against the running server, a SIGTERM, and checks of the database with the
sqlite3 CLI. All of it once with one engine worker and once with two
(PARLEY_ENGINE_THREADS; CRASH_ENGINE_THREADS="1 2" by default), each on a
database of its own. Prints "ok N - ..." / "not ok N - ..." and
"N passed, N failed".

Standard library only. CRASH_SEED=N replays the same choices.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import check as harness_check, summary  # noqa: E402

TOKEN = os.environ.get("PARLEY_WEBHOOK_TOKEN", "")
TWILIO_TOKEN = os.environ.get("PARLEY_TWILIO_AUTH_TOKEN", "")
BOT = "counter"   # the load
PROBE = "probe"   # the malformed requests (same script, its own data)
WORKERS = 8
CONTACTS_PER_WORKER = 4
KILLS = int(os.environ.get("CRASH_KILLS", "5"))
REQUEST_TIMEOUT = 5.0

# ---------------------------------------------------------------- reporting

label = ""  # the run's engine workers, before each check's description


def check(desc, cond, detail=""):
    return harness_check(label + desc, cond, detail)


def note(msg):
    print("# " + msg, flush=True)


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, parley, port, workdir, engine_threads):
        self.parley = parley
        self.port = port
        self.db = os.path.join(workdir, "crash-%s.db" % engine_threads)
        self.scripts = os.path.join(workdir, "scripts")
        self.log = os.path.join(workdir, "server-%s.log" % engine_threads)
        self.pidfile = os.path.join(workdir, "server.pid")
        self.env = dict(os.environ, PARLEY_ENGINE_THREADS=str(engine_threads))
        self.proc = None
        self.deaths = []  # exit statuses of the times it died on its own

    def argv(self):
        return [self.parley, "serve", "--listen", "127.0.0.1:%d" % self.port,
                "--db", self.db, "--scripts", self.scripts,
                "--public-url", "http://127.0.0.1:%d" % self.port]

    def start_first(self, tries=6):
        """The first start: on the port given, or another one if another test
        holds it (restarts after a SIGKILL keep the port)."""
        base = self.port
        for k in range(tries):
            self.port = 10000 + (base - 10000 + k * 1013) % 20000
            if not port_free(self.port):
                continue
            result = self.start(retry_port=False)
            if result != "port":
                return result == "up"
        return False

    def start(self, timeout=8.0, retry_port=True):
        """Starts the server and waits for /healthz: "up", "port" (it could
        not listen) or "failed". After a SIGKILL the port can take a moment to
        be free again: with retry_port it tries again until the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log, "ab") as log:
                log.write(b"--- start\n")
                log.flush()
                log_at = log.tell()
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, env=self.env)
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % self.proc.pid)
            while time.monotonic() < deadline and self.proc.poll() is None:
                if healthz(self.port, timeout=0.5) == 200 and self.proc.poll() is None:
                    return "up"
                time.sleep(0.02)
            if self.proc.poll() is None:  # it runs but does not answer
                self.kill()
                return "failed"
            self.proc = None
            self.forget_pid()
            if "cannot listen" not in self.log_text(log_at):
                return "failed"
            if not retry_port or time.monotonic() >= deadline:
                return "port"
            time.sleep(0.1)

    def kill_while_starting(self, delay):
        """Starts the server and kills it after delay seconds: while it opens
        (and recovers) the database, before it answers."""
        with open(self.log, "ab") as log:
            log.write(b"--- start, killed after %d ms\n" % int(delay * 1000))
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.env)
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.proc.pid)
        time.sleep(delay)
        self.kill()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is not None:  # it died before we killed it
            self.deaths.append(self.proc.returncode)
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        self.forget_pid()

    def forget_pid(self):
        try:
            with open(self.pidfile, "w"):
                pass  # crash.sh's cleanup kills the pid in it, if any
        except OSError:
            pass

    def term(self, timeout=10.0):
        """SIGTERM; the exit status, or None if it did not stop in time."""
        if self.proc is None:
            return None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self.proc = None
        self.forget_pid()
        return rc

    def log_text(self, since=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def healthz(port, timeout=1.0):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        conn.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


def request(port, method, path, body=b"", headers=None, timeout=REQUEST_TIMEOUT):
    """(status, body bytes); raises OSError / HTTPException when the
    connection fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data
    finally:
        conn.close()


# ---------------------------------------------------------------- the load

acked_lock = threading.Lock()
acked_total = 0


class Worker(threading.Thread):
    """Posts messages for its own contacts, one at a time; retries a message
    until it is acknowledged (2xx) before sending the next."""

    def __init__(self, w, port, stop, give_up_at, seed):
        super().__init__(name="worker-%d" % w, daemon=True)
        self.w = w
        self.port = port
        self.stop = stop
        self.give_up_at = give_up_at  # a list: [monotonic deadline], set later
        self.rng = random.Random(seed)
        self.contacts = ["+1555%03d%04d" % (100 + w, i) for i in range(CONTACTS_PER_WORKER)]
        self.sent = {c: [] for c in self.contacts}  # contact -> ids in order
        self.contact_of = {}       # id -> contact
        self.attempts = {}         # id -> number of POSTs
        self.failed_attempts = {}  # id -> POSTs that got no answer or a 503
        self.first_ack = {}        # id -> (attempt number, replies) of the first 2xx
        self.resends = []          # (id, status, replies) of deliberate retries of acked ids
        self.unexpected = []       # (id, status, body) of answers other than 2xx / 503
        self.unfinished = None     # the id still unacknowledged when it gave up
        self.statuses = {}         # status -> count

    def post(self, mid, contact):
        body = json.dumps({"from": contact, "to": "+15550100", "text": "hello " + mid,
                           "id": mid}).encode()
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
        self.attempts[mid] = self.attempts.get(mid, 0) + 1
        try:
            status, data = request(self.port, "POST", "/v1/bots/%s/messages" % BOT, body,
                                   headers)
        except (OSError, http.client.HTTPException) as e:
            self.statuses[type(e).__name__] = self.statuses.get(type(e).__name__, 0) + 1
            return None, None
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status, data

    def run(self):
        global acked_total
        seq = 0
        while not self.stop.is_set():
            contact = self.contacts[seq % len(self.contacts)]
            mid = "w%d-m%d" % (self.w, seq)
            seq += 1
            self.sent[contact].append(mid)
            self.contact_of[mid] = contact
            acked = False
            while time.monotonic() < self.give_up_at[0]:
                status, data = self.post(mid, contact)
                if status is not None and 200 <= status < 300:
                    try:
                        replies = json.loads(data.decode("utf-8")).get("replies")
                    except (ValueError, AttributeError):
                        replies = "unparsable: %r" % data[:200]
                    self.first_ack[mid] = (self.attempts[mid], replies)
                    acked = True
                    with acked_lock:
                        acked_total += 1
                    break
                if status is not None and status != 503:
                    self.unexpected.append((mid, status, data[:300]))
                    break  # a valid message refused: recorded, not retried
                self.failed_attempts[mid] = self.failed_attempts.get(mid, 0) + 1
                time.sleep(0.02 + self.rng.random() * 0.05)
            if not acked:
                if time.monotonic() >= self.give_up_at[0]:
                    self.unfinished = mid
                    return
                continue
            # now and then a provider retries a message that was acknowledged
            if self.rng.random() < 0.05:
                status, data = self.post(mid, contact)
                replies = None
                if status is not None and 200 <= status < 300:
                    try:
                        replies = json.loads(data.decode("utf-8")).get("replies")
                    except (ValueError, AttributeError):
                        replies = "unparsable"
                if status is not None:  # no answer (the server was killed): not judged
                    self.resends.append((mid, status, replies))


def acked_now():
    with acked_lock:
        return acked_total


# ---------------------------------------------------------------- malformed requests


def twilio_signature(url, params):
    """X-Twilio-Signature over the URL and the sorted decoded parameters (bytes)."""
    data = url.encode() + b"".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), data, hashlib.sha1).digest()).decode()


def raw_exchange(port, data):
    """Sends data on a fresh connection and reads the answer's status line:
    (status or None, what went wrong)."""
    got = b""
    err = ""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as e:
        return None, "connect: %r" % e
    try:
        try:
            s.sendall(data)
        except OSError as e:
            err = "send: %r" % e
        while b"\r\n" not in got and len(got) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError as e:
        err += " recv: %r" % e
    finally:
        s.close()
    parts = got.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1]), err
    return None, (err + " answer: %r" % got[:100]).strip()


def malformed(server):
    port = server.port
    path = "/v1/bots/%s/messages" % PROBE
    auth = {"Authorization": "Bearer " + TOKEN}
    js = dict(auth, **{"Content-Type": "application/json"})
    good = b'{"from":"+15559990001","to":"+15550100","text":"hi","id":"p-%d"}'
    deep = (b'{"from":"+15559990002","text":"hi","x":' + b"[" * 200000 + b"]" * 200000 + b"}")
    big_text = b'{"from":"+15559990003","text":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    twilio_path = "/twilio/%s" % PROBE
    twilio_params = [(b"From", b"+15559990004"), (b"To", b"+15550100"),
                     (b"Body", b"caf\xe9 \xff\xfe"), (b"MessageSid", b"SMbadutf8")]
    twilio_body = urllib.parse.urlencode(twilio_params).encode()
    twilio_headers = {"Content-Type": "application/x-www-form-urlencoded",
                      "X-Twilio-Signature": twilio_signature(
                          "http://127.0.0.1:%d%s" % (port, twilio_path), twilio_params)}
    kannel_bad = ("/kannel/%s?token=%s&from=%%2B15559990005&to=%%2B15550100&text=caf%%E9%%FF"
                  "&id=kbadutf8" % (PROBE, urllib.parse.quote(TOKEN)))
    # (description, method, path, body, headers, the statuses that are right)
    cases = [
        ("a body that is not JSON is 400", "POST", path, b"hello there", js, {400}),
        ("truncated JSON is 400", "POST", path, b'{"from":"+15559990001","text":"hi', js, {400}),
        ("an empty body is 400", "POST", path, b"", js, {400}),
        ("a JSON array is 400", "POST", path, b'[1,2,3]', js, {400}),
        ("a JSON string is 400", "POST", path, b'"from"', js, {400}),
        ("a number where \"from\" belongs is 400", "POST", path,
         b'{"from":15559990001,"text":"hi"}', js, {400}),
        ("an object where \"text\" belongs is 400", "POST", path,
         b'{"from":"+15559990001","text":{"a":1}}', js, {400}),
        ("a missing \"text\" is 400", "POST", path, b'{"from":"+15559990001"}', js, {400}),
        ("a missing \"from\" is 400", "POST", path, b'{"text":"hi"}', js, {400}),
        ("an empty \"from\" is 400", "POST", path, b'{"from":"","text":"hi"}', js, {400}),
        ("a fractional number as the message \"id\" is 400", "POST",
         path, b'{"from":"+15559990001","text":"hi","id":1.5}', js, {400}),
        ("an object as the message \"id\" is 400", "POST",
         path, b'{"from":"+15559990001","text":"hi","id":{"a":1}}', js, {400}),
        ("invalid UTF-8 in \"text\" is 400", "POST", path,
         b'{"from":"+15559990001","text":"caf\xe9 \xff\xfe"}', js, {400}),
        ("an overlong UTF-8 encoding in \"text\" is 400", "POST", path,
         b'{"from":"+15559990001","text":"\xc0\xaf"}', js, {400}),
        ("a lone UTF-16 surrogate escape in \"text\" is 400", "POST", path,
         b'{"from":"+15559990001","text":"\\ud800"}', js, {400}),
        ("a NUL escape in \"from\" is 400", "POST", path,
         b'{"from":"+1555\\u0000999","text":"hi"}', js, {400}),
        ("JSON nested 200,000 deep is 400", "POST", path, deep, js, {400}),
        ("a 2 MB body is 413", "POST", path, big_text, js, {413}),
        ("a 2 MB body sent chunked is 413", "POST", path, iter([big_text[:1 << 20], big_text[1 << 20:]]),
         js, {413}),  # an iterable body: http.client sends it chunked
        ("a JSON message sent as text/xml is 415 (or another 4xx)", "POST", path,
         good % 1, dict(auth, **{"Content-Type": "text/xml"}), set(range(400, 500))),
        ("a JSON message sent as multipart/form-data is 415 (or another 4xx)", "POST", path,
         good % 2, dict(auth, **{"Content-Type": "multipart/form-data; boundary=xyz"}),
         set(range(400, 500))),
        ("no Authorization header is 401", "POST", path, good % 3,
         {"Content-Type": "application/json"}, {401}),
        ("a Basic Authorization header is 401", "POST", path, good % 4,
         {"Content-Type": "application/json", "Authorization": "Basic Zm9vOmJhcg=="}, {401}),
        ("a wrong bearer token is 403", "POST", path, good % 5,
         {"Content-Type": "application/json", "Authorization": "Bearer not-" + TOKEN}, {403}),
        ("an empty bearer token is 401 or 403", "POST", path, good % 6,
         {"Content-Type": "application/json", "Authorization": "Bearer "}, {401, 403}),
        ("an unknown bot is 404", "POST", "/v1/bots/nobody/messages", good % 8, js, {404}),
        ("a wrong method is 405", "DELETE", path, b"", js, {405}),
        ("Twilio: invalid UTF-8 in a signed Body is 400", "POST", twilio_path, twilio_body,
         twilio_headers, {400}),
        ("Kannel: invalid UTF-8 in the get-url text is 400", "GET", kannel_bad, b"", {},
         {400}),
        ("Kannel: invalid UTF-8 in the post-url text is 400", "POST",
         "/kannel/%s?token=%s" % (PROBE, urllib.parse.quote(TOKEN)),
         b"from=%2B15559990005&text=caf%E9%FF&id=kbadutf8post",
         {"Content-Type": "application/x-www-form-urlencoded"}, {400}),
    ]
    accepted = 0
    for desc, method, p, body, headers, want in cases:
        try:
            status, data = request(port, method, p, body, headers, timeout=10)
            got = "%d %s" % (status, data[:200].decode("utf-8", "replace"))
        except (OSError, http.client.HTTPException) as e:
            status, data, got = None, b"", "no answer: %r" % e
        if status is not None and 200 <= status < 300:
            accepted += 1
        ok = status in want
        if ok and status in (400, 401, 403, 404, 405, 413, 415) and p.startswith("/v1/"):
            # a clear answer: JSON naming the problem
            try:
                ok = bool(json.loads(data.decode("utf-8")).get("error"))
            except (ValueError, AttributeError):
                ok = False
        up = healthz(port, timeout=2)
        check("malformed: %s, and /healthz still answers" % desc, ok and up == 200,
              "got: %s; /healthz: %s" % (got, up))
    # a 100 kB header: 431; the server may close before it has read all of
    # it, and then the client can see a reset instead of the answer
    status, err = raw_exchange(port, ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      "X-Junk: %s\r\nContent-Length: 0\r\n\r\n" %
                                      (path, "a" * 100000)).encode())
    check("malformed: a 100 kB header is refused (431, or the connection is closed), "
          "and /healthz still answers",
          (status is None or 400 <= status < 500) and healthz(port, timeout=2) == 200,
          "got: %s %s" % (status, err))
    # a client that hangs up in the middle of its body
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                   '{"from":"+15559990006","te' % (path, TOKEN)).encode())
        s.close()
    except OSError:
        pass
    time.sleep(0.1)
    check("malformed: a client that hangs up mid-body does not hurt the server",
          healthz(port, timeout=2) == 200 and server.alive())
    # garbage instead of HTTP
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"\x00\xff\x16\x03\x01 GARBAGE \r\n\r\n" * 10)
        try:
            s.recv(1000)
        except OSError:
            pass
        s.close()
    except OSError:
        pass
    check("malformed: bytes that are not HTTP do not hurt the server",
          healthz(port, timeout=2) == 200 and server.alive())
    return accepted


# ---------------------------------------------------------------- the database


def sql(db, query):
    """Rows as dicts, through the sqlite3 CLI."""
    out = subprocess.run(["sqlite3", "-json", db, query], capture_output=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("sqlite3: %s" % out.stderr.decode("utf-8", "replace"))
    text = out.stdout.decode("utf-8", "replace").strip()
    return json.loads(text) if text else []


def check_store(server, workers, probes_accepted):
    db = server.db
    try:
        integrity = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"],
                                   capture_output=True, timeout=60)
        itext = integrity.stdout.decode("utf-8", "replace").strip()
        check("the database passes PRAGMA integrity_check", itext == "ok",
              "got: %s %s" % (itext, integrity.stderr.decode("utf-8", "replace")))
        fk = subprocess.run(["sqlite3", db, "PRAGMA foreign_key_check"],
                            capture_output=True, timeout=60)
        fktext = fk.stdout.decode("utf-8", "replace").strip()
        check("the database passes PRAGMA foreign_key_check", fk.returncode == 0 and fktext == "",
              "got: %s" % fktext)
        rows = sql(db, "SELECT m.id, m.direction, m.provider_id AS pid, m.text, m.status,"
                       " c.number FROM messages m JOIN contacts c ON c.id = m.contact_id"
                       " WHERE m.bot_id = (SELECT id FROM bots WHERE name = '%s')"
                       " ORDER BY m.id" % BOT)
        orphans = sql(db, "SELECT count(*) AS n FROM messages m WHERE NOT EXISTS"
                          " (SELECT 1 FROM contacts c WHERE c.id = m.contact_id)")
        states = sql(db, "SELECT c.number, v.state FROM contacts c LEFT JOIN conversations v"
                         " ON v.contact_id = c.id"
                         " WHERE c.bot_id = (SELECT id FROM bots WHERE name = '%s')" % BOT)
        probe = sql(db, "SELECT count(*) AS n FROM messages WHERE direction = 'in' AND"
                        " bot_id = (SELECT id FROM bots WHERE name = '%s')" % PROBE)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        check("the database can be read with the sqlite3 CLI", False, str(e))
        return
    check("every message belongs to a stored contact", orphans and orphans[0]["n"] == 0,
          "orphans: %s" % orphans)

    acked = {}        # id -> (attempt, replies)
    contact_of = {}
    sent = {}         # contact -> ids in order
    unfinished = set()
    for w in workers:
        acked.update(w.first_ack)
        contact_of.update(w.contact_of)
        sent.update(w.sent)
        if w.unfinished:
            unfinished.add(w.unfinished)

    inbound = [r for r in rows if r["direction"] == "in"]
    outbound = [r for r in rows if r["direction"] == "out"]
    count = {}
    for r in inbound:
        count[r["pid"]] = count.get(r["pid"], 0) + 1
    missing = sorted(mid for mid in acked if count.get(mid, 0) == 0)
    check("every acknowledged message (%d) is stored as an inbound message" % len(acked),
          not missing, "%d missing, e.g. %s" % (len(missing), missing[:10]))
    twice = sorted(pid for pid, k in count.items() if k > 1)
    check("no message id is stored twice", not twice,
          "%d ids stored more than once, e.g. %s" % (len(twice), twice[:10]))
    strangers = sorted(str(pid) for pid in count if pid not in contact_of)
    check("nothing but the clients' messages is stored", not strangers,
          "unknown provider ids: %s" % strangers[:10])
    notacked = sorted(pid for pid in count if pid in contact_of and pid not in acked)
    check("a stored message that was never acknowledged is only a worker's last one",
          set(notacked) <= unfinished, "stored, never acknowledged: %s" % notacked[:10])

    # per contact: the stored messages are the ones sent, in order, each followed
    # by its own reply n=1, n=2, ... (handled once, effects committed once)
    by_contact = {}
    for r in rows:
        by_contact.setdefault(r["number"], []).append(r)
    state_of = {}
    for r in states:
        try:
            state_of[r["number"]] = json.loads(r["state"]) if r["state"] else {}
        except ValueError:
            state_of[r["number"]] = {"unparsable": r["state"]}
    order_bad, pairs_bad, state_bad, reply_bad = [], [], [], []
    for contact, ids in sent.items():
        msgs = by_contact.get(contact, [])
        stored = [r["pid"] for r in msgs if r["direction"] == "in"]
        if not (stored == ids or (ids and ids[-1] in unfinished and stored == ids[:-1])):
            first = next((i for i, (a, b) in enumerate(zip(stored, ids)) if a != b),
                         min(len(stored), len(ids)))
            order_bad.append("%s: %d sent, %d stored; from #%d sent %s, stored %s" %
                             (contact, len(ids), len(stored), first + 1,
                              ids[first:first + 3], stored[first:first + 3]))
        want = []
        for k, pid in enumerate(stored, 1):
            want += [("in", pid), ("out", "n=%d" % k)]
        got = [(r["direction"], r["pid"] if r["direction"] == "in" else r["text"]) for r in msgs]
        if got != want:
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                         min(len(got), len(want)))
            pairs_bad.append("%s: at %d got %s, want %s" % (contact, first, got[first:first + 4],
                                                            want[first:first + 4]))
        n = state_of.get(contact, {}).get("n", 0)
        if n != len(stored):
            state_bad.append("%s: c.state.n = %s, %d messages stored" % (contact, n, len(stored)))
        position = {pid: k for k, pid in enumerate(stored, 1)}
        for pid in ids:
            if pid not in acked:
                continue
            attempt, replies = acked[pid]
            if replies == ["n=%d" % position.get(pid, -1)]:
                continue
            if replies == [] and attempt > 1:
                continue  # an earlier attempt was committed, its answer lost in the kill
            reply_bad.append("%s (attempt %d): answered %s, stored as message %s of %s" %
                             (pid, attempt, replies, position.get(pid), contact))
    check("each contact's stored messages are the ones it sent, in order", not order_bad,
          "\n".join(order_bad))
    check("each inbound message has exactly one reply, committed once (n=1, n=2, ...)",
          not pairs_bad, "\n".join(pairs_bad))
    check("each contact's c.state.n equals its number of stored messages", not state_bad,
          "\n".join(state_bad))
    check("replies bot-wide: %d outbound for %d inbound" % (len(outbound), len(inbound)),
          len(outbound) == len(inbound) and len(inbound) > 0)
    check("each acknowledgement carried the reply that was committed (or none for a retry)",
          not reply_bad, "\n".join(reply_bad[:10]))
    check("malformed requests left no message in the store (%d were accepted)" % probes_accepted,
          probe and probe[0]["n"] == probes_accepted, "stored: %s" % probe)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    seed = int(os.environ.get("CRASH_SEED", str(int(time.time() * 1000) % 1000000)))
    note("seed %d (CRASH_SEED=%d replays it)" % (seed, seed))
    parley = os.path.abspath(args.parley) if "/" in args.parley else args.parley
    server = None

    def terminated(sig, frame):
        raise SystemExit(1)  # crash.sh is being stopped: the finally kills the server

    signal.signal(signal.SIGTERM, terminated)
    global label, acked_total
    try:
        for i, threads in enumerate(os.environ.get("CRASH_ENGINE_THREADS", "1 2").split()):
            label = "[%s engine worker%s] " % (threads, "" if threads == "1" else "s")
            note("%swith PARLEY_ENGINE_THREADS=%s" % (label, threads))
            with acked_lock:
                acked_total = 0
            server = Server(parley, args.port + 7 * i, args.dir, threads)
            run(server, random.Random(seed), seed)
            if server.alive():
                server.kill()
    finally:
        if server and server.alive():
            server.kill()
    return summary()


def run(server, rng, seed):
    started = time.monotonic()
    if not check("the server starts and answers /healthz", server.start_first(),
                 server.log_text()[-2000:]):
        return
    note("listening on 127.0.0.1:%d" % server.port)

    stop = threading.Event()
    give_up_at = [time.monotonic() + 60]  # tightened once the kills are over
    workers = [Worker(w, server.port, stop, give_up_at, seed * 100 + w) for w in range(WORKERS)]
    for w in workers:
        w.start()

    windows = []   # acknowledgements between a (re)start and the next kill
    restarted = 0
    mark = acked_now()
    for k in range(KILLS):
        time.sleep(rng.uniform(0.3, 1.0))
        windows.append(acked_now() - mark)
        server.kill()
        t0 = time.monotonic()
        early = ""
        if k % 2 == 1:  # and once more while it starts again
            delay = rng.uniform(0.0, 0.03)
            server.kill_while_starting(delay)
            early = " (and again %d ms into its restart)" % (delay * 1000)
        if server.start() != "up":
            break
        restarted += 1
        note("SIGKILL %d after %d acknowledgements%s; back in %.2f s" %
             (k + 1, windows[-1], early, time.monotonic() - t0))
        mark = acked_now()
    check("the server restarts on the same database after each of %d SIGKILLs" % KILLS,
          restarted == KILLS, server.log_text()[-2000:])
    check("the server never dies on its own under load", not server.deaths and server.alive(),
          "exit statuses %s\n%s" % (server.deaths, server.log_text()[-1500:]))
    time.sleep(1.0)
    windows.append(acked_now() - mark)
    stop.set()
    give_up_at[0] = time.monotonic() + 10
    for w in workers:
        w.join(timeout=15)
    check("the workers finish", not any(w.is_alive() for w in workers))
    check("messages are acknowledged between every two kills: %s" % windows,
          len(windows) == KILLS + 1 and all(x > 0 for x in windows))

    sent = sum(len(w.first_ack) for w in workers)
    retried = sum(1 for w in workers for mid, k in w.failed_attempts.items())
    statuses = {}
    for w in workers:
        for s, k in w.statuses.items():
            statuses[str(s)] = statuses.get(str(s), 0) + k
    lost_answer = sum(1 for w in workers for mid, (a, r) in w.first_ack.items()
                      if a > 1 and r == [])
    note("%d messages acknowledged, %d needed a retry (%d of them had been committed "
         "before the kill); answers: %s" % (sent, retried, lost_answer, statuses))
    unexpected = [u for w in workers for u in w.unexpected]
    check("no valid message is refused (only 2xx, or no answer while the server is down)",
          not unexpected and "503" not in statuses, "%s; statuses %s" % (unexpected[:5], statuses))
    unfinished = [w.unfinished for w in workers if w.unfinished]
    check("every message is acknowledged in the end (retries included)", not unfinished,
          "still unacknowledged: %s" % unfinished)
    bad_resends = [r for w in workers for r in w.resends
                   if not (200 <= r[1] < 300 and r[2] == [])]
    check("a retry of an acknowledged message is acknowledged and not handled again (%d)" %
          sum(len(w.resends) for w in workers), not bad_resends, "%s" % bad_resends[:5])

    accepted = malformed(server)

    pid = server.proc.pid if server.proc else None
    rc = server.term()
    check("SIGTERM stops the server cleanly", rc == 0,
          "exit status %s (pid %s)\n%s" % (rc, pid, server.log_text()[-1500:]))
    log = server.log_text()
    errors = [l for l in log.splitlines() if "level=error" in l]
    check("the log has no errors", not errors, "\n".join(errors[:5]))

    check_store(server, workers, accepted)
    note("%.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    sys.exit(main())
