"""What the Python end-to-end tests (and bench/send.py) share: TAP lines, a parley serve on a
free 127.0.0.1 port (stopped by PID), Twilio's signature, polling the
database. Standard library only."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import time
import urllib.parse

n_pass = n_fail = n_skip = 0


def tap_line(cond, desc, detail="", number=None):
    """One TAP line, "ok N - DESC" or "not ok N - DESC" followed by "#   DETAIL"
    lines (without N when number is None: a caller that numbers the lines
    itself, as tests/e2e/workers.sh does)."""
    n = "" if number is None else " %d" % number
    print("%s%s - %s" % ("ok" if cond else "not ok", n, desc), flush=True)
    if not cond:
        for line in str(detail).splitlines()[:12]:
            print("#   " + line[:300], flush=True)
    return cond


def check(desc, cond, detail=""):
    global n_pass, n_fail
    if cond:
        n_pass += 1
    else:
        n_fail += 1
    return tap_line(cond, desc, detail, n_pass + n_fail + n_skip)


def skip(desc, reason):
    """A test not run: "ok N - DESC # SKIP REASON", counted as skipped, not passed."""
    global n_skip
    n_skip += 1
    tap_line(True, "%s # SKIP %s" % (desc, reason), number=n_pass + n_fail + n_skip)


def summary():
    skipped = ", %d skipped" % n_skip if n_skip else ""
    print("%d passed, %d failed%s" % (n_pass, n_fail, skipped), flush=True)
    return 1 if n_fail else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def twilio_signature(token, url, params):
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def request(port, method, path, body=b"", headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Parley:
    """parley serve with the given settings (as flags) and environment."""

    def __init__(self, binary, workdir, db, scripts, env, flags=(), name="parley"):
        self.binary, self.db, self.scripts = binary, db, scripts
        self.env = dict(os.environ, **env)
        for k in ("PARLEY_DB", "PARLEY_SCRIPTS", "PARLEY_LISTEN", "PARLEY_PUBLIC_URL"):
            self.env.pop(k, None)
        self.flags = list(flags)
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.port = None

    def start(self, port=None):
        for _ in range(5):
            self.port = port or free_port()
            url = "http://127.0.0.1:%d" % self.port
            log = open(self.log_path, "a")
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", "127.0.0.1:%d" % self.port, "--public-url", url,
                 "--db", self.db, "--scripts", self.scripts] + self.flags,
                stdout=log, stderr=log, env=self.env)
            log.close()
            deadline = time.time() + 10
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    if request(self.port, "GET", "/healthz", timeout=1)[0] == 200:
                        return True
                except OSError:
                    pass
                time.sleep(0.05)
            self.stop()
            if port:
                break
        return False

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self, sig="TERM"):
        if self.proc and self.proc.poll() is None:
            if sig == "KILL":
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def twilio_post(self, path, params, token):
        url = self.url() + path
        body = urllib.parse.urlencode(params).encode()
        sig = twilio_signature(token, url, params)
        return request(self.port, "POST", path, body,
                       {"Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": sig})


def write_bot(scripts, name, source):
    """scripts/NAME/bot.lua with that source (the folder made)."""
    os.makedirs(os.path.join(scripts, name), exist_ok=True)
    with open(os.path.join(scripts, name, "bot.lua"), "w") as f:
        f.write(source)


def json_lines(path):
    """The JSON values of a log of one per line (a fake's), skipping lines
    that are not one (a line being written)."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


class FakeTwilio:
    """tests/fake/fake_twilio on a free 127.0.0.1 port (--port 0), logging to
    WORKDIR/NAME.jsonl; what it accepted is read from that log."""

    def __init__(self, binary, workdir, sid, token, args=(), name="fake"):
        self.log_path = os.path.join(workdir, name + ".jsonl")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--account-sid", sid, "--auth-token", token,
             "--log", self.log_path] + list(args), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.strip().rsplit(":", 1)[1]) if "listening" in line else None

    def lines(self):
        return json_lines(self.log_path)

    def accepted(self):
        return [x for x in self.lines() if "sid" in x and "rejected" not in x and "callback" not in x]

    def sent(self, to):
        """The texts of the messages accepted for that number, in order."""
        return [x.get("body") for x in self.accepted() if x.get("to") == to]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def query(db, sql, args=()):
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait_for(fn, timeout=15.0, every=0.1):
    """Calls fn until it returns something true or the time is up; the last value."""
    deadline = time.time() + timeout
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(every)
        value = fn()
    return value


