#!/usr/bin/env bash
# The whole test suite, from a fresh machine or a warm one:
#   installs what the project needs (Debian packages), builds the control plane and the reference
#   tools (cached in ~/.cache/keelson), brings the local control plane up if it is not already, checks
#   formatting and lints, runs every test, and brings the control plane down again if it started it.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source testenv/lib.sh
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# CI clones afresh each run: keep Rust build products in the cache so a warm machine rebuilds
# only what changed.
if [[ "${CI:-}" == true && -z "${CARGO_TARGET_DIR:-}" ]]; then
  export CARGO_TARGET_DIR=$KEELSON_CACHE/cargo-target
fi
step() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

step "machine setup"
if [[ -x testenv/setup-debian.sh ]]; then testenv/setup-debian.sh; fi
command -v cargo >/dev/null || die "cargo is not installed (see README)"
command -v go >/dev/null || die "go is not installed (see README)"

step "building the control plane and reference tools (cached; the first build takes a while)"
testenv/build.sh
export KEELSON_TESTENV_BIN

step "starting the local control plane"
# With a real node where this machine can run one (root, writable cgroup v1): the in-cluster
# tests then must run, not skip. Elsewhere they skip and say why.
source testenv/realnode.sh
real_node=()
why_not=$(realnode_why_not)
if [[ -z "$why_not" ]]; then
  real_node=(--real-node)
  export KEELSON_REQUIRE_REAL_NODE=1
else
  log "no real node on this machine: $why_not (the in-cluster tests will skip)"
fi
started=false
if testenv/up.sh --check "${real_node[@]}"; then
  log "reusing the running control plane ($KEELSON_TESTENV_RUN/kubeconfig)"
elif ((${#real_node[@]})) && testenv/up.sh --check; then
  log "reusing the running control plane ($KEELSON_TESTENV_RUN/kubeconfig), which has no real node: the in-cluster tests will skip"
  unset KEELSON_REQUIRE_REAL_NODE
else
  testenv/up.sh "${real_node[@]}"
  started=true
fi
cleanup() {
  if $started; then testenv/down.sh; fi
}
trap cleanup EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace --no-fail-fast "$@"
