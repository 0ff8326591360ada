#!/usr/bin/env bash
# Proves the real node of `testenv/up.sh --real-node` runs pods for real. Each check can fail and
# prints its duration; all run in a namespace of their own, deleted at the end (which waits for
# the kubelet to tear the pods down):
#   node          the node is the kubelet's (version = the apiserver's, runtime containerd), not kwok's
#   readiness     a pod becomes Ready through an HTTP readiness probe, not before the probe passes
#   logs          `kubectl logs` (apiserver -> kubelet -> containerd) shows the pod's output and
#                 the kubelet's probe requests
#   exec          `kubectl exec` runs a command in the container and returns its output
#   pod-to-pod    a second pod fetches a page from the first over the bridge
#   in-cluster    a pod's own client (testenv/node/incluster.go) reaches the apiserver as
#                 client-go's InClusterConfig does (KUBERNETES_SERVICE_HOST from the kubelet,
#                 ServiceAccount token, CA-verified TLS) and reads its Pod through a Role
#   deployment    a Deployment's pod, deleted, is recreated and becomes Ready again on the node
#   scheduling    the scheduler decides: a pod without the node's toleration stays Pending
#                 (untolerated taint), one with it and only an affinity against kwok nodes lands
#                 on the real node, a plain pod lands on a kwok node
#   registry-pull an image pushed to the test registry just now is pulled (imagePullPolicy Always)
#                 and its content is the one pushed
#   no-internet   an image from docker.io fails with ErrImagePull: nothing is pulled from outside
# On failure: the namespace's pods and events and the node's logs, exit 1.
# Usage: testenv/node-check.sh [--skip-unavailable]   (same KEELSON_TESTENV_RUN as up.sh)
#   --skip-unavailable           exit 0 with a printed reason when no real node can run or runs
#   KEELSON_NODE_CHECK_SKIP=why  skip and print why (a machine known to have no real node)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=/dev/null
source "$testenv_dir/realnode.sh"
skip_unavailable=false
while (($#)); do
  case "$1" in
    --skip-unavailable) skip_unavailable=true; shift ;;
    *) die "unknown argument $1" ;;
  esac
done
run=$KEELSON_TESTENV_RUN
skip() { log "node-check SKIPPED: $*"; exit 0; }
[[ -z "${KEELSON_NODE_CHECK_SKIP:-}" ]] || skip "$KEELSON_NODE_CHECK_SKIP (KEELSON_NODE_CHECK_SKIP)"
unavailable() { if $skip_unavailable; then skip "$*"; else die "$*"; fi; }
why=$(realnode_why_not packages)
[[ -z "$why" ]] || unavailable "no real node can run here: $why"
"$testenv_dir/up.sh" --real-node --check \
  || unavailable "no Ready real node in $run: start it with testenv/up.sh --real-node (same KEELSON_TESTENV_RUN)"
kubectl=("$KEELSON_TESTENV_BIN/kubectl" --kubeconfig "$run/kubeconfig" --cache-dir "$run/kubectl-cache")
[[ -x "${kubectl[0]}" ]] || die "kubectl is not built (${kubectl[0]} missing): run testenv/build.sh kubernetes"
# shellcheck source=/dev/null
source "$run/node/env" # REGISTRY, KUBERNETES_SERVICE_HOST/PORT, CONTAINERD_ADDRESS
k() { "${kubectl[@]}" -n "$ns" "$@"; }

ns=node-check-$(date +%s)-$$
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
work=$(mktemp -d)
dump() {
  log "state of namespace $ns:"
  k get pods -o wide >&2 || true
  k get events --sort-by .lastTimestamp >&2 || true
  for f in kubelet containerd; do
    echo "----- last lines of $run/logs/$f.log -----" >&2
    tail -n 25 "$run/logs/$f.log" >&2 || true
  done
}
cleanup() {
  rm -rf "$work"
  "${kubectl[@]}" delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { log "error: check $current: $*"; dump; exit 1; }

# ---------- the checks' objects ----------
real_node_placement='nodeSelector: {"'$REAL_NODE_LABEL'": "real"}
  tolerations: [{"key": "'$REAL_NODE_TAINT'", "operator": "Exists", "effect": "NoSchedule"}]'
# A pod of the busybox image on the real node: name, restartPolicy, command (a JSON list).
busybox_pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
  restartPolicy: $2
  terminationGracePeriodSeconds: 1
  $real_node_placement
  containers:
  - name: main
    image: $REAL_NODE_BUSYBOX_IMAGE
    imagePullPolicy: IfNotPresent
    command: $3
YAML
}
# The web server: index.html holds $token; /ready appears 3 s after the start, so the probe
# fails first and the pod becomes Ready only then.
token=keelson-node-check-$RANDOM$RANDOM
web_command='["/bin/sh", "-c", "mkdir -p /www; echo '$token' > /www/index.html; echo \"web: serving on $(hostname -i):8080\"; (sleep 3; echo ok > /www/ready) & exec httpd -f -vv -p 8080 -h /www"]'
web_probe='    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
      failureThreshold: 1'

