#!/usr/bin/env bash
# The fresh-machine check: runs the README's two commands (scripts/demo.sh, then scripts/test.sh)
# with empty caches, as a new user's machine has them, and prints how long each stage took.
#
# Empty means: the Go module cache (GOMODCACHE), Go's build cache (GOCACHE), keelson's cache
# (KEELSON_CACHE: the built test environment, the control plane's state) and cargo's target
# directory. Cargo's registry (CARGO_HOME) may stay, as the issue that asked for this allows.
#
# Usage: scripts/fresh-check.sh [--root DIR] [--in-place] [--keep] [-- extra scripts/test.sh args]
#   --root DIR   put the empty caches under DIR (default: a new temporary folder, removed after
#                unless --keep)
#   --in-place   use the default cache locations instead (~/.cache/keelson, `go env GOMODCACHE`,
#                `go env GOCACHE`, ~/.cache/keelson/cargo-target as CI uses it) — refused unless
#                each is empty or absent; what is built stays there, warming the machine for CI
#   --keep       keep the --root folder afterwards
# Exit status: that of the first command that failed (0 when both passed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cache_root="" in_place=false keep=false
while (($#)); do
  case "$1" in
    --root) cache_root=$2; shift 2 ;;
    --in-place) in_place=true; shift ;;
    --keep) keep=true; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "fresh-check: unknown argument $1" >&2; exit 2 ;;
  esac
done

empty_or_absent() { [[ ! -e "$1" ]] || [[ -d "$1" && -z "$(ls -A "$1")" ]]; }

if $in_place; then
  gomod=$(go env GOMODCACHE) gocache=$(go env GOCACHE)
  kcache=${KEELSON_CACHE:-$HOME/.cache/keelson}
  target=$kcache/cargo-target
  for d in "$gomod" "$gocache" "$kcache"; do
    empty_or_absent "$d" || { echo "fresh-check: --in-place needs $d empty or absent" >&2; exit 2; }
  done
else
  if [[ -z "$cache_root" ]]; then cache_root=$(mktemp -d /tmp/keelson-fresh.XXXXXX); fi
  mkdir -p "$cache_root"
  empty_or_absent "$cache_root" || { echo "fresh-check: $cache_root is not empty" >&2; exit 2; }
  gomod=$cache_root/gomodcache gocache=$cache_root/gocache kcache=$cache_root/keelson
  target=$cache_root/cargo-target
fi
# A control plane of the caller's own must not be reused: the check starts from nothing.
export GOMODCACHE=$gomod GOCACHE=$gocache KEELSON_CACHE=$kcache CARGO_TARGET_DIR=$target
unset KEELSON_TESTENV_RUN KEELSON_TESTENV_BIN KUBECONFIG

log=$(mktemp /tmp/keelson-fresh-log.XXXXXX)
cleanup() {
  # Stop whatever control plane the check started (its state lives in the check's own cache).
  testenv/down.sh >/dev/null 2>&1 || true
  # Module caches are read-only by design; make them removable.
  if [[ -n "$cache_root" ]] && ! $keep; then chmod -R u+w "$cache_root" 2>/dev/null || true; rm -rf "$cache_root"; fi
}
trap cleanup EXIT

stamp() { date +%s; }
declare -a names=() secs=()
status=0
run_stage() { # name command...
  local name=$1 start rc
  shift
  printf '\n######## fresh-check: %s (%s)\n' "$name" "$(date +%H:%M:%S)" | tee -a "$log"
  start=$(stamp)
  set +e
  "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  set -e
  names+=("$name") secs+=($(($(stamp) - start)))
  if ((rc != 0)); then
    printf '######## fresh-check: %s FAILED (exit %d)\n' "$name" "$rc" | tee -a "$log"
    status=$rc
  fi
  return "$rc"
}

echo "fresh-check: caches GOMODCACHE=$GOMODCACHE GOCACHE=$GOCACHE KEELSON_CACHE=$KEELSON_CACHE CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
total_start=$(stamp)
if run_stage "scripts/demo.sh" bash scripts/demo.sh; then
  run_stage "testenv/down.sh (after the demo)" bash testenv/down.sh || true
  run_stage "scripts/test.sh" bash scripts/test.sh "$@" || true
fi

fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
printf '\n######## fresh-check summary (machine: %s cores)\n' "$(nproc)"
for i in "${!names[@]}"; do printf '  %-36s %s\n' "${names[$i]}" "$(fmt "${secs[$i]}")"; done
printf '  %-36s %s\n' "total" "$(fmt $(($(stamp) - total_start)))"
# The stages inside the two commands, as they logged them: each Go tool build and each step.
echo "  builds inside (as logged):"
grep -E '^\[testenv [0-9:]+\] built ' "$log" | sed 's/^/    /' || true
echo "  steps of scripts/test.sh (start times):"
grep -E '^==> \[[0-9:]+\]' "$log" | sed 's/^/    /' || true
grep -E '^test result:|passed|failed' "$log" | grep -E '^test result:' | awk '
  { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
  END { printf "  cargo test: %d passed, %d failed\n", p, f }' || true
echo "  full log: $log"
exit "$status"
