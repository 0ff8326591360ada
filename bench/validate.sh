#!/usr/bin/env bash
# keelson validate vs the CI pipeline it replaces (kustomize build | kubeconform per
# kustomization, then gitleaks) on the largest corpus repository, timed with hyperfine in one
# run; prints both wall medians with the ratio (goal: keelson >= 5x faster), the mean CPU time
# (user + system, children included) and the peak RSS of each (/usr/bin/time -v, median of
# three runs; for the pipeline that is its largest single process, as the kernel reports the
# maximum over waited-for children, not their sum).
#
# usage: bench/validate.sh [--engine] [REPO]   (default REPO: the largest folder of
#        corpus/flux-repos)
#   default   measures `keelson validate` (cargo build --release -p keelson when missing)
#   --engine  measures the gate alone, the `validate` example of keelson-validate (same library
#             call and options as `keelson validate`, report as JSON): builds far fewer crates
#             than the whole CLI on a busy machine
# env:   KEELSON_BIN (the binary to measure, instead of building one), BENCH_PROFILE (release;
#        `debug` measures an unoptimized build: a lower bound of the ratio), CARGO_TARGET_DIR,
#        KEELSON_SHARED, BENCH_RUNS (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=cli
if [[ ${1:-} == --engine ]]; then mode=engine; shift; fi
shared=${KEELSON_SHARED:-$(cd .. && pwd)/shared}
bin=$(testenv/build.sh --print-bin)
export PATH="$bin:$PATH"
for tool in kustomize kubeconform gitleaks hyperfine; do
  command -v "$tool" >/dev/null || { echo "missing $tool (testenv/build.sh builds the first three)" >&2; exit 2; }
done
repo=${1:-$(du -s "$shared"/corpus/flux-repos/*/ | sort -n | tail -1 | cut -f2)}
profile=${BENCH_PROFILE:-release}
target=${CARGO_TARGET_DIR:-target}
flag=--release; [[ $profile == debug ]] && flag=
if [[ -n ${KEELSON_BIN:-} ]]; then
  gate="$KEELSON_BIN validate"
elif [[ $mode == cli ]]; then
  cargo build $flag -q -p keelson >&2
  gate="$target/$profile/keelson validate --output json"
else
  cargo build $flag -q -p keelson-validate --example validate >&2
  gate="$target/$profile/examples/validate"
fi
# `keelson schemas` writes kubeconform's schema files; without the CLI the differential test's
# library call does the same (schema::kubeconform_files).
keelson=${KEELSON_SCHEMAS_BIN:-$target/$profile/keelson}
runs=${BENCH_RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kubeconform gets the same Kubernetes 1.36 schemas keelson bundles, plus the repo's CRDs,
# as local files (it would otherwise download them).
openapi=$(go env GOMODCACHE)/k8s.io/kubernetes@$(grep '^KUBERNETES_VERSION=' testenv/versions.env | cut -d= -f2)/api/openapi-spec/v3
if [[ -x $keelson ]]; then
  "$keelson" schemas --from-dir "$openapi" --kubeconform-dir "$work/schemas" --crds-from "$repo" 2>/dev/null
else
  KEELSON_KUBECONFORM_DIR="$work/schemas" KEELSON_CRDS_FROM="$repo" \
    cargo test $flag -q -p keelson-validate --test differential write_kubeconform_schemas -- --ignored >/dev/null
fi

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

# Peak RSS in KiB: the median of three runs.
rss() {
  for _ in 1 2 3; do
    /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
  done | sort -n | sed -n 2p
}

echo "repository: $repo ($(find "$repo" -type f | wc -l) files, $(find "$repo" \( -name kustomization.yaml -o -name kustomization.yml \) | wc -l) kustomizations)"
echo "gate: $gate ($profile)   tools: $(kustomize version) kubeconform $(kubeconform -v) gitleaks $(gitleaks version)   $(nproc) CPUs, load average$(uptime | sed 's/.*load average://')"
hyperfine --warmup 2 --min-runs "$runs" --export-json "$work/result.json" \
  -n keelson "$gate $repo >/dev/null || true" \
  -n pipeline "$work/pipeline.sh" >/dev/null
krss=$(rss sh -c "$gate $repo >/dev/null || true")
prss=$(rss "$work/pipeline.sh")
python3 - "$work/result.json" "$krss" "$prss" <<'PY'
import json, sys
path, krss, prss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = {x["command"]: x for x in json.load(open(path))["results"]}
k, p = r["keelson"], r["pipeline"]
kc, pc = k["user"] + k["system"], p["user"] + p["system"]
print(f"wall (median)  keelson validate {k['median']*1000:8.1f} ms   kustomize+kubeconform+gitleaks {p['median']*1000:8.1f} ms   {p['median']/k['median']:5.1f}x faster (goal >= 5x)")
print(f"CPU (mean)     keelson validate {kc*1000:8.1f} ms   kustomize+kubeconform+gitleaks {pc*1000:8.1f} ms   {pc/kc:5.1f}x less")
print(f"peak RSS       keelson validate {krss/1024:8.1f} MiB  largest pipeline process        {prss/1024:8.1f} MiB  {prss/krss:5.1f}x less")
PY
