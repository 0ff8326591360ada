# Shared definitions for the test-environment scripts. Source it; do not run it.
# Paths (override by environment):
#   KEELSON_CACHE        ~/.cache/keelson            build cache root
#   KEELSON_TESTENV_RUN  ~/.cache/keelson/run        state of the running control plane
#                                                    (kubeconfig, certs, pids, logs)
testenv_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
source "$testenv_dir/versions.env"
KEELSON_CACHE=${KEELSON_CACHE:-$HOME/.cache/keelson}
KEELSON_TESTENV_RUN=${KEELSON_TESTENV_RUN:-$KEELSON_CACHE/run}

# Each tool is cached under a key made of its line in tools.txt and its go.mod/go.sum, so changing
# one pin rebuilds one tool (after changing build flags in build.sh, delete
# ~/.cache/keelson/testenv/tools). The bin directory, keyed by all pins together, holds symlinks to
# the tools' binaries.
tool_hash() { # tool name
  (cd "$testenv_dir" && grep -E "^$1[[:space:]]" tools.txt && cat "go/$1/go.mod" "go/$1/go.sum") \
    | sha256sum | cut -c1-16
}
testenv_hash() {
  (cd "$testenv_dir" && cat versions.env tools.txt go/*/go.mod go/*/go.sum) | sha256sum | cut -c1-16
}
KEELSON_TESTENV_BIN=${KEELSON_TESTENV_BIN:-$KEELSON_CACHE/testenv/$(testenv_hash)/bin}

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Whether the pid recorded as $KEELSON_TESTENV_RUN/pids/NAME.pid still runs the program NAME
# (pids are reused: a live pid alone proves nothing).
pid_is() { # name
  local f=$KEELSON_TESTENV_RUN/pids/$1.pid pid
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f")
  [[ -n "$pid" && "$(tr '\0' '\n' 2>/dev/null < "/proc/$pid/cmdline" | head -1)" == */"$1" ]]
}

# Stops what up.sh started as NAME: TERM to the process group the recorded pid leads (setsid in
# up.sh), only if the pid still names that program; KILL after SECONDS (default 5). Forgets the pid.
stop_recorded() { # name [seconds]
  local f=$KEELSON_TESTENV_RUN/pids/$1.pid pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  if pid_is "$1"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((${2:-5} * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
