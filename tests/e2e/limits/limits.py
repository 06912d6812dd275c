#!/usr/bin/env python3
"""One client cannot starve the others (run by tests/e2e/limits.sh).

1. 1,100 idle sockets from one address: a signed webhook from another
   address is still answered; the sockets past the per-address limit are
   closed at once.
2. A request that trickles in a byte at a time is closed at the request
   deadline, although every byte would renew an idle timeout; when every
   connection slot is taken, a new request is answered 503 (not left
   waiting), and once the deadline frees the slots it is served again.
3. Credentials are checked from the headers before any body byte is read
   (a wrong token with Content-Length 1 MB is answered without the body
   being sent), and the memory held by bodies in flight is capped: the
   server's RSS stays bounded while hundreds of 1 MB bodies arrive.
4. A 2.7 KB bzip2 tar holding a 2 GB file, PUT as a script, is answered 413
   at the unpacking cap, and a webhook sent meanwhile is answered.

Bounds on time are generous (seconds, where the old server took tens of
seconds or never answered). Standard library only; servers on 127.0.0.1,
stopped by PID. Prints "ok N - ..." lines and "N passed, N failed".
"""
import argparse
import bz2
import hashlib
import hmac
import http.client
import io
import json
import os
import resource
import socket
import sys
import tarfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Parley, check, summary  # noqa: E402

HOOK_TOKEN = "limits-hook-1"
HOOK_SECRET = "limits-secret-2"
ADMIN_TOKEN = "limits-admin-3"
TWILIO_TOKEN = "limits-twilio-4"
BOT = "fan"
SECRETS = {"PARLEY_WEBHOOK_TOKEN": HOOK_TOKEN, "PARLEY_WEBHOOK_SECRET": HOOK_SECRET,
           "PARLEY_ADMIN_TOKEN": ADMIN_TOKEN, "PARLEY_TWILIO_AUTH_TOKEN": TWILIO_TOKEN}


def start(a, name, env):
    p = Parley(a.parley, a.dir, os.path.join(a.dir, name + ".db"), os.path.join(a.dir, "scripts"),
               dict(SECRETS, **env), name=name)
    if not p.start():
        check("%s: parley serve starts" % name, False, p.log())
        return None
    with open(os.path.join(a.dir, name + ".pid"), "w") as f:
        f.write(str(p.proc.pid))
    return p


