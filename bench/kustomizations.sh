#!/usr/bin/env bash
# Converge benchmark of the Kustomization reconciler on the local control plane:
# N Kustomizations (default 100) × M objects each (default 20: a Deployment, a Service, a
# ServiceAccount, a Role, a RoleBinding and ConfigMaps) from one GitRepository served by a local
# git daemon, all with wait: true and prune: true.
#
# For each run (RUNS, default 3) it starts `keelson controller` as a process, applies the
# GitRepository and the N Kustomizations into a fresh namespace and measures
#   converge   seconds from the apply until every Kustomization is Ready
#   noop       seconds for a forced reconcile of all N (requestedAt annotation) to finish
#   rss        the controller's peak resident memory (VmHWM), and its RSS once idle
# and prints the medians. Pods never run (kwok fakes them), so Deployments become Available as
# soon as the fake kubelet reports them.
#
#   bench/kustomizations.sh               # 100 × 20, 3 runs, release build
#   N=20 M=10 RUNS=1 bench/kustomizations.sh
#   PROFILE=dev bench/kustomizations.sh   # the debug build (dependencies at opt-level 1)
#   KEELSON_BIN=path/to/keelson bench/kustomizations.sh   # a binary already built
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source testenv/lib.sh
N=${N:-100}
M=${M:-20}
RUNS=${RUNS:-3}
((M >= 6)) || { echo "M must be at least 6" >&2; exit 2; }

PROFILE=${PROFILE:-release}
if [[ -n ${KEELSON_BIN:-} ]]; then
  keelson=$KEELSON_BIN # a binary built elsewhere (e.g. the test suite's debug build)
  PROFILE="given binary $KEELSON_BIN"
else
  cargo build --profile "$PROFILE" -q -p keelson
  profile_dir=$PROFILE
  [[ $PROFILE == dev ]] && profile_dir=debug
  keelson=${CARGO_TARGET_DIR:-$root/target}/$profile_dir/keelson
fi
testenv/build.sh kubernetes kwok >/dev/null
testenv/up.sh --check >/dev/null 2>&1 || testenv/up.sh
export KUBECONFIG=$KEELSON_TESTENV_RUN/kubeconfig
kubectl=$KEELSON_TESTENV_BIN/kubectl

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The repository: apps/app-<i>/ with M objects each.
repo=$work/checkout
mkdir -p "$repo"
for ((i = 1; i <= N; i++)); do
  d=$repo/apps/app-$i
  mkdir -p "$d"
  {
    cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-$i}}
  template:
    metadata: {labels: {app: app-$i}}
    spec:
      serviceAccountName: app-$i
      containers: [{name: app, image: "nginx:1.27", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: app-$i}
spec: {selector: {app: app-$i}, ports: [{port: 80}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app-$i}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: app-$i}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-$i}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: app-$i}
subjects: [{kind: ServiceAccount, name: app-$i}]
EOF
    for ((j = 1; j <= M - 5; j++)); do
      printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-%d-config-%d}\ndata: {key: "value-%d-%d"}\n' "$i" "$j" "$i" "$j"
    done
  } >"$d/objects.yaml"
  printf 'resources:\n- objects.yaml\n' >"$d/kustomization.yaml"
done
git init -q --bare "$work/repo.git"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit -q -m bench
git -C "$repo" push -q "$work/repo.git" main
port=$(free_port)
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --listen=127.0.0.1 --port="$port" --base-path="$work" "$work" >/dev/null 2>&1 &
pids+=($!)
url="git://127.0.0.1:$port/repo.git"

"$keelson" crds | "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
"$kubectl" wait --for=condition=Established --timeout=60s \
  crd/gitrepositories.source.toolkit.fluxcd.io crd/kustomizations.kustomize.toolkit.fluxcd.io >/dev/null

# Counts the Kustomizations of namespace $1 whose Ready condition is True and, if $2 is set,
# whose lastHandledReconcileAt is $2.
count_ready() {
  "$kubectl" get kustomizations -n "$1" -o json | python3 -c '
import json, sys
token = sys.argv[1]
n = 0
for k in json.load(sys.stdin)["items"]:
    s = k.get("status", {})
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", []))
    if ready and (not token or s.get("lastHandledReconcileAt") == token):
        n += 1
print(n)' "${2:-}"
}

wait_all() { # namespace token → seconds
  local start=$1 ns=$2 token=${3:-} n
  while :; do
    n=$(count_ready "$ns" "$token")
    ((n >= N)) && break
    if (($(date +%s) - start > 900)); then echo "timeout: $n/$N Ready" >&2; exit 1; fi
    sleep 0.5
  done
}

now() { date +%s.%N; }
results=()
for ((run = 1; run <= RUNS; run++)); do
  ns=bench-ks-$$-$run
  "$kubectl" create namespace "$ns" >/dev/null
  "$keelson" controller --kubeconfig "$KUBECONFIG" --namespace "$ns" \
    --storage-path "$work/artifacts-$run" --storage-addr "127.0.0.1:$(free_port)" \
    --requeue-dependency-seconds 5 >"$work/controller-$run.log" 2>&1 &
  cpid=$!
  pids+=("$cpid")
  {
    printf 'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: %s}\nspec: {url: "%s", interval: 10m, ref: {branch: main}}\n' "$ns" "$url"
    for ((i = 1; i <= N; i++)); do
      printf -- '---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app-%d, namespace: %s}\nspec: {interval: 10m, path: ./apps/app-%d, prune: true, wait: true, timeout: 5m, targetNamespace: %s, sourceRef: {kind: GitRepository, name: repo}}\n' "$i" "$ns" "$i" "$ns"
    done
  } >"$work/objects-$run.yaml"
  t0=$(now)
  "$kubectl" apply --server-side -f "$work/objects-$run.yaml" >/dev/null
  wait_all "$(date +%s)" "$ns"
  t1=$(now)
  converge=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
  sleep 5
  idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$cpid/status")
  token="bench-$run-$(date +%s%N)"
  t2=$(now)
  "$kubectl" annotate kustomizations --all -n "$ns" --overwrite "reconcile.fluxcd.io/requestedAt=$token" >/dev/null
  wait_all "$(date +%s)" "$ns" "$token"
  t3=$(now)
  noop=$(python3 -c "print(f'{$t3 - $t2:.2f}')")
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$cpid/status")
  printf 'run %d: converge %ss, no-op reconcile of all %ss, controller peak RSS %d MiB, idle RSS %d MiB\n' \
    "$run" "$converge" "$noop" $((peak / 1024)) $((idle_rss / 1024))
  results+=("$converge $noop $peak $idle_rss")
  kill "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
  # Remove the Kustomizations' finalizers' work quickly: delete the namespace in the background.
  # (kubectl patch has no --all: patch them by name.)
  "$kubectl" get kustomizations -n "$ns" -o name | xargs -r -n 50 "$kubectl" patch -n "$ns" \
    --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
  "$kubectl" delete namespace "$ns" --wait=false >/dev/null
done

printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
n, m = sys.argv[1], sys.argv[2]
med = lambda i: statistics.median(r[i] for r in rows)
print(f"\n{n} Kustomizations x {m} objects, median of {len(rows)} runs ({sys.argv[3]} build):")
print(f"  converge (apply -> all Ready)        {med(0):8.2f} s")
print(f"  forced no-op reconcile of all        {med(1):8.2f} s")
print(f"  keelson controller peak RSS (VmHWM)  {med(2)/1024:8.1f} MiB")
print(f"  keelson controller idle RSS          {med(3)/1024:8.1f} MiB")
' "$N" "$M" "$PROFILE"
