#!/usr/bin/env bash
# Starts a real control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (fake nodes and pod lifecycle), all with TLS on free ports.
# Writes the admin kubeconfig to $KEELSON_TESTENV_RUN/kubeconfig (default
# ~/.cache/keelson/run/kubeconfig). Idempotent: if the recorded control plane answers, does nothing.
# Usage: testenv/up.sh [--nodes N] [--real-node] [--check]
#   --check      exit 0 if the control plane is up (/readyz, and every recorded process runs) and with
#                --real-node its real node Ready; 1 if not
#   --real-node  also a real node (kubelet, containerd, runc, CNI bridge) that runs pods for real;
#                needs root; see testenv/realnode.sh and testenv/node-check.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
nodes=${KEELSON_TESTENV_NODES:-3}
check=false
real_node=false
while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --check) check=true; shift ;;
    --real-node) real_node=true; shift ;;
    *) die "unknown argument $1" ;;
  esac
done

run=$KEELSON_TESTENV_RUN
kubeconfig=$run/kubeconfig

# ---------- already up? ----------
readyz() {
  curl -fsS --max-time 3 --cacert "$run/pki/ca.crt" --cert "$run/pki/admin.crt" --key "$run/pki/admin.key" \
    "$(cat "$run/server" 2>/dev/null)/readyz" >/dev/null 2>&1
}
if $real_node; then
  # shellcheck source=/dev/null
  source "$testenv_dir/realnode.sh"
