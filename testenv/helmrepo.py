"""A loopback Helm chart repository for keelson's tests: serves the files of ROOT over HTTP(S).

    python3 testenv/helmrepo.py ROOT [--user U --password P] [--cert CRT --key KEY]

Binds a free port on 127.0.0.1 and prints it as the first line of stdout, then serves until
killed. With --user/--password every request needs that basic auth (401 otherwise); with
--cert/--key it speaks HTTPS. ROOT is expected to hold what `helm package` and `helm repo index`
wrote (index.yaml and the chart archives). Requests are logged to stderr.
"""
import argparse
import base64
import http.server
import os
import ssl
import sys

parser = argparse.ArgumentParser()
parser.add_argument("root")
parser.add_argument("--user")
parser.add_argument("--password")
parser.add_argument("--cert")
parser.add_argument("--key")
args = parser.parse_args()
root = os.path.realpath(args.root)
expected = None
if args.user is not None:
    expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))
        sys.stderr.flush()

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if expected is not None and self.headers.get("Authorization", "") != expected:
            return self.reply(401, b"unauthorized\n", [("WWW-Authenticate", 'Basic realm="charts"')])
        path = os.path.realpath(os.path.join(root, self.path.split("?", 1)[0].lstrip("/")))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return self.reply(404, b"not found\n")
        with open(path, "rb") as f:
            body = f.read()
        kind = "text/yaml" if path.endswith(".yaml") else "application/gzip"
        self.reply(200, body, [("Content-Type", kind)])

    do_HEAD = do_GET


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if args.cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
