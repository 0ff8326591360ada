#!/usr/bin/env bash
# The newcomer's demo: builds keelson, brings the local control plane up, serves the example
# repository of examples/seed-004 (flux-system → infrastructure → apps, as in seed 004) from a local
# git daemon, starts the keelson controller and shows the Kustomizations becoming Ready and the
# workloads Available.
#
# Leaves the control plane running (stop it with testenv/down.sh); the controller and the git
# daemon stop when the demo ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source testenv/lib.sh
step() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [[ -x testenv/setup-debian.sh ]]; then testenv/setup-debian.sh; fi
step "building keelson"
cargo build --release -p keelson
keelson=$root/target/release/keelson
if [[ -n ${CARGO_TARGET_DIR:-} ]]; then keelson=$CARGO_TARGET_DIR/release/keelson; fi
step "building and starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
testenv/build.sh kubernetes kwok
testenv/up.sh
export KUBECONFIG=$KEELSON_TESTENV_RUN/kubeconfig
kubectl=$KEELSON_TESTENV_BIN/kubectl
"$keelson" version
"$kubectl" get nodes

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "serving examples/seed-004 from a local git daemon"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
url="git://127.0.0.1:$port/cloudlab.git"
git init -q --bare "$work/cloudlab.git"
cp -r examples/seed-004 "$work/checkout"
sed -i "s|\${GIT_URL}|$url|" "$work/checkout/kubernetes/flux-system/gotk-sync.yaml"
git -C "$work/checkout" init -q -b main
git -C "$work/checkout" add -A
git -C "$work/checkout" -c user.name=demo -c user.email=demo@example.com commit -q -m "cluster layout"
git -C "$work/checkout" push -q "$work/cloudlab.git" main
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --listen=127.0.0.1 --port="$port" --base-path="$work" "$work" \
  >"$work/git-daemon.log" 2>&1 &
pids+=($!)
echo "$url"
find "$work/checkout/kubernetes" -type f | sed "s|$work/checkout/||" | sort

step "installing keelson's CRDs and starting the controller (outside the cluster, as in the tests)"
"$keelson" crds | "$kubectl" apply --server-side -f - >/dev/null
"$kubectl" wait --for=condition=Established --timeout=60s \
  crd/gitrepositories.source.toolkit.fluxcd.io crd/kustomizations.kustomize.toolkit.fluxcd.io >/dev/null
storage_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
KEELSON_LOG=${KEELSON_LOG:-info} "$keelson" controller --kubeconfig "$KUBECONFIG" \
  --storage-path "$work/artifacts" --storage-addr "127.0.0.1:$storage_port" \
  --requeue-dependency-seconds 2 >"$work/controller.log" 2>&1 &
pids+=($!)

step "bootstrapping: the self-referencing GitRepository and Kustomization (what flux bootstrap applies)"
"$kubectl" create namespace flux-system --dry-run=client -o yaml | "$kubectl" apply --server-side -f - >/dev/null
"$kubectl" apply --server-side -f "$work/checkout/kubernetes/flux-system/gotk-sync.yaml"

step "waiting for flux-system → infrastructure → apps"
deadline=$((SECONDS + 180))
while :; do
  ready=$("$kubectl" get kustomizations -n flux-system \
    -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}' 2>/dev/null || true)
  printf '  %s\n' "${ready:-(none yet)}"
  if [[ $ready == *"apps=True"* && $ready == *"infrastructure=True"* && $ready == *"flux-system=True"* ]]; then break; fi
  if ((SECONDS > deadline)); then
    echo "the Kustomizations did not become Ready in time; controller log:" >&2
    "$keelson" logs --log-file "$work/controller.log" --tail 50 >&2
    exit 1
  fi
  sleep 3
done

step "sources and Kustomizations"
"$kubectl" get gitrepositories,kustomizations -n flux-system
step "the workloads (pods are faked by kwok)"
"$kubectl" get deployments,services -n ingress-nginx
"$kubectl" get deployments,services,configmaps -n podinfo
"$kubectl" wait --for=condition=Available --timeout=60s deployment --all -n podinfo
step "inventory of apps (Flux's format)"
"$kubectl" get kustomization apps -n flux-system -o jsonpath='{range .status.inventory.entries[*]}{.id}{"\n"}{end}'
step "what the controller logged about apps (its JSON log, read by keelson logs)"
"$keelson" logs --log-file "$work/controller.log" --kind Kustomization --name apps -n flux-system

printf '\nThe control plane keeps running: KUBECONFIG=%s\nStop it with: testenv/down.sh\n' "$KUBECONFIG"
