#!/usr/bin/env bash
# Loopback git servers for keelson's source tests and benchmarks.
#
#   testenv/gitservers.sh start DIR   start all servers with their state in DIR (created)
#   testenv/gitservers.sh stop DIR    stop them (by the recorded pids, never by name)
#   testenv/gitservers.sh env DIR     print the settings (also in DIR/env)
#
# Each start picks free ports on 127.0.0.1, so several sets can run at once (tests start one set
# each). Servers:
#   git daemon        git://127.0.0.1:$GIT_DAEMON_PORT/<repo>             (repos in DIR/repos)
#   smart HTTP        http://127.0.0.1:$HTTP_PORT/{public,basic,bearer}/<repo>
#                     git http-backend behind a small Python front: /basic needs basic auth
#                     $HTTP_USER:$HTTP_PASSWORD, /bearer needs "Authorization: Bearer $HTTP_TOKEN"
#   smart HTTPS       https://127.0.0.1:$HTTPS_PORT/... the same, with a certificate signed by
#                     a CA generated per start ($HTTPS_CA)
#   sshd              ssh://$SSH_USER@127.0.0.1:$SSH_PORT$REPOS/<repo>      (Debian openssh-server)
#                     client key $SSH_IDENTITY, host keys in $SSH_KNOWN_HOSTS; $SSH_KNOWN_HOSTS_WRONG
#                     holds a different key for the same host (must be rejected)
# DIR/env holds these as KEY=value lines; logs are in DIR/logs, pids in DIR/pids.
# Needs: git, python3, openssl, openssh-server/openssh-client (testenv/setup-debian.sh installs them).
set -euo pipefail