field() { k get "$1" -o "jsonpath=$2"; }
wait_for() { # what timeout-seconds command... (until the command succeeds)
  local what=$1 timeout=$2 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not after ${timeout}s"
    sleep 0.2
  done
}
pod_ready() { [[ "$(field "pod/$1" '{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; }
pod_phase_is() { [[ "$(field "pod/$1" '{.status.phase}' 2>/dev/null)" == "$2" ]]; }

# ---------- checks ----------
check_node() {
  local info kubelet_version runtime kwok_annotation ip server_version
  info=$("${kubectl[@]}" get node "$REAL_NODE_NAME" -o 'jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion} {.status.addresses[?(@.type=="InternalIP")].address} {.metadata.annotations.kwok\.x-k8s\.io/node}') \
    || fail "reading node $REAL_NODE_NAME failed"
  read -r kubelet_version runtime ip kwok_annotation <<< "$info"
  server_version=$("${kubectl[@]}" version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
  [[ -z "${kwok_annotation:-}" ]] || fail "node $REAL_NODE_NAME carries kwok's annotation ($kwok_annotation): kwok would fake it"
  [[ "$kubelet_version" == "$server_version" ]] || fail "kubelet $kubelet_version, apiserver $server_version"
  [[ "$runtime" == containerd://1.6.* ]] || fail "runtime '$runtime', not containerd 1.6"
  [[ "$ip" == "$REAL_NODE_GW" ]] || fail "InternalIP $ip, not $REAL_NODE_GW"
  log "  node $REAL_NODE_NAME: kubelet $kubelet_version (apiserver $server_version), $runtime, InternalIP $ip"
}

check_readiness() {
  { busybox_pod web Never "$web_command"; echo "$web_probe"; } | k create -f - >/dev/null || fail "creating pod web failed"
  wait_for "pod web Ready" 60 pod_ready web
  local cid started ready gap
  cid=$(field pod/web '{.status.containerStatuses[0].containerID}')
  [[ "$cid" == containerd://* ]] || fail "container ID $cid is not containerd's"
  started=$(field pod/web '{.status.containerStatuses[0].state.running.startedAt}')
  ready=$(field pod/web '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
  gap=$(python3 -c 'import sys,datetime as d; f=lambda s: d.datetime.strptime(s,"%Y-%m-%dT%H:%M:%SZ"); print(int((f(sys.argv[2])-f(sys.argv[1])).total_seconds()))' "$started" "$ready")
  # /ready appears 3 s after the start: Ready earlier than ~2 s (whole seconds) means no probe gated it.
  ((gap >= 2)) || fail "pod web was Ready ${gap}s after its start, before /ready existed"
  log "  pod web Ready ${gap}s after its container started ($cid)"
}

check_logs() {
  local logs
  logs=$(k logs web) || fail "kubectl logs web failed (apiserver -> kubelet)"
  grep -q "^web: serving on ${REAL_NODE_GW%.*}\.[0-9]*:8080$" <<< "$logs" || fail "no greeting in the log of web:"$'\n'"$logs"
  grep -qE "^\[::ffff:$REAL_NODE_GW\]:[0-9]+: url:/ready$" <<< "$logs" \
    || fail "the kubelet's probe requests (from $REAL_NODE_GW) are not in the log of web:"$'\n'"$logs"
  log "  $(wc -l <<< "$logs") lines, the probe's requests from $REAL_NODE_GW among them"
}

check_exec() {
  local out
  out=$(k exec web -- sh -c 'echo "$((6 * 7)) $(hostname) $(cat /www/index.html)"') || fail "kubectl exec failed"
  [[ "$out" == "42 web $token" ]] || fail "kubectl exec printed '$out', not '42 web $token'"
  log "  kubectl exec web: $out"
}

check_pod_to_pod() {
  busybox_pod client Never '["/bin/sleep", "600"]' | k create -f - >/dev/null || fail "creating pod client failed"
  wait_for "pod client Ready" 60 pod_ready client
  local web_ip client_ip page
  web_ip=$(field pod/web '{.status.podIP}') client_ip=$(field pod/client '{.status.podIP}')
  [[ "$web_ip" == "${REAL_NODE_GW%.*}".* && "$client_ip" == "${REAL_NODE_GW%.*}".* && "$web_ip" != "$client_ip" ]] \
    || fail "pod IPs $web_ip and $client_ip are not two addresses of $REAL_NODE_SUBNET"
  page=$(k exec client -- timeout 10 wget -qO- "http://$web_ip:8080/index.html") || fail "client could not fetch http://$web_ip:8080/"
  [[ "$page" == "$token" ]] || fail "client got '$page' from web, not '$token'"
  grep -qF "[::ffff:$client_ip]:" <(k logs web | grep ': url:/index.html$') || fail "web's log has no request from $client_ip"
  log "  client $client_ip fetched http://$web_ip:8080/index.html over $REAL_NODE_BRIDGE"
}

check_in_cluster() {
  k create serviceaccount checker >/dev/null || fail "creating the ServiceAccount failed"
  k create role pod-reader --verb get --resource pods >/dev/null || fail "creating the Role failed"
  k create rolebinding checker --role pod-reader --serviceaccount "$ns:checker" >/dev/null || fail "creating the RoleBinding failed"
  busybox_pod incluster Never '["/bin/incluster"]' | sed 's/^  restartPolicy:/  serviceAccountName: checker\n  restartPolicy:/' \
    | k create -f - >/dev/null || fail "creating pod incluster failed"
  wait_for "pod incluster Succeeded" 60 eval '! pod_phase_is incluster Failed || fail "pod incluster Failed: $(k logs incluster 2>&1)"; pod_phase_is incluster Succeeded'
  local logs uid
  logs=$(k logs incluster) || fail "kubectl logs incluster failed"
  uid=$(field pod/incluster '{.metadata.uid}')
  grep -qxF "user=system:serviceaccount:$ns:checker" <<< "$logs" || fail "the apiserver did not see the pod's ServiceAccount:"$'\n'"$logs"
  grep -qxF "pod=incluster uid=$uid node=$REAL_NODE_NAME" <<< "$logs" || fail "the pod did not read itself:"$'\n'"$logs"
  log "  from the pod via $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT: $(tr '\n' ' ' <<< "$logs")"
}

check_deployment() {
  cat <<YAML | k create -f - >/dev/null || fail "creating the Deployment failed"
apiVersion: apps/v1
kind: Deployment
metadata: {name: dep}
spec:
  replicas: 1
  selector: {matchLabels: {app: dep}}
  template:
    metadata: {labels: {app: dep}}
    spec:
      terminationGracePeriodSeconds: 1
      $(sed 's/^  /      /' <<< "$real_node_placement")
      containers:
      - name: main
        image: $REAL_NODE_BUSYBOX_IMAGE
        imagePullPolicy: IfNotPresent
        command: ["/bin/sh", "-c", "mkdir -p /www && echo dep > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe:
          httpGet: {path: /index.html, port: 8080}
          periodSeconds: 1
YAML
  k rollout status deployment/dep --timeout 60s >/dev/null || fail "Deployment dep not available after 60s"
  local first second
  first=$(k get pod -l app=dep -o 'jsonpath={.items[0].metadata.name} {.items[0].metadata.uid}') # "name uid"
  k delete pod "${first% *}" --wait=false >/dev/null || fail "deleting pod ${first% *} failed"
  new_pod_ready() {
    second=$(k get pod -l app=dep -o 'jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.spec.nodeName} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null \
      | awk -v old="${first#* }" '$2 != old && $4 == "True" && !found {print $1, $2, $3; found = 1}')
    [[ -n "$second" ]]
  }
  wait_for "a new Ready pod of Deployment dep" 60 new_pod_ready
  [[ "${second##* }" == "$REAL_NODE_NAME" ]] || fail "the new pod runs on ${second##* }"
  log "  pod ${first% *} deleted; ${second%% *} recreated and Ready on $REAL_NODE_NAME"
}

check_scheduling() {
  busybox_pod refused Never '["/bin/true"]' | grep -v tolerations: | k create -f - >/dev/null || fail "creating pod refused failed"
  busybox_pod chosen Never '["/bin/sleep", "600"]' | grep -v nodeSelector: \
    | sed 's/^  tolerations:/  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: type, operator: NotIn, values: [kwok]}]}]}}}\n  tolerations:/' \
    | k create -f - >/dev/null || fail "creating pod chosen failed"
  cat <<YAML | k create -f - >/dev/null || fail "creating pod plain failed"
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  containers: [{name: main, image: $REAL_NODE_BUSYBOX_IMAGE}]
YAML
  unschedulable() {
    [[ "$(field pod/refused '{.status.conditions[?(@.type=="PodScheduled")].reason}' 2>/dev/null)" == Unschedulable ]]
  }
  wait_for "pod refused marked Unschedulable" 30 unschedulable
  local msg node
  msg=$(field pod/refused '{.status.conditions[?(@.type=="PodScheduled")].message}')
  [[ "$msg" == *"1 node(s) had untolerated taint"* ]] || fail "pod refused is unschedulable for another reason: $msg"
  [[ -z "$(field pod/refused '{.spec.nodeName}')" ]] || fail "pod refused was bound to a node"
  wait_for "pod chosen Ready" 60 pod_ready chosen
  node=$(field pod/chosen '{.spec.nodeName}')
  [[ "$node" == "$REAL_NODE_NAME" ]] || fail "pod chosen landed on $node"
  wait_for "pod plain bound" 30 eval '[[ -n "$(field pod/plain "{.spec.nodeName}")" ]]'
  node=$(field pod/plain '{.spec.nodeName}')
  [[ "$node" == kwok-node-* ]] || fail "pod plain (no toleration) landed on $node, not a kwok node"
  log "  refused: $msg"
  log "  chosen (toleration, affinity type NotIn [kwok]) on $REAL_NODE_NAME; plain on $node"
}

check_registry_pull() {
  local ref marker=pushed-$token-$(date +%s%N)
  ref=$REGISTRY/node-check/marker:$(date +%s)-$$
  echo "$marker" > "$work/marker"
  realnode_busybox_files
  python3 "$testenv_dir/../scripts/oci-image.py" --out "$work/marker-image" --tag marker \
    "${realnode_busybox_args[@]}" --file "$work/marker=/etc/keelson-check" --push "$ref" > "$work/push.log" 2>&1 \
    || { cat "$work/push.log" >&2; fail "building or pushing $ref failed"; }
  busybox_pod pulled Never '["/bin/cat", "/etc/keelson-check"]' | sed "s|image: $REAL_NODE_BUSYBOX_IMAGE|image: $ref|; s|imagePullPolicy: IfNotPresent|imagePullPolicy: Always|" \
    | k create -f - >/dev/null || fail "creating pod pulled failed"
  wait_for "pod pulled Succeeded" 60 eval '! pod_phase_is pulled Failed || fail "pod pulled Failed"; pod_phase_is pulled Succeeded'
  local out
  out=$(k logs pulled) || fail "kubectl logs pulled failed"
  [[ "$out" == "$marker" ]] || fail "the pulled image holds '$out', not the pushed '$marker'"
  grep -qF "Successfully pulled image \"$ref\"" <<< "$(k get events --field-selector involvedObject.name=pulled -o 'jsonpath={.items[*].message}')" \
    || fail "no 'Successfully pulled' event for $ref"
  log "  pushed and pulled $ref (its content: the marker written just now)"
}

check_no_internet() {
  local image=docker.io/library/busybox:1.36.1
  busybox_pod outside Never '["/bin/true"]' | sed "s|image: $REAL_NODE_BUSYBOX_IMAGE|image: $image|; s|imagePullPolicy: IfNotPresent|imagePullPolicy: Always|" \
    | k create -f - >/dev/null || fail "creating pod outside failed"
  local reason why
  outside_events() {
    k get events --field-selector involvedObject.name=outside -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}' 2>/dev/null
  }
  pull_failed() { # the kubelet's event, then the status it writes
    grep -qx 'Error: ErrImagePull' <<< "$(outside_events)" || return 1
    reason=$(field pod/outside '{.status.containerStatuses[0].state.waiting.reason}' 2>/dev/null)
    [[ "$reason" == ErrImagePull || "$reason" == ImagePullBackOff ]]
  }
  wait_for "ErrImagePull for $image (pod outside waits with '${reason:-}')" 60 pull_failed
  [[ "$(field pod/outside '{.status.phase}')" == Pending ]] || fail "pod outside is not Pending"
  why=$(sed -n '/^Failed to pull image/{s/.*failed to do request: //;p;q}' <<< "$(outside_events)")
  log "  $image: ErrImagePull ($why)"
}

# ---------- run ----------
"${kubectl[@]}" create namespace "$ns" >/dev/null || die "creating namespace $ns failed"
wait_for "the default ServiceAccount of $ns" 30 eval 'k get serviceaccount default >/dev/null 2>&1'
log "node-check on $REAL_NODE_NAME in namespace $ns"
results=()
t_all=$(now)
for current in node readiness logs exec pod-to-pod in-cluster deployment scheduling registry-pull no-internet; do
  t0=$(now)
  "check_${current//-/_}"
  d=$(elapsed "$t0")
  results+=("$(printf '%-14s %5ss' "$current" "$d")")
  log "ok   $current (${d}s)"
done
current=cleanup
t0=$(now)
"${kubectl[@]}" delete namespace "$ns" --wait=true --timeout=90s >/dev/null \
  || fail "namespace $ns not gone after 90s (the kubelet did not tear its pods down?)"
d=$(elapsed "$t0")
results+=("$(printf '%-14s %5ss' cleanup "$d")")
log "ok   cleanup: namespace deleted, the node's pods torn down (${d}s)"
trap - EXIT
rm -rf "$work"
log "node-check passed: ${#results[@]} checks in $(elapsed "$t_all")s"
printf '  %s\n' "${results[@]}" >&2
