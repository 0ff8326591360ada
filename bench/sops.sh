#!/usr/bin/env bash
# Benchmark: `keelson sops decrypt|encrypt` against the reference `sops` (same files, same age key).
# Prints hyperfine medians, the keelson/sops ratio and peak memory (/usr/bin/time -v).
# Usage: bench/sops.sh            (needs hyperfine; sops and age-keygen from testenv/build.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${KEELSON_TESTENV_BIN:-$("$root/testenv/build.sh" --print-bin)}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }
for t in sops age-keygen; do [[ -x "$bin/$t" ]] || { echo "$bin/$t missing: run testenv/build.sh" >&2; exit 2; }; done
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release -q -p keelson)
keelson="$target/release/keelson"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin/age-keygen" -o key.txt 2>/dev/null
recipient=$(sed -n 's/^# public key: //p' key.txt)
export SOPS_AGE_KEY_FILE="$work/key.txt"
corpus="$root/../shared/corpus"
# small: a Kubernetes Secret; large: the biggest chart values file of the corpus (~comments, lists).
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  user: admin\n  password: hunter2\n' > small.yaml
cp "$(ls -S "$corpus"/charts/*/values.yaml | head -1)" large.yaml
for f in small large; do "$bin/sops" -e --age "$recipient" $f.yaml > $f.enc.yaml; done

ratio() { # name, keelson cmd, sops cmd
  hyperfine -N -w 3 -r 30 --export-json "$1.json" -n keelson "$2" -n sops "$3" >/dev/null
  python3 - "$1" <<'PY'
import json, sys
name = sys.argv[1]
r = {x["command"]: x for x in json.load(open(name + ".json"))["results"]}
k, s = r["keelson"]["median"], r["sops"]["median"]
print(f"{name:16s} keelson {k*1000:7.2f} ms   sops {s*1000:7.2f} ms   ratio keelson/sops {k/s:5.2f}")
PY
}
echo "input: small $(wc -c < small.yaml) B, large $(wc -c < large.yaml) B ($(ls -S "$corpus"/charts/*/values.yaml | head -1 | sed "s#$corpus/##"))"
for f in small large; do
  ratio "decrypt-$f" "$keelson sops decrypt $f.enc.yaml" "$bin/sops -d $f.enc.yaml"
  ratio "encrypt-$f" "$keelson sops encrypt --age $recipient $f.yaml" "$bin/sops -e --age $recipient $f.yaml"
done
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'; }
echo "peak RSS decrypt-large: keelson $(rss "$keelson" sops decrypt large.enc.yaml) KiB, sops $(rss "$bin/sops" -d large.enc.yaml) KiB"