def signed_webhook(port, source, text, timeout=5):
    """A signed JSON webhook (X-Parley-Signature) from source address: (status, body)."""
    body = json.dumps({"from": "+15550001", "text": text}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(HOOK_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/v1/bots/%s/messages" % BOT, body=body,
                     headers={"Content-Type": "application/json", "X-Parley-Timestamp": ts,
                              "X-Parley-Signature": "sha256=" + sig})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    except OSError as e:
        return None, "%s: %s" % (type(e).__name__, e)
    finally:
        conn.close()


def idle_socket(port, source="127.0.0.1"):
    """A connection that sent the start of a request and then nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.sendall(b"POST /v1/bots/%s/messages HTTP/1.1\r\nHost: x\r\n" % BOT.encode())
    return s


def closed_by_server(s, wait):
    """True if the server closed s (EOF or reset) within wait seconds."""
    s.settimeout(wait)
    try:
        return s.recv(4096) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def raw_request(port, head, timeout=5):
    """Sends only the request's head (no body); the status line of the answer, or the error."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n")[0].decode("latin-1") or "closed without an answer"
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()


# ---------------------------------------------------------------- 1. idle sockets

def idle_sockets(a):
    p = start(a, "idle", {})
    if not p:
        return
    socks, errors = [], []
    try:
        for _ in range(1100):
            try:
                socks.append(idle_socket(p.port))
            except OSError as e:
                errors.append(str(e))
                break
        status, body = signed_webhook(p.port, "127.0.0.2", "hi", timeout=5)
        check("1,100 idle sockets from one address: a signed webhook from another address is "
              "answered (within 5 s)", status == 200, "%s %s; %d sockets opened, errors: %s" %
              (status, body, len(socks), errors[:1]))
        closed = sum(1 for s in socks[-200:] if closed_by_server(s, 0.01))
        check("the sockets past the per-address limit were closed by the server",
              closed >= 150, "%d of the last 200 closed" % closed)
    finally:
        for s in socks:
            s.close()
        p.stop()


# ---------------------------------------------------------------- 2. deadline, full

def deadline_and_full(a):
    p = start(a, "full", {"PARLEY_REQUEST_DEADLINE_MS": "2000", "PARLEY_MAX_CONNECTIONS": "20",
                          "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": "10"})
    if not p:
        return
    socks = []
    try:
        s = idle_socket(p.port, "127.0.0.5")
        closed, t0 = False, time.time()
        s.settimeout(0.3)
        while time.time() - t0 < 10 and not closed:
            try:
                s.sendall(b"X")  # a byte of a header, again and again
                closed = s.recv(4096) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        s.close()
        check("a request trickling a byte every 0.3 s is closed at the 2 s request deadline "
              "(within 10 s)", closed, "still open after %.1f s" % (time.time() - t0))

        for source in ("127.0.0.2", "127.0.0.3"):
            for _ in range(10):
                socks.append(idle_socket(p.port, source))
        time.sleep(0.2)
        status, body = signed_webhook(p.port, "127.0.0.4", "full", timeout=5)
        check("with every connection slot taken, a new request is answered 503 (not left waiting)",
              status == 503 and "retry" in body, "%s %s" % (status, body))
        freed = all(closed_by_server(s, 8) for s in socks)
        check("the idle connections are closed at their deadline", freed)
        # the server's thread frees a slot just after the client sees the close:
        # a request in between may still be told 503; within seconds it is served
        t0 = time.time()
        status, body = signed_webhook(p.port, "127.0.0.4", "again", timeout=5)
        while status == 503 and time.time() - t0 < 5:
            time.sleep(0.1)
            status, body = signed_webhook(p.port, "127.0.0.4", "again", timeout=5)
        check("... and then requests are served again (within 5 s)", status == 200,
              "%s %s" % (status, body))
        full = metric(p.port, 'parley_http_refused_total{reason="full"}')
        late = metric(p.port, 'parley_http_refused_total{reason="deadline"}')
        check("/metrics counts the refused requests and the connections closed at the deadline",
              (full or 0) >= 1 and (late or 0) >= 21, "full=%s deadline=%s" % (full, late))
        check("the log names them", "event=connection_refused" in p.log() and
              "reason=full" in p.log() and "reason=deadline" in p.log(), p.log()[-1500:])
    finally:
        for s in socks:
            s.close()
        p.stop()


# ---------------------------------------------------------------- 3. bodies

def bodies(a):
    p = start(a, "bodies", {"PARLEY_MAX_BODY_MEMORY": "8388608",
                            "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": "1000"})
    if not p:
        return
    try:
        mb = 1 << 20
        cases = [
            ("a wrong bearer token", "POST /v1/bots/%s/messages" % BOT,
             "Authorization: Bearer nope\r\nContent-Type: application/json\r\n", "403"),
            ("no credentials", "POST /v1/bots/%s/events" % BOT,
             "Content-Type: application/json\r\n", "401"),
            ("a signature from too long ago", "POST /v1/bots/%s/status" % BOT,
             "X-Parley-Timestamp: 1000000000\r\nX-Parley-Signature: sha256=%s\r\n"
             "Content-Type: application/json\r\n" % ("0" * 64), "403"),
            ("a wrong Kannel token", "POST /kannel/%s?token=nope" % BOT,
             "Content-Type: application/x-www-form-urlencoded\r\n", "403"),
            ("no X-Twilio-Signature", "POST /twilio/%s" % BOT,
             "Content-Type: application/x-www-form-urlencoded\r\n", "403"),
            ("a wrong admin token", "PUT /v1/bots/%s/script" % BOT,
             "Authorization: Bearer nope\r\n", "403"),
        ]
        for desc, line, headers, want in cases:
            got = raw_request(p.port, "%s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" %
                              (line, headers, mb))
            check("%s with Content-Length %d is answered %s before the body is sent" %
                  (desc, mb, want), got.startswith("HTTP/1.1 " + want), got)

        base = vm_rss_kb(p.proc.pid)
        ts = str(int(time.time()))
        socks, answered = [], {}
        payload = b"{" + b" " * (mb - 2)  # 1 MB, the last byte never sent
        for i in range(300):
            try:
                s = socket.create_connection(("127.0.0.1", p.port), timeout=2)
            except OSError:
                break
            socks.append(s)
            head = ("POST /v1/bots/%s/messages HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/json\r\nX-Parley-Timestamp: %s\r\nX-Parley-Signature: sha256=%s"
                    "\r\nContent-Length: %d\r\n\r\n" % (BOT, ts, "0" * 64, mb)).encode()
            try:
                s.sendall(head)
                s.sendall(payload)
            except OSError:
                pass
        time.sleep(0.5)
        peak = vm_rss_kb(p.proc.pid)
        for s in socks:
            s.settimeout(0.05)
            try:
                line = s.recv(64).split(b"\r\n")[0].decode("latin-1")
                answered[line] = answered.get(line, 0) + 1
            except OSError:
                pass
            s.close()
        grew = (peak - base) / 1024
        check("300 signed 1 MB bodies in flight at once: the server's RSS grows by less than "
              "64 MiB (memory for bodies capped at 8 MiB)", grew < 64,
              "grew by %.0f MiB (from %d KiB)" % (grew, base))
        over = sum(n for line, n in answered.items() if " 503 " in line + " ")
        check("the bodies past the cap are answered 503", over > 0, answered)
    finally:
        p.stop()


# ---------------------------------------------------------------- 4. archives

def bzip2_bomb():
    """A tar holding fanclub/big.bin of 2 GB of zeros, bzip2-compressed (several streams)."""
    size = 2048 << 20
    head = tarfile.TarInfo("fanclub/big.bin")
    head.size = size
    part = bz2.compress(b"\0" * (64 << 20), 9)
    return (bz2.compress(head.tobuf(format=tarfile.USTAR_FORMAT), 9) + part * (size >> 26) +
            bz2.compress(b"\0" * 1024, 9))


def many_files():
    """A gzipped tar of 2,000 empty files."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for i in range(2000):
            t.addfile(tarfile.TarInfo("fanclub/f%d.txt" % i), io.BytesIO(b""))
    return out.getvalue()


def archives(a):
    p = start(a, "tar", {})
    if not p:
        return
    try:
        bomb = bzip2_bomb()
        result = {}

        def put():
            conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=60)
            try:
                conn.request("PUT", "/v1/bots/%s/script" % BOT, body=bomb,
                             headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                                      "Content-Type": "application/x-tar"})
                r = conn.getresponse()
                result["put"] = (r.status, r.read().decode())
            except OSError as e:
                result["put"] = (None, str(e))
            finally:
                conn.close()

        t = threading.Thread(target=put)
        t.start()
        time.sleep(0.2)
        status, body = signed_webhook(p.port, "127.0.0.1", "meanwhile", timeout=5)
        t.join(60)
        check("a webhook sent while a %d-byte bzip2 tar of a 2 GB file is PUT is answered "
              "(within 5 s)" % len(bomb), status == 200, "%s %s" % (status, body))
        got = result.get("put", (None, "no answer"))
        check("the bomb is answered 413, naming the cap", got[0] == 413 and "16 MiB" in got[1], got)
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
        conn.request("PUT", "/v1/bots/%s/script" % BOT, body=many_files(),
                     headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                              "Content-Type": "application/gzip"})
        r = conn.getresponse()
        got = (r.status, r.read().decode())
        conn.close()
        check("a tar of 2,000 files is answered 413, naming the cap",
              got[0] == 413 and "1000" in got[1], got)
        check("the running version still answers", signed_webhook(p.port, "127.0.0.1", "x")[0] == 200)
    finally:
        p.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    bot_dir = os.path.join(a.dir, "scripts", BOT)
    os.makedirs(bot_dir)
    with open(os.path.join(bot_dir, "bot.lua"), "w") as f:
        f.write('bot.fallback(function(c, msg) return "ok" end)\n')
    for name, fn in (("idle", idle_sockets), ("full", deadline_and_full), ("bodies", bodies),
                     ("tar", archives)):
        if not a.only or name in a.only.split(","):
            fn(a)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
