#!/usr/bin/env bash
# Proves the real node of `testenv/up.sh --real-node` runs pods for real: creates a Pod of the
# locally built busybox image pinned to the real node, waits for it Running and then Succeeded,
# and reads its logs through the apiserver (apiserver -> kubelet). The pod prints a line, asks the
# apiserver's /healthz at the bridge's gateway address, and asks the apiserver who it is with its
# service-account token (a SelfSubjectReview), so the in-cluster path works end to end.
# Prints the times it measured; exits non-zero with the pod's state and the node's logs on failure.
# Usage: testenv/node-check.sh        (same KEELSON_TESTENV_RUN as up.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=/dev/null
source "$testenv_dir/realnode.sh"
run=$KEELSON_TESTENV_RUN
"$testenv_dir/up.sh" --real-node --check \
  || die "no Ready real node in $run: start it with testenv/up.sh --real-node (same KEELSON_TESTENV_RUN)"
kubectl=("$KEELSON_TESTENV_BIN/kubectl" --kubeconfig "$run/kubeconfig")
[[ -x "${kubectl[0]}" ]] || die "kubectl is not built (${kubectl[0]} missing): run testenv/build.sh kubernetes"
# shellcheck source=/dev/null
source "$run/node/apiserver-in-pods" # KUBERNETES_SERVICE_HOST/PORT as pods must use them here

# The node is the kubelet's, not kwok's: kwok leaves nodes without its annotation alone.
info=$("${kubectl[@]}" get node "$REAL_NODE_NAME" \
  -o 'jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion} {.metadata.annotations.kwok\.x-k8s\.io/node}')
read -r kubelet_version runtime_version kwok_annotation <<< "$info"
[[ -z "${kwok_annotation:-}" ]] || die "node $REAL_NODE_NAME carries kwok's annotation ($kwok_annotation): kwok would fake it"
[[ "$runtime_version" == containerd://* ]] || die "node $REAL_NODE_NAME reports runtime '$runtime_version', not containerd"
log "node $REAL_NODE_NAME: kubelet $kubelet_version, $runtime_version"

pod=node-check-$(date +%s)-$$
ns=default
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
dump() {
  log "state of pod $pod:"
  "${kubectl[@]}" -n "$ns" get pod "$pod" -o yaml >&2 || true
  "${kubectl[@]}" -n "$ns" get events --field-selector "involvedObject.name=$pod" >&2 || true
  for f in kubelet containerd; do
    echo "----- last lines of $run/logs/$f.log -----" >&2
    tail -n 30 "$run/logs/$f.log" >&2 || true
  done
}
cleanup() { "${kubectl[@]}" -n "$ns" delete pod "$pod" --ignore-not-found --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { log "error: $*"; dump; exit 1; }

# The script runs in the pod's own network namespace on the bridge; its only route is the bridge's
# subnet, so every address it talks to is this machine's.
script='sleep 2
echo "hi from $(hostname) on $NODE_NAME, pod IP $POD_IP"
healthz=$(wget -qO- --no-check-certificate "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/healthz") || exit 11
echo "healthz: $healthz"
token=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token) || exit 12
review=$(wget -qO- --no-check-certificate --header "Authorization: Bearer $token" --header "Content-Type: application/json" \
  --post-data "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}" \
  "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/apis/authentication.k8s.io/v1/selfsubjectreviews") || exit 13
case "$review" in *system:serviceaccount:default:default*) echo "token: system:serviceaccount:default:default" ;; *) echo "review: $review"; exit 14 ;; esac'

manifest=$(python3 - "$pod" "$REAL_NODE_BUSYBOX_IMAGE" "$REAL_NODE_LABEL" "$REAL_NODE_TAINT" \
  "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT" "$script" <<'PY'
import json, sys
pod, image, label, taint, host, port, script = sys.argv[1:]
print(json.dumps({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": pod, "labels": {"app": "keelson-node-check"}},
    "spec": {
        "restartPolicy": "Never",
        "nodeSelector": {label: "real"},
        "tolerations": [{"key": taint, "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 1,
        "containers": [{
            "name": "check", "image": image, "imagePullPolicy": "Never",
            "command": ["/bin/busybox", "sh", "-c", script],
            "env": [
                {"name": "KUBERNETES_SERVICE_HOST", "value": host},
                {"name": "KUBERNETES_SERVICE_PORT", "value": port},
                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ],
        }],
    },
}))
PY
)

phase() { "${kubectl[@]}" -n "$ns" get pod "$pod" -o 'jsonpath={.status.phase}' 2>/dev/null || true; }
log "creating pod $pod ($REAL_NODE_BUSYBOX_IMAGE) on $REAL_NODE_NAME"
t0=$(now)
"${kubectl[@]}" -n "$ns" create -f - <<< "$manifest" >/dev/null || fail "creating the pod failed"
t_running=""
for i in $(seq 1 600); do
  p=$(phase)
  if [[ -z "$t_running" && ( "$p" == Running || "$p" == Succeeded ) ]]; then
    t_running=$(now)
    log "pod $p $(elapsed "$t0" "$t_running")s after create"
  fi
  [[ "$p" == Succeeded ]] && break
  [[ "$p" == Failed ]] && fail "pod Failed"
  ((i == 600)) && fail "pod not Succeeded after 120s (phase ${p:-none})"
  sleep 0.2
done
t_done=$(now)
log "pod Succeeded $(elapsed "$t0" "$t_done")s after create"

node=$("${kubectl[@]}" -n "$ns" get pod "$pod" -o 'jsonpath={.spec.nodeName}')
ip=$("${kubectl[@]}" -n "$ns" get pod "$pod" -o 'jsonpath={.status.podIP}')
cid=$("${kubectl[@]}" -n "$ns" get pod "$pod" -o 'jsonpath={.status.containerStatuses[0].containerID}')
[[ "$node" == "$REAL_NODE_NAME" ]] || fail "pod ran on $node, not $REAL_NODE_NAME"
[[ "$cid" == containerd://* ]] || fail "container ID $cid is not containerd's (kwok fakes pods without a runtime)"
[[ "$ip" == "${REAL_NODE_GW%.*}".* ]] || fail "pod IP $ip is not on the bridge $REAL_NODE_SUBNET"

logs=$("${kubectl[@]}" -n "$ns" logs "$pod") || fail "kubectl logs failed (apiserver -> kubelet)"
printf '%s\n' "$logs" | sed 's/^/[pod] /' >&2
grep -q '^hi from ' <<< "$logs" || fail "the pod's log has no greeting"
grep -q '^healthz: ok$' <<< "$logs" || fail "the pod did not reach the apiserver's /healthz"
grep -q '^token: system:serviceaccount:default:default$' <<< "$logs" || fail "the pod's service-account token was not accepted"

"${kubectl[@]}" -n "$ns" delete pod "$pod" --wait=true --timeout=60s >/dev/null || fail "deleting the pod failed"
trap - EXIT
log "real node check passed: create -> Running $(elapsed "$t0" "$t_running")s, -> Succeeded $(elapsed "$t0" "$t_done")s;" \
  "pod IP $ip, $cid, logs read through the apiserver"
