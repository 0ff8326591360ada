#!/usr/bin/env bash
# Benchmark: `keelson build` against the reference `kustomize build` on the same directories.
# Prints hyperfine medians, the keelson/kustomize time ratio and both peak RSS (/usr/bin/time -v).
# Inputs: a small overlay (flux2-kustomize-helm-example apps/staging) and the largest corpus tree
# (flux-local-testdata cluster9 flux-system: ~470 KB of output, CRDs included).
# Usage: bench/kustomize.sh   (KEELSON_SHARED=/path/to/shared when the checkout is not beside it)
# Needs hyperfine (installed with `apt-get install -y hyperfine` if missing) and kustomize from
# testenv/build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${KEELSON_TESTENV_BIN:-$("$root/testenv/build.sh" --print-bin)}
if ! command -v hyperfine >/dev/null; then
  echo "hyperfine missing: installing it with apt-get" >&2
  apt-get install -y hyperfine >/dev/null || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }
fi
[[ -x "$bin/kustomize" ]] || { echo "$bin/kustomize missing: run testenv/build.sh" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release -q -p keelson)
keelson="$target/release/keelson"
# The shared corpus: $KEELSON_SHARED (worktrees live apart from it), else beside the checkout.
corpus=$(cd "${KEELSON_SHARED:-$root/../shared}/corpus" && pwd)
small="$corpus/flux-repos/flux2-kustomize-helm-example/apps/staging"
large="$corpus/flux-repos/flux-local-testdata/tests/testdata/cluster9/clusters/dev/flux-system"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
flags="--load-restrictor LoadRestrictionsNone"

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'; }
for name in small large; do
  dir=${!name}
  hyperfine -N -w 3 -r 20 --export-json "$work/$name.json" \
    -n keelson "$keelson build $flags $dir" -n kustomize "$bin/kustomize build $flags $dir" >/dev/null
  krss=$(rss "$keelson" build $flags "$dir")
  zrss=$(rss "$bin/kustomize" build $flags "$dir")
  python3 - "$work/$name.json" "$name" "$krss" "$zrss" "${dir#$corpus/}" <<'PY'
import json, sys
path, name, krss, zrss, rel = sys.argv[1:]
r = {x["command"]: x for x in json.load(open(path))["results"]}
k, z = r["keelson"]["median"], r["kustomize"]["median"]
print(f"{name:6s} {rel}")
print(f"       time  keelson {k*1000:8.2f} ms   kustomize {z*1000:8.2f} ms   kustomize/keelson {z/k:6.1f}x faster")
print(f"       RSS   keelson {int(krss)/1024:8.1f} MiB  kustomize {int(zrss)/1024:8.1f} MiB  kustomize/keelson {int(zrss)/int(krss):6.1f}x less")
PY
done