def graph_signature(secret, body):
    """The X-Hub-Signature-256 value Meta sends with a webhook: "sha256=" and
    the lowercase hex HMAC-SHA256 of the raw body bytes, keyed with the app
    secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeGraph:
    """tests/fake/fake_graph.py (Meta's Graph API: WhatsApp Cloud API and
    Messenger) on a free 127.0.0.1 port (--port 0), posting its webhooks to
    WEBHOOK and logging to WORKDIR/NAME.jsonl; what it accepted is read from
    that log. The control endpoints (/_fake/...) are wrapped as methods."""

    SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fake",
                          "fake_graph.py")

    def __init__(self, workdir, webhook, app_secret="graph-app-secret", token="graph-token",
                 phone_number_id="1234567890", page_id="555", args=(), name="graph"):
        self.app_secret, self.token = app_secret, token
        self.phone_number_id, self.page_id = phone_number_id, page_id
        self.log_path = os.path.join(workdir, name + ".jsonl")
        self.proc = subprocess.Popen(
            ["python3", self.SCRIPT, "--port", "0", "--app-secret", app_secret,
             "--access-token", token, "--phone-number-id", phone_number_id,
             "--page-id", page_id, "--webhook", webhook, "--log", self.log_path] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.strip().rsplit(":", 1)[1]) if "listening" in line else None

    def url(self):
        """The base URL parley should use in place of https://graph.facebook.com."""
        return "http://127.0.0.1:%d" % self.port

    def sign(self, body):
        """X-Hub-Signature-256 for body (bytes) with this fake's app secret."""
        return graph_signature(self.app_secret, body)

    def lines(self):
        return json_lines(self.log_path)

    def accepted(self):
        """Accepted sends, WhatsApp ("wamid") and Messenger ("mid"), in order."""
        return [x for x in self.lines() if ("wamid" in x or "mid" in x) and "webhook" not in x]

    def rejected(self):
        return [x for x in self.lines() if "rejected" in x]

    def webhooks(self, kind=None):
        """Webhook posts made: kind "status", "inbound", "messenger_inbound",
        "messenger_status" or "verify" (None: all)."""
        return [x for x in self.lines() if "webhook" in x and kind in (None, x["webhook"])]

    def sent(self, to):
        """The texts of the messages accepted for that number or PSID, in order
        (text.body, the interactive body text, the template name, ...)."""
        return [x.get("text") for x in self.accepted() if x.get("to") == to.lstrip("+")]

    def statuses(self, message_id):
        """The statuses posted so far for a wamid or mid, in order."""
        return [x["status"] for x in self.webhooks() if x.get("id") == message_id
                and x["webhook"] in ("status", "messenger_status")]

    def control(self, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        status, text = request(self.port, method, path, body,
                               {"Content-Type": "application/json"}, timeout=30)
        try:
            return json.loads(text)
        except ValueError:
            return {"error": "HTTP %d: %s" % (status, text)}

    def post_inbound(self, frm, text=None, name="Ann", message=None, messages=None,
                     statuses=None, tamper=False, repeat=1):
        """Makes the fake deliver a signed WhatsApp "messages" webhook from frm
        (a text, one message object or several, and/or statuses); returns
        {"status","body","payload","signature","attempts"}: parley's answer and
        the exact bytes and header sent."""
        spec = {"from": frm, "name": name, "tamper": tamper, "repeat": repeat}
        if text is not None:
            spec["text"] = text
        if message is not None:
            spec["message"] = message
        if messages is not None:
            spec["messages"] = messages
        if statuses is not None:
            spec["statuses"] = statuses
        return self.control("POST", "/_fake/inbound", spec)

    def messenger_inbound(self, psid, text=None, postback=None, quick_reply=None,
                          obj="page", tamper=False, repeat=1):
        """The same for Messenger (obj "page") or Instagram (obj "instagram")."""
        spec = {"psid": psid, "object": obj, "tamper": tamper, "repeat": repeat}
        for key, value in (("text", text), ("postback", postback), ("quick_reply", quick_reply)):
            if value is not None:
                spec[key] = value
        return self.control("POST", "/_fake/messenger_inbound", spec)

    def advance(self, seconds):
        """Moves the fake's clock forward (the 24-hour windows, timestamps)."""
        return self.control("POST", "/_fake/advance", {"seconds": seconds})

    def verify(self, verify_token, challenge="1158201444"):
        """Makes the fake run Meta's GET verification handshake on the webhook."""
        query = urllib.parse.urlencode({"token": verify_token, "challenge": challenge})
        return self.control("GET", "/_fake/verify?" + query)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def run_with_service(parley, workdir, service, bot, source, env, run):
    """A local HTTP service (service: a request handler class) on a free
    127.0.0.1 port, the bot (source with PORT replaced by the port) served by
    parley serve with env, then run(p, db, scripts, port); both stopped
    after. The summary's exit status."""
    import http.server
    import threading
    port = free_port()
    svc = http.server.ThreadingHTTPServer(("127.0.0.1", port), service)
    svc.daemon_threads = True
    threading.Thread(target=svc.serve_forever, daemon=True).start()
    scripts = os.path.join(workdir, "scripts")
    write_bot(scripts, bot, source.replace("PORT", str(port)))
    db = os.path.join(workdir, "parley.db")
    p = Parley(os.path.abspath(parley), workdir, db, scripts, env)
    try:
        if check("parley serve starts", p.start(), p.log()):
            run(p, db, scripts, port)
    finally:
        p.stop()
        svc.shutdown()
    return summary()


def call_json(p, token, method, path, body=b"", ctype="application/json"):
    """(status, the answer as JSON, or as text when it is not JSON) of a
    request to parley serve p with that bearer token."""
    status, text = request(p.port, method, path, body,
                           {"Authorization": "Bearer " + token, "Content-Type": ctype})
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def say_json(p, token, bot, frm, text):
    """(status, the replies) of a message through the JSON webhook of bot
    (the answer as text when it has none)."""
    status, body = call_json(p, token, "POST", "/v1/bots/%s/messages" % bot,
                             json.dumps({"from": frm, "text": text}).encode())
    return status, body.get("replies") if isinstance(body, dict) else body
