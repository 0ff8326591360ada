#!/usr/bin/env bash
# Builds keelson's container image on a machine without a container engine: the release binary,
# stripped of debug info (kept beside it as keelson.debug for symbolising crash reports), packed
# as an OCI image layout by scripts/oci-image.py (reproducible: the same commit gives the same
# digest). The Containerfile at the repository root builds the same content with an engine.
#
# Usage: scripts/image.sh [--out DIR] [--push HOST:PORT/REPO:TAG] [--binary PATH]
#   --out DIR      the OCI layout (default: target/image/keelson-<version>)
#   --push REF     also push it to a plain-HTTP registry (the test registry), e.g.
#                  127.0.0.1:5000/keelson/keelson:0.1.0
#   --binary PATH  use this release binary instead of building one
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="" push="" binary=""
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --push) push=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time: two builds of one commit get the same file times, so the same digest.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
target=${CARGO_TARGET_DIR:-$root/target}
if [[ -z "$binary" ]]; then
  cargo build --release -p keelson
  binary=$target/release/keelson
fi
[[ -x "$binary" ]] || { echo "image.sh: $binary is not an executable" >&2; exit 1; }
out=${out:-$target/image/keelson-$version}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# What users download carries no debug info; the debug info is kept beside the layout.
objcopy --only-keep-debug "$binary" "$work/keelson.debug"
objcopy --strip-all --add-gnu-debuglink="$work/keelson.debug" "$binary" "$work/keelson"
rm -rf "$out.tmp" && mkdir -p "$(dirname "$out")"
# git's ssh:// transport runs ssh: without it an ssh:// GitRepository cannot be fetched in a Pod.
ssh=$(command -v ssh) || { echo "image.sh: ssh is needed in the image (apt-get install openssh-client)" >&2; exit 1; }
args=(--binary "$work/keelson" --out "$out.tmp" --version "$version" --revision "$revision"
  --source "https://github.com/keelson/keelson" --extra "$ssh")
if [[ -n "$push" ]]; then args+=(--push "$push"); fi
python3 scripts/oci-image.py "${args[@]}"
cp "$work/keelson.debug" "$out.tmp/keelson.debug"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "image.sh: OCI layout in $out (binary $(stat -c %s "$work/keelson") bytes stripped, $(stat -c %s "$binary") before)" >&2
