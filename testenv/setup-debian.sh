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
#
# With --real-node it installs only what the real node of `testenv/up.sh --real-node` needs
# (up.sh runs it so; the default package set stays as it is):
#   containerd                   the container runtime (1.6: kubelet 1.36 still talks CRI v1 to it)
#   runc                         its OCI runtime (crun refuses this machine's hybrid cgroup layout)
#   containernetworking-plugins  the CNI bridge, host-local and loopback plugins
#   busybox-static               the one static binary of the test image
#   gcc libc6-dev                a static pause binary for the pod sandbox image
#   iproute2                     ip: the bridge and network namespaces
#   iptables                     the DNAT of the kubernetes Service's ClusterIP to the loopback apiserver
# The packages' own services are never started (containerd runs from up.sh with its own config).
set -euo pipefail

packages=(openssh-server openssh-client git python3 openssl hyperfine time ca-certificates)
real_node=false
if [[ "${1:-}" == --real-node ]]; then
  real_node=true
  packages=(containerd runc containernetworking-plugins busybox-static gcc libc6-dev iproute2 iptables)
elif (($#)); then
  echo "[setup-debian] unknown argument $1" >&2
  exit 2
fi

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
# The same for containerd: up.sh --real-node starts its own, with state under $KEELSON_TESTENV_RUN.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  if $real_node; then
    "${sudo[@]}" systemctl disable --now containerd.service >/dev/null 2>&1 || true
  else
    "${sudo[@]}" systemctl disable --now ssh.service >/dev/null 2>&1 || true
  fi
fi
echo "[setup-debian] done" >&2
