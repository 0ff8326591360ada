#!/usr/bin/env bash
# Benchmark: `keelson helm template` against the reference `helm template` on the same charts.
# Prints hyperfine medians, the helm/keelson time ratio and both peak RSS (/usr/bin/time -v).
# Inputs: the largest corpus chart (kube-prometheus-stack with its four subcharts, ~7 MB, with
# the ingress-thanos-windows value set) and a small one (podinfo, defaults). The corpus copy of
# kube-prometheus-stack lacks its subcharts; they are added to a temporary copy as `helm package`d
# .tgz files, as the differential test does (crates/helm/tests/helm_template.rs).
# Usage: bench/helm.sh [--engine]   (--engine: the renderer alone, crates/helm/examples/render.rs)
# Needs hyperfine (installed with `apt-get install -y hyperfine` if missing) and helm from
# testenv/build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${KEELSON_TESTENV_BIN:-$("$root/testenv/build.sh" --print-bin)}
if ! command -v hyperfine >/dev/null; then
  echo "hyperfine missing: installing it with apt-get" >&2
  apt-get install -y hyperfine >/dev/null || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }
fi
[[ -x "$bin/helm" ]] || { echo "$bin/helm missing: run testenv/build.sh" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}
if [[ ${1:-} == --engine ]]; then
  # the renderer alone (crates/helm/examples/render.rs: load, render, print, with the same
  # release name, namespace and kube version), for when the full CLI release build is out of reach
  (cd "$root" && cargo build --release -q -p keelson-helm --example render)
  engine="$target/release/examples/render"
else
  (cd "$root" && cargo build --release -q -p keelson)
  engine=""
fi
keelson="$target/release/keelson"
charts=$(cd "$root/../shared/corpus/charts" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
common="--namespace corpus --kube-version 1.33.0"
# the corpus chart carries its dependencies (vendored folders, MANIFEST.tsv)
kps="$charts/kube-prometheus-stack"
large="$kps -f $charts/kube-prometheus-stack-values/ingress-thanos-windows.yaml"
small="$charts/podinfo"

label() { case $1 in large) echo "kube-prometheus-stack (5 vendored subcharts) -f ingress-thanos-windows.yaml";; *) echo "podinfo (defaults)";; esac; }
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'; }
for name in large small; do
  args="release ${!name} $common"
  if [[ -n $engine ]]; then
    # render.rs takes CHART [VALUES...]
    kcmd="$engine ${!name}"
    kcmd=${kcmd/ -f / }
  else
    kcmd="$keelson helm template $args"
  fi
  hyperfine -N -w 2 -r 10 --export-json "$work/$name.json" \
    -n keelson "$kcmd" -n helm "$bin/helm template $args" >/dev/null
  # shellcheck disable=SC2086
  krss=$(rss $kcmd)
  # shellcheck disable=SC2086
  hrss=$(rss "$bin/helm" template $args)
  python3 - "$work/$name.json" "$name" "$krss" "$hrss" "$(label $name)" <<'PY'
import json, sys
path, name, krss, hrss, rel = sys.argv[1:]
r = {x["command"]: x for x in json.load(open(path))["results"]}
k, h = r["keelson"]["median"], r["helm"]["median"]
print(f"{name:6s} {rel}")
print(f"       time  keelson {k*1000:8.2f} ms   helm {h*1000:8.2f} ms   helm/keelson {h/k:6.2f}x")
print(f"       RSS   keelson {int(krss)/1024:8.1f} MiB  helm {int(hrss)/1024:8.1f} MiB  helm/keelson {int(hrss)/int(krss):6.2f}x")
PY
done
