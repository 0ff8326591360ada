#!/usr/bin/env bash
# Stops exactly the processes testenv/up.sh started (by their recorded pids) and removes the state.
# Usage: testenv/down.sh [--keep-logs]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
run=$KEELSON_TESTENV_RUN
keep_logs=false
[[ "${1:-}" == --keep-logs ]] && keep_logs=true
[[ -d "$run/pids" ]] || { log "nothing to stop"; exit 0; }
# The real node of `up.sh --real-node` first: its pods are stopped through the kubelet while the
# apiserver still answers.
# shellcheck source=/dev/null
source "$testenv_dir/realnode.sh"
realnode_stop
# Reverse start order: clients first, etcd last.
for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  stop_recorded "$name"
done
if $keep_logs; then
  rm -rf "$run/etcd-data" "$run/pids" "$run/server" "$run/kubeconfig"
else
  rm -rf "$run"
fi
log "control plane stopped"