usage() { echo "usage: $0 start|stop|env DIR" >&2; exit 2; }
(($# == 2)) || usage
cmd=$1
dir=$2

log() { printf '[gitservers %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # port name pidfile
  local i
  for i in $(seq 1 100); do
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=0.2).close()' "$1" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$3")" 2>/dev/null; then
      cat "$dir/logs/$2.log" >&2 || true
      die "$2 exited during startup (log above)"
    fi
    sleep 0.1
  done
  cat "$dir/logs/$2.log" >&2 || true
  die "$2 did not listen on port $1 within 10s"
}

stop() {
  [[ -d $dir/pids ]] || return 0
  local f pid
  for f in "$dir"/pids/*.pid; do
    [[ -e $f ]] || continue
    pid=$(cat "$f")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

write_http_front() {
  cat >"$dir/http_front.py" <<'PY'
"""Smart-HTTP front for `git http-backend` with /public, /basic and /bearer prefixes."""
import base64
import http.server
import os
import subprocess
import sys

root, port, user, password, token = sys.argv[1:6]
tls = sys.argv[6:8]  # optional: certificate and key files for HTTPS
basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
bearer = f"Bearer {token}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))
        sys.stderr.flush()

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_git(self):
        path, _, query = self.path.partition("?")
        parts = path.split("/", 2)
        if len(parts) < 3 or parts[1] not in ("public", "basic", "bearer"):
            return self.reply(404, b"not found\n")
        mode, rest = parts[1], "/" + parts[2]
        auth = self.headers.get("Authorization", "")
        if mode == "basic" and auth != basic:
            self.read_body()
            return self.reply(401, b"unauthorized\n", [("WWW-Authenticate", 'Basic realm="git"')])
        if mode == "bearer" and auth != bearer:
            self.read_body()
            return self.reply(401, b"unauthorized\n", [("WWW-Authenticate", 'Bearer realm="git"')])
        body = self.read_body()
        env = dict(os.environ)
        env.update(
            GIT_PROJECT_ROOT=root,
            GIT_HTTP_EXPORT_ALL="1",
            PATH_INFO=rest,
            QUERY_STRING=query,
            REQUEST_METHOD=self.command,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_ADDR="127.0.0.1",
            REMOTE_USER=user if mode != "public" else "",
            GATEWAY_INTERFACE="CGI/1.1",
            SERVER_PROTOCOL="HTTP/1.1",
        )
        if self.headers.get("Git-Protocol"):
            env["HTTP_GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        out = proc.stdout
        sep = out.find(b"\r\n\r\n")
        head, payload = (out[:sep], out[sep + 4:]) if sep >= 0 else out.partition(b"\n\n")[::2]
        status, headers = 200, []
        for line in head.split(b"\n"):
            line = line.strip(b"\r")
            if not line or b":" not in line:
                continue
            k, v = line.split(b":", 1)
            k, v = k.decode().strip(), v.decode().strip()
            if k.lower() == "status":
                status = int(v.split()[0])
            else:
                headers.append((k, v))
        if proc.returncode != 0 and not out:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
            return self.reply(500, b"git http-backend failed\n")
        self.reply(status, payload, headers)

    do_GET = handle_git
    do_POST = handle_git


http.server.ThreadingHTTPServer.daemon_threads = True
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
if tls:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls[0], tls[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
}

start() {
  command -v git >/dev/null || die "git is missing (run testenv/setup-debian.sh)"
  command -v python3 >/dev/null || die "python3 is missing (run testenv/setup-debian.sh)"
  [[ -x /usr/sbin/sshd ]] || die "/usr/sbin/sshd is missing (run testenv/setup-debian.sh)"
  command -v ssh-keygen >/dev/null || die "ssh-keygen is missing (run testenv/setup-debian.sh)"
  command -v openssl >/dev/null || die "openssl is missing (run testenv/setup-debian.sh)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stop
  mkdir -p "$dir/repos" "$dir/logs" "$dir/pids" "$dir/ssh"
  chmod 700 "$dir/ssh"

  # git daemon
  local daemon_port
  daemon_port=$(free_port)
  # git-daemon itself, not the `git daemon` wrapper: stop must kill the server, not its parent.
  "$(git --exec-path)/git-daemon" --reuseaddr --listen=127.0.0.1 --port="$daemon_port" --base-path="$dir/repos" \
    --export-all --informative-errors "$dir/repos" >"$dir/logs/git-daemon.log" 2>&1 &
  echo $! >"$dir/pids/git-daemon.pid"

  # smart HTTP
  local http_port user password token
  http_port=$(free_port)
  user=git-user
  password=pw-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  token=tok-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  write_http_front
  python3 "$dir/http_front.py" "$dir/repos" "$http_port" "$user" "$password" "$token" \
    >"$dir/logs/http.log" 2>&1 &
  echo $! >"$dir/pids/http.pid"

  # the same front over HTTPS, with a certificate from a CA of our own
  local https_port
  https_port=$(free_port)
  mkdir -p "$dir/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=keelson test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$dir/tls/ca.key" -out "$dir/tls/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/tls/server.key" -out "$dir/tls/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$dir/tls/ext.cnf"
  openssl x509 -req -in "$dir/tls/server.csr" -CA "$dir/tls/ca.crt" -CAkey "$dir/tls/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/tls/ext.cnf" -out "$dir/tls/server.crt" >/dev/null 2>&1
  python3 "$dir/http_front.py" "$dir/repos" "$https_port" "$user" "$password" "$token" \
    "$dir/tls/server.crt" "$dir/tls/server.key" >"$dir/logs/https.log" 2>&1 &
  echo $! >"$dir/pids/https.pid"

  # sshd
  local ssh_port ssh_user
  ssh_port=$(free_port)
  ssh_user=$(id -un)
  ssh-keygen -q -t ed25519 -N '' -C keelson-test-host -f "$dir/ssh/host_ed25519" <<<y >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C keelson-test-other-host -f "$dir/ssh/other_host_ed25519" <<<y >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C keelson-test-client -f "$dir/ssh/client_ed25519" <<<y >/dev/null
  cp "$dir/ssh/client_ed25519.pub" "$dir/ssh/authorized_keys"
  chmod 600 "$dir/ssh/authorized_keys"
  printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1,2 "$dir/ssh/host_ed25519.pub")" \
    >"$dir/ssh/known_hosts"
  printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1,2 "$dir/ssh/other_host_ed25519.pub")" \
    >"$dir/ssh/known_hosts_wrong"
  cat >"$dir/ssh/sshd_config" <<CFG
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $dir/ssh/host_ed25519
PidFile none
AuthorizedKeysFile $dir/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $ssh_user
StrictModes no
UsePAM no
PrintMotd no
LogLevel VERBOSE
CFG
  if [[ $(id -u) == 0 ]]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
  /usr/sbin/sshd -D -e -f "$dir/ssh/sshd_config" >"$dir/logs/sshd.log" 2>&1 &
  echo $! >"$dir/pids/sshd.pid"

  wait_port "$daemon_port" git-daemon "$dir/pids/git-daemon.pid"
  wait_port "$http_port" http "$dir/pids/http.pid"
  wait_port "$https_port" https "$dir/pids/https.pid"
  wait_port "$ssh_port" sshd "$dir/pids/sshd.pid"

  cat >"$dir/env" <<ENV
REPOS=$dir/repos
GIT_DAEMON_PORT=$daemon_port
HTTP_PORT=$http_port
HTTP_USER=$user
HTTP_PASSWORD=$password
HTTP_TOKEN=$token
HTTPS_PORT=$https_port
HTTPS_CA=$dir/tls/ca.crt
SSH_PORT=$ssh_port
SSH_USER=$ssh_user
SSH_IDENTITY=$dir/ssh/client_ed25519
SSH_KNOWN_HOSTS=$dir/ssh/known_hosts
SSH_KNOWN_HOSTS_WRONG=$dir/ssh/known_hosts_wrong
ENV
  log "git daemon :$daemon_port, http :$http_port, https :$https_port, sshd :$ssh_port (state in $dir)"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) cat "$dir/env" ;;
  *) usage ;;
esac
