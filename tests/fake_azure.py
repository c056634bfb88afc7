"""fake_azure.py PORT_FILE LOG KV_DIR [BIND] - local stand-ins for the Azure
endpoints the Batch task scripts call, for the launcher tests:
  instance metadata service  GET /metadata/identity/oauth2/token (Metadata: true,
                             api-version 2018-02-01): a token per resource,
                             FAKE_TOKEN-vault or FAKE_TOKEN-batch
  Key Vault                  GET /secrets/NAME?api-version=7.4 with the vault
                             token: the file KV_DIR/NAME (401, 404 otherwise)
  Batch                      POST /jobs/ID/tasks: 201, then 409 TaskExists
Requests are appended to LOG.imds, LOG.kv and LOG.batch (JSON lines). It
listens on BIND (127.0.0.1) on a port the OS picks, written to PORT_FILE.
The token comes from the environment (FAKE_TOKEN), never the command line."""
import http.server, json, os, sys, threading, urllib.parse
port_file, log, kv = sys.argv[1], sys.argv[2], sys.argv[3]
bind = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
token = os.environ["FAKE_TOKEN"]
KINDS = {"https://vault.azure.net": "vault", "https://batch.core.windows.net/": "batch"}
LOCK = threading.RLock()  # one request at a time appends to a log and counts it
class H(http.server.BaseHTTPRequestHandler):
    timeout = 60  # a stalled client gives up its thread, never the server
    def log_message(self, *a): pass
    def reply(self, code, body=b""):
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def note(self, what, **kw):
        with LOCK, open(log + "." + what, "a") as f:
            f.write(json.dumps(dict(path=self.path, auth=self.headers.get("Authorization"), **kw)) + "\n")
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/metadata/identity/oauth2/token" and self.headers.get("Metadata") == "true":
            self.note("imds", query=q)
            kind = KINDS.get(q.get("resource"))
            if not kind or q.get("api-version") != "2018-02-01":
                return self.reply(400, b'{"error":"invalid_request"}')
            self.reply(200, json.dumps({"access_token": f"{token}-{kind}", "expires_in": "3599",
                                        "resource": q["resource"], "token_type": "Bearer"}).encode())
        elif u.path.startswith("/secrets/"):
            self.note("kv")
            name = u.path[len("/secrets/"):]
            if self.headers.get("Authorization") != f"Bearer {token}-vault" or q.get("api-version") != "7.4":
                return self.reply(401, b'{"error":{"code":"Unauthorized"}}')
            p = os.path.join(kv, name)
            if "/" in name or not os.path.exists(p):
                return self.reply(404, b'{"error":{"code":"SecretNotFound"}}')
            self.reply(200, json.dumps({"value": open(p).read(), "id": f"https://finsimkv.vault.azure.net/secrets/{name}/0a1b",
                                        "attributes": {"enabled": True}}).encode())
        else:
            self.reply(400)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with LOCK:
            self.note("batch", ctype=self.headers.get("Content-Type"), body=json.loads(body))
            dup = sum(1 for _ in open(log + ".batch")) > 1
        self.reply(409 if dup else 201, b'{"odata.metadata":"x","code":"TaskExists","message":{"value":"exists"}}' if dup else b"")
s = http.server.ThreadingHTTPServer((bind, 0), H)  # a slow client never blocks the next
s.daemon_threads = True
with open(port_file + ".tmp", "w") as f:  # atomic: the reader never sees half a number
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
