#!/usr/bin/env bash
# Benchmark: `keelson build` against the reference `kustomize build` on the same directories.
# Prints, per input, the hyperfine medians (wall time) with the kustomize/keelson ratio, the mean
# CPU time (user + system) with its ratio, and both peak RSS (/usr/bin/time -v) with their ratio.
# Inputs: a small overlay (flux2-kustomize-helm-example apps/staging: one patched HelmRelease) and
# the largest corpus tree (flux-local-testdata cluster9 flux-system: ~470 KB of output, CRDs).
#
# Usage: bench/kustomize.sh [--engine]
#   default   measures the `keelson` binary (cargo build --release -p keelson)
#   --engine  measures `kbuild`, the engine alone (same library call and output as `keelson
#             build`, cargo build --release -p keelson-kustomize --bin kbuild): builds in seconds
#             where the whole CLI takes many minutes on a busy machine
# Environment: KEELSON_SHARED=/path/to/shared when the checkout is not beside it;
#   CARGO_TARGET_DIR as for cargo; KEELSON_TESTENV_BIN for the reference tools' directory;
#   BENCH_RUNS (default 20) runs per command.
# Needs hyperfine (installed with apt-get if missing) and kustomize from testenv/build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=cli
case "${1:-}" in
  --engine) mode=engine ;;
  "") ;;
  *) echo "usage: $0 [--engine]" >&2; exit 2 ;;
esac
bin=${KEELSON_TESTENV_BIN:-$("$root/testenv/build.sh" --print-bin)}
if ! command -v hyperfine >/dev/null; then
  echo "hyperfine missing: installing it with apt-get" >&2
  apt-get install -y hyperfine >/dev/null || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }
fi
[[ -x "$bin/kustomize" ]] || { echo "$bin/kustomize missing: run testenv/build.sh" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}
if [[ $mode == cli ]]; then
  (cd "$root" && cargo build --release -q -p keelson)
  keelson=("$target/release/keelson" build)
else
  (cd "$root" && cargo build --release -q -p keelson-kustomize --bin kbuild)
  keelson=("$target/release/kbuild")
fi
# The shared corpus: $KEELSON_SHARED (worktrees live apart from it), else beside the checkout.
corpus=$(cd "${KEELSON_SHARED:-$root/../shared}/corpus" && pwd)
small="$corpus/flux-repos/flux2-kustomize-helm-example/apps/staging"
large="$corpus/flux-repos/flux-local-testdata/tests/testdata/cluster9/clusters/dev/flux-system"
# keelson build reads nothing outside its root, by default the Git work tree around DIR; the
# corpus copies are no Git work trees, so the root is given: each input's repository folder.
small_root="$corpus/flux-repos/flux2-kustomize-helm-example"
large_root="$corpus/flux-repos/flux-local-testdata"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
flags="--load-restrictor LoadRestrictionsNone"
runs=${BENCH_RUNS:-20}

# Peak RSS in KiB: the median of three runs.
rss() {
  for _ in 1 2 3; do
    /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
  done | sort -n | sed -n 2p
}
echo "keelson: ${keelson[*]} ($mode)   kustomize: $("$bin/kustomize" version)   $(nproc) CPUs, load average$(uptime | sed 's/.*load average://')"
for name in small large; do
  dir=${!name}
  root_var=${name}_root
  kflags=$flags
  if [[ $mode == cli ]]; then kflags="$flags --root ${!root_var}"; fi
  hyperfine -N -w 3 -r "$runs" --export-json "$work/$name.json" \
    -n keelson "${keelson[*]} $kflags $dir" -n kustomize "$bin/kustomize build $flags $dir" >/dev/null
  krss=$(rss "${keelson[@]}" $kflags "$dir")
  zrss=$(rss "$bin/kustomize" build $flags "$dir")
  python3 - "$work/$name.json" "$name" "$krss" "$zrss" "${dir#"$corpus"/}" <<'PY'
import json, sys
path, name, krss, zrss, rel = sys.argv[1:]
r = {x["command"]: x for x in json.load(open(path))["results"]}
k, z = r["keelson"], r["kustomize"]
kc, zc = k["user"] + k["system"], z["user"] + z["system"]
print(f"{name:6s} {rel}")
print(f"       wall (median)  keelson {k['median']*1000:8.1f} ms   kustomize {z['median']*1000:8.1f} ms   {z['median']/k['median']:6.1f}x faster")
print(f"       CPU (mean)     keelson {kc*1000:8.1f} ms   kustomize {zc*1000:8.1f} ms   {zc/kc:6.1f}x less")
print(f"       peak RSS       keelson {int(krss)/1024:8.1f} MiB  kustomize {int(zrss)/1024:8.1f} MiB  {int(zrss)/int(krss):6.1f}x less")
PY
done
