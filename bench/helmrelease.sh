#!/usr/bin/env bash
# Benchmark: installing and no-op reconciling a kube-prometheus-stack-sized release with keelson's
# HelmRelease reconciler against the real `helm upgrade --install`, on the same control plane
# (testenv/up.sh), in the same run.
#
# Chart: the corpus kube-prometheus-stack with its four subcharts packaged in (as bench/helm.sh),
# `helm package`d once; values: its defaults with the operator's admission webhooks off (their
# hook Jobs never complete under kwok, which runs no containers).
# keelson: crates/controller/examples/helmrelease_bench.rs — the HelmRelease reconciler in a
#   running process; per run: apply the HelmRelease → Ready with release v1 (install), then set
#   reconcile.fluxcd.io/requestedAt → handled and Ready (no-op reconcile: same chart and values,
#   no new release), then delete → uninstalled (not timed).
# helm: per run `helm upgrade --install` (install), the same command again (helm's way to
#   "reconcile" the same chart and values: it always makes a new release revision), then
#   `helm uninstall --wait` (not timed).
# Both wait for all resources to be ready (keelson: Flux's default; helm: --wait=watcher), or
# neither with --no-wait. One warm-up run each first (creates the CRDs, which stay).
# Usage: bench/helmrelease.sh [--runs N] [--no-wait] [--release]
#   --release: build the example with the release profile (slow on a 2-core machine); default:
#   the dev profile with keelson's own crates at opt-level 3 (dependencies stay at the
#   workspace's dev opt-level 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=5 no_wait="" profile=dev
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --no-wait) no_wait=--no-wait; shift ;;
    --release) profile=release; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${KEELSON_TESTENV_BIN:-$("$root/testenv/build.sh" --print-bin)}
[[ -x "$bin/helm" ]] || { echo "$bin/helm missing: run testenv/build.sh" >&2; exit 2; }
"$root/testenv/up.sh" --check || { echo "control plane down: run testenv/up.sh" >&2; exit 2; }
export KUBECONFIG=${KEELSON_KUBECONFIG:-${KEELSON_TESTENV_RUN:-$HOME/.cache/keelson/run}/kubeconfig}
target=${CARGO_TARGET_DIR:-$root/target}
if [[ $profile == release ]]; then
  (cd "$root" && cargo build --release -q --workspace --example helmrelease_bench)
  engine="$target/release/examples/helmrelease_bench"
else
  (cd "$root" && cargo build -q --config 'profile.dev.opt-level=3' --workspace --example helmrelease_bench)
  engine="$target/debug/examples/helmrelease_bench"
fi

charts=$(cd "${KEELSON_SHARED:-$root/../shared}/corpus/charts" && pwd)
work=$(mktemp -d)
suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
ns_k=bench-hr-keelson-$suffix ns_h=bench-hr-helm-$suffix
cleanup() {
  "$bin/kubectl" delete namespace "$ns_k" "$ns_h" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# the corpus chart carries its dependencies (vendored folders, MANIFEST.tsv)
kps="$charts/kube-prometheus-stack"
"$bin/helm" package "$kps" -d "$work" >/dev/null
tgz=$(ls "$work"/kube-prometheus-stack-*.tgz)
cat > "$work/values.yaml" <<'EOF'
prometheusOperator:
  admissionWebhooks:
    enabled: false
    patch:
      enabled: false
  tls:
    enabled: false
EOF
"$bin/kubectl" create namespace "$ns_k" >/dev/null
"$bin/kubectl" create namespace "$ns_h" >/dev/null
objects=$("$bin/helm" template kps "$tgz" -f "$work/values.yaml" -n "$ns_h" | grep -c '^kind:' || true)
echo "chart: $(basename "$tgz") ($(du -k "$tgz" | cut -f1) KiB packaged, $objects objects), runs: $runs (+1 warm-up), wait: $([[ -n $no_wait ]] && echo no || echo yes)"
echo "keelson binary: $engine ($profile profile)"

# keelson: one process, warm-up run included (dropped below).
"$engine" "$tgz" "$work/values.yaml" "$ns_k" "kps-k$suffix" $((runs + 1)) $no_wait > "$work/keelson.json"

# helm: the same sequence, timed around each command.
wait_flag="--wait=watcher"
[[ -n $no_wait ]] && wait_flag=""
python3 - "$bin/helm" "$tgz" "$work/values.yaml" "$ns_h" "kps-h$suffix" $((runs + 1)) "$wait_flag" > "$work/helm.json" <<'PY'
import json, subprocess, sys, time
helm, tgz, values, ns, name, runs, wait = sys.argv[1:8]
install, noop = [], []
def timed(args):
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start
cmd = [helm, "upgrade", "--install", name, tgz, "-f", values, "-n", ns, "--timeout", "10m"] + ([wait] if wait else [])
for i in range(int(runs)):
    install.append(timed(cmd))
    noop.append(timed(cmd))
    subprocess.run([helm, "uninstall", name, "-n", ns, "--wait"], check=True, stdout=subprocess.DEVNULL)
    print(f"helm run {i+1}: install {install[-1]:.2f}s, upgrade --install again {noop[-1]:.2f}s", file=sys.stderr)
print(json.dumps({"install": install, "noop": noop}))
PY

python3 - "$work/keelson.json" "$work/helm.json" <<'PY'
import json, statistics, sys
k = json.load(open(sys.argv[1])); h = json.load(open(sys.argv[2]))
def med(xs): return statistics.median(xs[1:])  # drop the warm-up run
for what, label in (("install", "install (apply → Ready)"), ("noop", "no-op reconcile")):
    km, hm = med(k[what]), med(h[what])
    runs_k = " ".join(f"{x:.2f}" for x in k[what][1:])
    runs_h = " ".join(f"{x:.2f}" for x in h[what][1:])
    print(f"{label:26s} keelson {km*1000:9.1f} ms   helm {hm*1000:9.1f} ms   helm/keelson {hm/km:6.2f}x")
    print(f"{'':26s} runs (s): keelson [{runs_k}]  helm [{runs_h}]")
PY
