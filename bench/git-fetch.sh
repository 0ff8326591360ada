#!/usr/bin/env bash
# Fetch time for a 5 000-file repository: keelson-source (gix, depth 1, checkout) beside
# `git clone --depth 1`, over git:// and smart HTTP on loopback, with hyperfine; peak memory with
# /usr/bin/time -v. Prints medians and ratios (keelson / git).
#
#   bench/git-fetch.sh [FILES]        (default 5000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
files=${1:-5000}
command -v hyperfine >/dev/null || { echo "hyperfine missing: run testenv/setup-debian.sh" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time missing: run testenv/setup-debian.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/keelson-bench-git.XXXXXX)
servers=$work/servers
cleanup() { "$root/testenv/gitservers.sh" stop "$servers" || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== building the fetch example (release)" >&2
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build -q --release -p keelson-source --example git-fetch --manifest-path "$root/Cargo.toml"
bin=$CARGO_TARGET_DIR/release/examples/git-fetch

echo "== starting loopback git servers" >&2
"$root/testenv/gitservers.sh" start "$servers"
# shellcheck source=/dev/null
source "$servers/env"

echo "== creating a repository with $files files and 20 commits of history" >&2
src=$work/src
git init -q -b main "$src"
python3 - "$src" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"apps/team-{i % 50:02d}/svc-{i % 7}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"res-{i:05d}.yaml"), "w") as f:
        f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: team-{i % 50}\n"
                f"data:\n  key: \"{'v' * (i % 200)}\"\n  index: \"{i}\"\n")
PY
g() { git -C "$src" -c user.name=bench -c user.email=bench@keelson.invalid "$@"; }
g add -A && g commit -q -m base
for c in $(seq 1 19); do
  for j in $(seq 0 24); do echo "# change $c" >>"$src/apps/team-$(printf %02d $((j * 2)))/svc-0/res-$(printf %05d $((j * 2 * 7 % files)))".yaml 2>/dev/null || true; done
  g add -A && g commit -q -m "change $c"
done
git init -q --bare "$REPOS/bench.git"
g push -q "$REPOS/bench.git" main
git -C "$REPOS/bench.git" symbolic-ref HEAD refs/heads/main
git -C "$REPOS/bench.git" gc -q

daemon=git://127.0.0.1:$GIT_DAEMON_PORT/bench.git
http=http://127.0.0.1:$HTTP_PORT/public/bench.git
out=$work/out

echo "== sanity: both fetch the same tree" >&2
"$bin" "$daemon" main "$out/k" >/dev/null
git clone -q --depth 1 -b main "$daemon" "$out/g"
diff -r -x .git "$out/k" "$out/g" >/dev/null || { echo "trees differ" >&2; exit 1; }
rm -rf "$out"

results=$work/results.json
for proto in daemon http; do
  url=${!proto}
  echo "== $proto: $url" >&2
  hyperfine --warmup 2 --runs 10 --export-json "$work/$proto.json" \
    --prepare "rm -rf $out" \
    -n "git clone --depth 1 ($proto)" "git clone -q --depth 1 --single-branch -b main $url $out" \
    -n "keelson fetch ($proto)" "$bin $url main $out" \
    -n "keelson fetch+artifact ($proto)" "$bin $url main $out $work/store" >&2
done

echo "== peak memory (max RSS, KiB)" >&2
rm -rf "$out"; git_rss=$( { /usr/bin/time -v git clone -q --depth 1 -b main "$daemon" "$out" >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rm -rf "$out"; k_rss=$( { /usr/bin/time -v "$bin" "$daemon" main "$out" >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')

python3 - "$work" "$git_rss" "$k_rss" "$files" <<'PY'
import json, sys
work, git_rss, k_rss, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"git fetch of a {files}-file repository (loopback), medians of 10 runs")
for proto in ("daemon", "http"):
    res = {r["command"]: r for r in json.load(open(f"{work}/{proto}.json"))["results"]}
    base = res[f"git clone --depth 1 ({proto})"]["median"]
    for name, r in res.items():
        print(f"  {name:36s} {r['median']*1000:8.1f} ms   ratio vs git {r['median']/base:5.2f}")
print(f"  peak RSS: git clone {git_rss} KiB, keelson fetch {k_rss} KiB (ratio {k_rss/git_rss:.2f})")
PY
