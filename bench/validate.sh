#!/usr/bin/env bash
# keelson validate vs the CI pipeline it replaces (kustomize build | kubeconform per
# kustomization, then gitleaks) on the largest corpus repository, timed with hyperfine in one
# run; prints both medians and the ratio (goal: keelson >= 5x faster).
#
# usage: bench/validate.sh [REPO]   (default: the largest folder of corpus/flux-repos)
# env:   KEELSON_BIN (default target/release/keelson, built if missing), KEELSON_SHARED
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${KEELSON_SHARED:-$(cd .. && pwd)/shared}
bin=$(testenv/build.sh --print-bin)
export PATH="$bin:$PATH"
for tool in kustomize kubeconform gitleaks hyperfine; do
  command -v "$tool" >/dev/null || { echo "missing $tool (testenv/build.sh builds the first three)" >&2; exit 2; }
done
repo=${1:-$(du -s "$shared"/corpus/flux-repos/*/ | sort -n | tail -1 | cut -f2)}
keelson=${KEELSON_BIN:-target/release/keelson}
if [[ ! -x $keelson ]]; then
  cargo build --release -p keelson >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kubeconform gets the same Kubernetes 1.36 schemas keelson bundles, plus the repo's CRDs,
# as local files (it would otherwise download them).
openapi=$(go env GOMODCACHE)/k8s.io/kubernetes@$(grep '^KUBERNETES_VERSION=' testenv/versions.env | cut -d= -f2)/api/openapi-spec/v3
"$keelson" schemas --from-dir "$openapi" --kubeconform-dir "$work/schemas" --crds-from "$repo" 2>/dev/null

cat >"$work/pipeline.sh" <<SCRIPT
#!/usr/bin/env bash
# What a Flux repository's CI runs: every kustomization built and validated, then gitleaks.
find "$repo" \( -name kustomization.yaml -o -name kustomization.yml \) -print0 | sort -z |
  while IFS= read -r -d '' k; do
    kustomize build --load-restrictor LoadRestrictionsNone "\$(dirname "\$k")" 2>/dev/null |
      kubeconform -ignore-missing-schemas -schema-location "$work/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" >/dev/null || true
  done
gitleaks dir --no-banner --exit-code 0 --log-level error "$repo" >/dev/null
SCRIPT
chmod +x "$work/pipeline.sh"

echo "repository: $repo ($(find "$repo" -type f | wc -l) files)"
hyperfine --warmup 2 --min-runs 10 --export-json "$work/result.json" \
  -n keelson "$keelson validate --output json $repo >/dev/null || true" \
  -n pipeline "$work/pipeline.sh"
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
k, p = r["keelson"]["median"], r["pipeline"]["median"]
print(f"median keelson validate: {k*1000:.1f} ms")
print(f"median kustomize+kubeconform+gitleaks: {p*1000:.1f} ms")
print(f"ratio: {p/k:.1f}x (goal >= 5x)")
PY
