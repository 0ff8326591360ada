#!/usr/bin/env bash
# Builds the control plane and the reference tools from their pinned Go modules into
# ~/.cache/keelson/testenv/<hash>/bin. A warm rerun builds nothing.
# Usage: testenv/build.sh [--print-bin] [tool ...]   (tools as named in testenv/tools.txt; default all)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [[ "${1:-}" == --print-bin ]]; then echo "$KEELSON_TESTENV_BIN"; exit 0; fi
want=("$@")
command -v go >/dev/null || die "go is not installed (the test environment builds from Go modules)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$KEELSON_TESTENV_BIN"

while read -r name module var pkgs; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if ((${#want[@]})) && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  version=${!var}
  tooldir=$KEELSON_CACHE/testenv/tools/$name-$(tool_hash "$name")
  mkdir -p "$tooldir"
  missing=()
  for pair in $pkgs; do
    bin=${pair%%=*}
    [[ -x "$tooldir/$bin" ]] || missing+=("$pair")
    ln -sfn "$tooldir/$bin" "$KEELSON_TESTENV_BIN/$bin"
  done
  if ((${#missing[@]} == 0)); then continue; fi
  ldflags="-s -w"
  case "$name" in
    kubernetes)
      minor=$(echo "$version" | cut -d. -f2)
      ldflags+=" -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
      ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
      ;;
    flux) ldflags+=" -X main.VERSION=${version#v}" ;;
    helm) ldflags+=" -X helm.sh/helm/v4/internal/version.version=$version" ;;
    kustomize) ldflags+=" -X sigs.k8s.io/kustomize/api/provenance.version=$version" ;;
    kubeconform) ldflags+=" -X main.version=$version" ;;
    gitleaks) ldflags+=" -X github.com/zricethezav/gitleaks/v8/version.Version=$version" ;;
  esac
  for pair in "${missing[@]}"; do
    bin=${pair%%=*} pkg=${pair#*=}
    log "building $bin ($module $version) — the first build takes minutes"
    start=$SECONDS
    tmp="$tooldir/.$bin.tmp"
    (cd "$testenv_dir/go/$name" && go build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg") \
      || die "building $bin failed"
    mv "$tmp" "$tooldir/$bin"
    log "built $bin in $((SECONDS - start))s"
  done
done < "$testenv_dir/tools.txt"
log "tools ready in $KEELSON_TESTENV_BIN"
