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
  f=$run/pids/$name.pid
  [[ -f "$f" ]] || continue
  pid=$(cat "$f")
  # Each component leads its own process group (setsid in up.sh); signal only that group, and only
  # if the pid still names the program we started (pids are reused).
  if pid_is "$name"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
done
if $keep_logs; then
  rm -rf "$run/etcd-data" "$run/pids" "$run/server" "$run/kubeconfig"
else
  rm -rf "$run"
fi
log "control plane stopped"
