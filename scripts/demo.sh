#!/usr/bin/env bash
# The newcomer's demo: builds keelson, brings the local control plane up and shows it working.
# Leaves the control plane running; stop it with testenv/down.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source testenv/lib.sh
step() { printf '\n==> %s\n' "$*"; }

if [[ -x testenv/setup-debian.sh ]]; then testenv/setup-debian.sh; fi
step "building keelson"
cargo build --release -p keelson
step "building and starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
testenv/build.sh kubernetes kwok
testenv/up.sh
export KUBECONFIG=$KEELSON_TESTENV_RUN/kubeconfig
step "keelson"
target/release/keelson version
step "the cluster's nodes (kwok fakes the kubelets)"
"$KEELSON_TESTENV_BIN/kubectl" get nodes -o wide 2>/dev/null || kubectl get nodes -o wide
printf '\nThe control plane keeps running: KUBECONFIG=%s\nStop it with: testenv/down.sh\n' "$KUBECONFIG"