fi
# Every process up.sh recorded still runs and is the program it started.
processes_ok() {
  local f
  for f in "$run"/pids/*.pid; do
    [[ -f "$f" ]] || continue
    pid_is "$(basename "$f" .pid)" || return 1
  done
}
if [[ -f "$run/server" && -f "$kubeconfig" ]] && readyz && processes_ok; then
  if $real_node && ! realnode_is_ready; then
    $check && exit 1
    die "the control plane in $run is up without a Ready real node (the apiserver needs flags for it):" \
      "run testenv/down.sh, then testenv/up.sh --real-node"
  fi
  $check || log "control plane already up: $kubeconfig"
  exit 0
fi
$check && exit 1
if [[ -d "$run/pids" ]]; then
  log "stale state in $run: stopping what is left of it"
  "$testenv_dir/down.sh" || true
fi

if $real_node; then
  realnode_preflight # one clear line and exit 1 when the node cannot run here
  "$testenv_dir/build.sh" kubernetes kwok kubelet registry incluster
else
  "$testenv_dir/build.sh" kubernetes kwok
fi
bin=$KEELSON_TESTENV_BIN
mkdir -p "$run"/{pki,pids,logs,etcd-data}

show_logs() {
  for f in "$run"/logs/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 40 "$f" >&2
  done
}
fail() { log "error: $*"; show_logs; "$testenv_dir/down.sh" >/dev/null 2>&1 || true; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# ---------- certificates ----------
pki=$run/pki
cert() { # name subject san(or "") ext(server|client|both)
  local name=$1 subj=$2 san=$3 usage=$4
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    case $usage in
      server) echo "extendedKeyUsage=serverAuth" ;;
      client) echo "extendedKeyUsage=clientAuth" ;;
      both) echo "extendedKeyUsage=serverAuth,clientAuth" ;;
    esac
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } > "$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}
if [[ ! -f "$pki/ca.crt" ]]; then
  log "generating CA, serving and client certificates, service-account keys"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 3650 \
    -subj "/CN=keelson-testenv-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  local_san="DNS:localhost,IP:127.0.0.1"
  cert etcd "/CN=etcd" "$local_san" both
  cert apiserver "/CN=kube-apiserver" \
    "$local_san,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" server
  cert apiserver-etcd-client "/CN=kube-apiserver-etcd-client" "" client
  cert admin "/O=system:masters/CN=keelson-admin" "" client
  cert controller-manager "/CN=system:kube-controller-manager" "" client
  cert scheduler "/CN=system:kube-scheduler" "" client
  cert kwok "/O=system:masters/CN=kwok" "" client
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
fi
# The real node's kubelet certificates (pods reach the apiserver at the kubernetes Service's
# 10.0.0.1, which the serving certificate above already names).
if $real_node; then realnode_certs; fi

etcd_port=$(free_port); etcd_peer_port=$(free_port); api_port=$(free_port)
kcm_port=$(free_port); sched_port=$(free_port); kwok_port=$(free_port)
server=https://127.0.0.1:$api_port

write_kubeconfig() { # file user
  local file=$1 user=$2
  cat > "$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: keelson-testenv
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki/$user.crt
    client-key: $pki/$user.key
contexts:
- name: keelson-testenv
  context:
    cluster: keelson-testenv
    user: $user
current-context: keelson-testenv
KC
}

start() { # name command...
  local name=$1; shift
  # setsid: each component leads its own process group, so down.sh can stop exactly it.
  setsid "$@" >"$run/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$run/pids/$name.pid"
}

# ---------- etcd ----------
log "starting etcd on 127.0.0.1:$etcd_port"
start etcd "$bin/etcd" --name keelson --data-dir "$run/etcd-data" \
  --listen-client-urls "https://127.0.0.1:$etcd_port" --advertise-client-urls "https://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "keelson=http://127.0.0.1:$etcd_peer_port" \
  --cert-file "$pki/etcd.crt" --key-file "$pki/etcd.key" --client-cert-auth --trusted-ca-file "$pki/ca.crt" \
  --listen-metrics-urls "" --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
for _ in $(seq 1 100); do
  curl -fsS --max-time 2 --cacert "$pki/ca.crt" --cert "$pki/apiserver-etcd-client.crt" --key "$pki/apiserver-etcd-client.key" \
    "https://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 && break
  kill -0 "$(cat "$run/pids/etcd.pid")" 2>/dev/null || fail "etcd exited"
  sleep 0.2
done

# ---------- kube-apiserver ----------
realnode_apiserver_flags=()
if $real_node; then realnode_apiserver_args; fi
log "starting kube-apiserver on $server"
start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers "https://127.0.0.1:$etcd_port" --etcd-cafile "$pki/ca.crt" \
  --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC --allow-privileged=true \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
  --profiling=false --v 1 ${realnode_apiserver_flags[@]+"${realnode_apiserver_flags[@]}"}
echo "$server" > "$run/server"
for i in $(seq 1 300); do
  readyz && break
  kill -0 "$(cat "$run/pids/kube-apiserver.pid")" 2>/dev/null || fail "kube-apiserver exited"
  ((i == 300)) && fail "kube-apiserver not ready after 60s"
  sleep 0.2
done
write_kubeconfig "$run/kubeconfig.tmp" admin
write_kubeconfig "$run/controller-manager.kubeconfig" controller-manager
write_kubeconfig "$run/scheduler.kubeconfig" scheduler
write_kubeconfig "$run/kwok.kubeconfig" kwok

# ---------- controllers ----------
log "starting kube-controller-manager, kube-scheduler and kwok"
start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig "$run/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$run/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$run/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials=true --cluster-name keelson-testenv \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --controllers '*' --profiling=false --v 1
start kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig "$run/scheduler.kubeconfig" \
  --authentication-kubeconfig "$run/scheduler.kubeconfig" \
  --authorization-kubeconfig "$run/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false --profiling=false --v 1
start kwok "$bin/kwok" --kubeconfig "$run/kwok.kubeconfig" --config "$bin/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --node-ip 10.0.0.1 --cidr 10.0.1.0/24 --node-lease-duration-seconds 40 \
  --server-address "127.0.0.1:$kwok_port"

# ---------- kwok nodes ----------
api() { # method path [body]
  curl -fsS --max-time 10 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    -X "$1" -H 'Content-Type: application/json' "$server$2" ${3:+--data "$3"}
}
log "creating $nodes kwok nodes"
for n in $(seq 0 $((nodes - 1))); do
  api POST /api/v1/nodes "$(cat <<NODE
{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-$n",
 "annotations":{"node.alpha.kubernetes.io/ttl":"0","kwok.x-k8s.io/node":"fake"},
 "labels":{"type":"kwok","kubernetes.io/hostname":"kwok-node-$n","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","topology.kubernetes.io/zone":"zone-$n"}},
 "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}
NODE
)" >/dev/null || fail "could not create node kwok-node-$n"
done
for i in $(seq 1 300); do
  ready=$(api GET /api/v1/nodes | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
print(sum(1 for n in items for c in n.get("status", {}).get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"))')
  [[ "$ready" -ge "$nodes" ]] && break
  for p in kube-controller-manager kube-scheduler kwok; do
    kill -0 "$(cat "$run/pids/$p.pid")" 2>/dev/null || fail "$p exited"
  done
  ((i == 300)) && fail "kwok nodes not Ready after 60s ($ready of $nodes)"
  sleep 0.2
done
# The default ServiceAccount must exist before pods can be admitted; wait for the controller.
for i in $(seq 1 300); do
  api GET /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1 && break
  ((i == 300)) && fail "the default ServiceAccount was never created"
  sleep 0.2
done
if $real_node; then realnode_start; fi
mv "$run/kubeconfig.tmp" "$kubeconfig"
if $real_node; then
  log "control plane up: $nodes kwok nodes and the real node $REAL_NODE_NAME Ready; KUBECONFIG=$kubeconfig"
else
  log "control plane up: $nodes nodes Ready; KUBECONFIG=$kubeconfig"
fi
