#!/usr/bin/env python3
"""Stand-in for parley in the Kannel demo.

Usage: stub_server.py PORT LOGFILE

Every request is appended to LOGFILE as one JSON line:
  {"path": "/kannel/fanclub", "query": {"from": "...", ...}, "raw": "<raw query>"}
The query is decoded as UTF-8 (invalid bytes as \\ufffd); "raw" keeps it as sent.
/kannel/fanclub answers "echo: TEXT" as text/plain (the SMS reply), with
X-Kannel-Coding: 2 when it is not ASCII; text "empty" gets an empty body and
"status500" a 500 with body "boom". Any other path answers "ok".
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PORT, LOG = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True,
                               encoding="utf-8", errors="replace"))
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": url.path, "query": query,
                                "raw": url.query}, ensure_ascii=False) + "\n")
        status = 200
        if url.path != "/kannel/fanclub":
            body = "ok"
        elif query.get("text") == "status500":
            status, body = 500, "boom"
        elif query.get("text") == "empty":
            body = ""
        else:
            body = "echo: " + query.get("text", "")
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if not body.isascii():
            # Ask smsbox to send the reply as UCS-2 (needs
            # accept-x-kannel-headers = true in the sms-service).
            self.send_header("X-Kannel-Coding", "2")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
