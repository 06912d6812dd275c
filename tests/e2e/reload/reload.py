#!/usr/bin/env python3
"""Hot reload under load (run by tests/e2e/reload.sh).

Workers post JSON webhook messages, one at a time each, while the main
thread ships new versions of the bot through PUT /v1/bots/BOT/script. Every
version answers "vK/vK n=N": the first vK from bot.lua, the second from a
module it requires, N a count kept in the conversation state. So a reply
shows whether one message ran on one whole version (both halves equal), and
the counts show that no message was lost or handled twice across reloads.

Standard library only. Prints "ok N - ..." lines and "N passed, N failed".
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import check, summary  # noqa: E402
from harness import request as harness_request  # noqa: E402

WORKERS = 6
MESSAGES = 120          # per worker
RELOADS = 15
BOT = "tagged"


def version_files(k):
    return {
        "bot.lua": 'local lib = require("lib.tag")\n'
                   'local TAG = "v%d"\n'
                   'bot.fallback(function(c, msg)\n'
                   '  c.state.n = (c.state.n or 0) + 1\n'
                   '  return TAG .. "/" .. lib.tag .. " n=" .. c.state.n\n'
                   'end)\n' % k,
        "lib/tag.lua": 'return { tag = "v%d" }\n' % k,
    }


def request(port, method, path, token, body, ctype="application/json"):
    return harness_request(port, method, path, body.encode(),
                           {"Authorization": "Bearer " + token, "Content-Type": ctype})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    hook, admin = os.environ["PARLEY_WEBHOOK_TOKEN"], os.environ["PARLEY_ADMIN_TOKEN"]
    bot_dir = os.path.join(a.dir, "scripts", BOT)
    os.makedirs(os.path.join(bot_dir, "lib"), exist_ok=True)
    for path, text in version_files(0).items():
        with open(os.path.join(bot_dir, path), "w") as f:
            f.write(text)
    db = os.path.join(a.dir, "reload.db")
    log = open(os.path.join(a.dir, "server.log"), "w")
    server = subprocess.Popen([a.parley, "serve", "--listen", "127.0.0.1:%d" % a.port,
                               "--db", db, "--scripts", os.path.join(a.dir, "scripts")],
                              stdout=log, stderr=log)
    with open(os.path.join(a.dir, "server.pid"), "w") as f:
        f.write(str(server.pid))
    try:
        for _ in range(100):
            try:
                if request(a.port, "GET", "/healthz", "", "")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        results = [[] for _ in range(WORKERS)]
        errors = []

        def worker(w):
            for i in range(MESSAGES):
                body = json.dumps({"from": "+1555070%04d" % w, "text": "m%d" % i,
                                   "id": "w%d-%d" % (w, i)})
                try:
                    status, text = request(a.port, "POST", "/v1/bots/%s/messages" % BOT, hook, body)
                except OSError as e:
                    errors.append("worker %d message %d: %s" % (w, i, e))
                    return
                if status != 200:
                    errors.append("worker %d message %d: %d %s" % (w, i, status, text))
                    return
                results[w].append(json.loads(text).get("replies", []))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
        for t in threads:
            t.start()
        reloads = []
        for k in range(1, RELOADS + 1):
            time.sleep(0.03)
            body = json.dumps({"files": version_files(k)})
            reloads.append(request(a.port, "PUT", "/v1/bots/%s/script" % BOT, admin, body))
        for t in threads:
            t.join()

        check("every message was acknowledged (200)", not errors, "\n".join(errors))
        bad = [(s, t) for s, t in reloads if s != 200]
        check("every reload under load was activated", not bad, bad)
        torn, gaps, backwards, seen = [], [], [], set()
        for w, replies in enumerate(results):
            last_version = -1
            for i, r in enumerate(replies):
                m = re.fullmatch(r"v(\d+)/v(\d+) n=(\d+)", r[0]) if len(r) == 1 else None
                if not m:
                    torn.append("worker %d message %d: %r" % (w, i, r))
                    continue
                if m.group(1) != m.group(2):
                    torn.append("worker %d message %d ran two versions: %r" % (w, i, r))
                if int(m.group(3)) != i + 1:
                    gaps.append("worker %d message %d counted %s" % (w, i, m.group(3)))
                v = int(m.group(1))
                if v < last_version:
                    backwards.append("worker %d message %d: v%d after v%d" % (w, i, v, last_version))
                last_version = max(last_version, v)
                seen.add(v)
        check("each message ran on one whole version (bot.lua and its module agree)", not torn,
              "\n".join(torn))
        check("each conversation counted every message once, in order, across reloads",
              not gaps, "\n".join(gaps))
        check("once a conversation saw a version it never went back to an older one",
              not backwards, "\n".join(backwards))
        check("the load really straddled reloads (more than 2 versions answered)", len(seen) > 2,
              "versions seen: %s" % sorted(seen))
        server.terminate()
        server.wait(timeout=20)
        total = WORKERS * MESSAGES

        def sql(q):
            return subprocess.run(["sqlite3", db, q], capture_output=True, text=True).stdout.strip()

        check("every acknowledged message is stored once",
              sql("SELECT count(*), count(DISTINCT provider_id) FROM messages WHERE direction = 'in'")
              == "%d|%d" % (total, total), sql("SELECT count(*) FROM messages WHERE direction = 'in'"))
        check("every message has exactly one reply stored",
              sql("SELECT count(*) FROM messages WHERE direction = 'out'") == str(total))
        check("all %d versions are kept" % (RELOADS + 1),
              sql("SELECT count(*) FROM script_versions") == str(RELOADS + 1))
        check("the database passes integrity_check", sql("PRAGMA integrity_check") == "ok")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
