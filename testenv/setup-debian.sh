#!/usr/bin/env bash
# Installs the Debian packages keelson's tests and benchmarks need. Idempotent: when every package
# is already installed it does nothing (no `apt-get update`), so it is cheap to run before each CI
# run. Needs root (or sudo).
#
#   openssh-server  sshd for the ssh:// git source tests (testenv/gitservers.sh)
#   openssh-client  ssh, ssh-keygen, ssh-keyscan
#   git             git daemon / git http-backend for the git source tests
#   python3         the small smart-HTTP front for git http-backend (testenv/gitservers.sh)
#   openssl         a throw-away CA and server certificate for the HTTPS git server
#   hyperfine       benchmarks under bench/
#   time            /usr/bin/time -v for peak memory in benchmarks
set -euo pipefail

packages=(openssh-server openssh-client git python3 openssl hyperfine time ca-certificates)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "[setup-debian] all packages present: ${packages[*]}" >&2
  exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
echo "[setup-debian] installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# sshd is started by the tests themselves on a free loopback port; never as a system service.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  "${sudo[@]}" systemctl disable --now ssh.service >/dev/null 2>&1 || true
fi
echo "[setup-debian] done" >&2
