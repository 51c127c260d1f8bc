#!/usr/bin/env python3
"""A throwaway HTTP server for testing vagrant/lib/checks.sh itself (not Palisade).

Modes: "waf" answers 403 to requests that look like the attacks the checks send and 200
otherwise; "open" answers 200 to everything (an unprotected app); "deny" answers 403 to
everything (a broken WAF). Binds 127.0.0.1 on an ephemeral port and prints the port on
the first line of stdout. Exits after --lifetime seconds so it never outlives a test run.
"""
import argparse
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ATTACK = re.compile(r"'|<script|\.\./|;\s*cat\b|\bunion\b.+\bselect\b", re.IGNORECASE)


class Handler(BaseHTTPRequestHandler):
    mode = "waf"

    def _answer(self, body: bytes) -> None:
        seen = urllib.parse.unquote_plus(self.path + " " + body.decode("latin-1"))
        if self.mode == "deny" or (self.mode == "waf" and ATTACK.search(seen)):
            status = 403
        else:
            status = 200
        payload = b"blocked\n" if status == 403 else b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    def log_message(self, *_args) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["waf", "open", "deny"])
    parser.add_argument("--lifetime", type=float, default=120.0)
    args = parser.parse_args()
    Handler.mode = args.mode
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
