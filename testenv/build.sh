#!/usr/bin/env bash
# Builds the control plane and the reference tools from their pinned Go modules into
# ~/.cache/keelson/testenv/<hash>/bin. A warm rerun builds nothing.
# Usage: testenv/build.sh [--print-bin] [tool ...]   (tools as named in testenv/tools.txt; default all
#        but the ones marked optional there; `incluster` is the real node's in-cluster test client,
#        testenv/node/incluster.go, built only when named)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [[ "${1:-}" == --print-bin ]]; then echo "$KEELSON_TESTENV_BIN"; exit 0; fi
want=("$@")
command -v go >/dev/null || die "go is not installed (the test environment builds from Go modules)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$KEELSON_TESTENV_BIN"

# The directory of a module in the module cache, downloading it first: `go list -m -f {{.Dir}}`
# alone prints an empty line for a module that is not downloaded yet (a fresh GOMODCACHE).
module_dir() { # tool-name module
  local dir
  dir=$(cd "$testenv_dir/go/$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') \
    || die "downloading $2 failed"
  [[ -n "$dir" && -d "$dir" ]] || die "module $2 has no directory in the module cache after download"
  printf '%s\n' "$dir"
}

while read -r name module var pkgs; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  optional=false
  if [[ "$pkgs" == optional\ * ]]; then optional=true; pkgs=${pkgs#optional }; fi
  if ((${#want[@]})) && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  # An optional tool (the real node's kubelet) is built only when asked for by name.
  if ((${#want[@]} == 0)) && $optional; then continue; fi
  version=${!var}
  tooldir=$KEELSON_CACHE/testenv/tools/$name-$(tool_hash "$name")
  mkdir -p "$tooldir"
  missing=()
  for pair in $pkgs; do
    bin=${pair%%=*}
    [[ -x "$tooldir/$bin" ]] || missing+=("$pair")
    ln -sfn "$tooldir/$bin" "$KEELSON_TESTENV_BIN/$bin"
  done
  if [[ "$name" == kwok && ! -f "$tooldir/kwok-stages.yaml" ]]; then missing+=(stages); fi
  [[ "$name" == kwok ]] && ln -sfn "$tooldir/kwok-stages.yaml" "$KEELSON_TESTENV_BIN/kwok-stages.yaml"
  if ((${#missing[@]} == 0)); then continue; fi
  ldflags="-s -w"
  case "$name" in
    kubernetes | kubelet)
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
  modflags=()
  if [[ "$name" == flux ]]; then
    # The flux CLI embeds install manifests that its release process generates; they are not in
    # the module. Build from a copy of the module with an empty manifest set: `flux install` is
    # not used here, every other command works.
    src=$KEELSON_CACHE/testenv/src/flux-$version
    # A copy is complete only once renamed into place; an older keelson left half-made copies
    # (no go.mod) behind, so a copy without its main package is made again.
    if [[ ! -f "$src/cmd/flux/main.go" || ! -f "$src/cmd/flux/manifests/placeholder.yaml" ]]; then
      moddir=$(module_dir flux github.com/fluxcd/flux2/v2)
      rm -rf "$src" "$src.tmp" && mkdir -p "$(dirname "$src")"
      cp -r "$moddir" "$src.tmp" || die "copying $moddir failed"
      chmod -R u+w "$src.tmp"
      [[ -f "$src.tmp/cmd/flux/main.go" ]] || die "$moddir holds no cmd/flux/main.go"
      mkdir -p "$src.tmp/cmd/flux/manifests"
      echo "# placeholder: built without the release's install manifests" > "$src.tmp/cmd/flux/manifests/placeholder.yaml"
      mv "$src.tmp" "$src"
    fi
    (cd "$testenv_dir/go/flux" && sed '/^replace github.com\/fluxcd\/flux2/d' go.mod > "$src.mod.tmp" \
      && echo "replace github.com/fluxcd/flux2/v2 => $src" >> "$src.mod.tmp" && cp go.sum "$src.sum.tmp") \
      || die "writing the flux build's go.mod failed"
    mv "$src.sum.tmp" "$src.sum" && mv "$src.mod.tmp" "$src.mod"
    modflags=(-modfile "$src.mod")
  fi
  for pair in "${missing[@]}"; do
    [[ "$pair" == stages ]] && continue
    bin=${pair%%=*} pkg=${pair#*=}
    log "building $bin ($module $version) — the first build takes minutes"
    start=$SECONDS
    tmp="$tooldir/.$bin.tmp"
    (cd "$testenv_dir/go/$name" && go build -trimpath "${modflags[@]}" -ldflags "$ldflags" -o "$tmp" "$pkg") \
      || die "building $bin failed"
    mv "$tmp" "$tooldir/$bin"
    log "built $bin in $((SECONDS - start))s"
  done
  if [[ "$name" == kwok ]]; then
    # kwok needs Stage configurations to drive nodes and pods; take the ones its module ships
    # (fast node initialisation, lease heartbeats, fast pod lifecycle) from the module cache.
    src=$(module_dir kwok sigs.k8s.io/kwok)/kustomize/stage
    for stage in node/fast node/heartbeat-with-lease pod/fast; do
      [[ -d "$src/$stage" ]] || die "kwok's module has no stage folder $stage"
      for f in "$src/$stage"/*.yaml; do
        [[ "$(basename "$f")" == kustomization.yaml ]] && continue
        cat "$f"; echo "---"
      done
    done > "$tooldir/.kwok-stages.yaml.tmp"
    mv "$tooldir/.kwok-stages.yaml.tmp" "$tooldir/kwok-stages.yaml"
  fi
done < "$testenv_dir/tools.txt"

# The real node's in-cluster test client: our own source, standard library only, static.
if [[ " ${want[*]-} " == *" incluster "* ]]; then
  src=$testenv_dir/node/incluster.go
  tooldir=$KEELSON_CACHE/testenv/tools/incluster-$( (cat "$src"; go env GOVERSION) | sha256sum | cut -c1-16)
  mkdir -p "$tooldir"
  if [[ ! -x "$tooldir/incluster" ]]; then
    log "building incluster (testenv/node/incluster.go)"
    (cd "$tooldir" && CGO_ENABLED=0 GOFLAGS= go build -trimpath -ldflags "-s -w" -o .incluster.tmp "$src") \
      || die "building incluster failed"
    mv "$tooldir/.incluster.tmp" "$tooldir/incluster"
  fi
  ln -sfn "$tooldir/incluster" "$KEELSON_TESTENV_BIN/incluster"
fi
log "tools ready in $KEELSON_TESTENV_BIN"
