#!/usr/bin/python3
"""A small market-data HTTP server for tests/cli/test_screen.sh (127.0.0.1 by default;
MARKET_BIND=ADDR in the environment listens on ADDR, e.g. a test network's own address).

    market_server.py DIR PORTFILE [SLOW_SECONDS [CERT KEY]]

Serves the files in DIR on a port chosen by the OS (written to PORTFILE):
  /data/NAME   the file
  /auth/NAME   the file, but 401 unless "Authorization: Bearer KEY" or
               "X-API-Key: KEY" carries the key in $MARKET_TEST_KEY
  /slow/NAME   the file after sleeping SLOW_SECONDS (default 5)
  /fail/NAME   always 500
  /once408/NAME, /once429/NAME   408 or 429 on the first request for the
               path, the file afterwards (a retryable status)
  /redirect/NAME   302 to /data/NAME (a client must not follow it)
With CERT and KEY (PEM) it speaks HTTPS. Each connection is served by its own
thread, the TLS handshake included (not in the accepting thread), with a
handshake and read timeout: a slow or aborted client never holds up the next
one. Every request appends "METHOD PATH STATUS" to DIR/requests.log (never the
headers, so the key does not land in a log).
"""
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[1]
PORTFILE = sys.argv[2]
SLOW = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
KEY = os.environ.get("MARKET_TEST_KEY", "")
SEEN = set()  # paths of /onceNNN/ already answered with their status


IO_TIMEOUT = 60.0  # seconds a connection may stall in its handshake or a read


class Handler(BaseHTTPRequestHandler):
    timeout = IO_TIMEOUT  # StreamRequestHandler puts it on the connection

    def log_message(self, fmt, *args):
        pass

    def note(self, status):
        with open(os.path.join(ROOT, "requests.log"), "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path, status))

    def reply(self, status, body, ctype="text/plain"):
        self.note(status)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def serve_file(self, name):
        path = os.path.join(ROOT, os.path.basename(name))
        if not os.path.isfile(path):
            return self.reply(404, b"not found\n")
        with open(path, "rb") as f:
            body = f.read()
        ctype = "application/json" if name.endswith(".json") else "text/csv"
        self.reply(200, body, ctype)

    def do_GET(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/", 1)
        if len(parts) != 2:
            return self.reply(404, b"not found\n")
        kind, name = parts
        if kind == "data":
            return self.serve_file(name)
        if kind == "auth":
            ok = KEY and (self.headers.get("Authorization") == "Bearer " + KEY
                          or self.headers.get("X-API-Key") == KEY)
            if not ok:
                return self.reply(401, b"missing or wrong API key\n")
            return self.serve_file(name)
        if kind == "slow":
            time.sleep(SLOW)
            return self.serve_file(name)
        if kind == "fail":
            return self.reply(500, b"internal error\n")
        if kind in ("once408", "once429"):
            if self.path not in SEEN:
                SEEN.add(self.path)
                return self.reply(int(kind[4:]), b"try again\n")
            return self.serve_file(name)
        if kind == "redirect":
            self.note(302)
            self.send_response(302)
            self.send_header("Location", "/data/" + name)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.reply(404, b"not found\n")


class Server(ThreadingHTTPServer):
    """Wraps each accepted connection in TLS in the connection's own thread
    (finish_request runs there), so the handshake never blocks accept()."""
    daemon_threads = True
    request_queue_size = 64
    tls = None

    def finish_request(self, request, client_address):
        if self.tls is None:
            return super().finish_request(request, client_address)
        request.settimeout(IO_TIMEOUT)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None  # a refused, slow or aborted handshake: this client only
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()
        return None


def main():
    srv = Server((os.environ.get("MARKET_BIND", "127.0.0.1"), 0), Handler)
    if len(sys.argv) > 5:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.tls = ctx
    tmp = PORTFILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
