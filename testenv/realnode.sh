# The optional real node of the test environment (`testenv/up.sh --real-node`): a kubelet with
# containerd and runc that runs pods for real, beside the kwok nodes that only fake them.
# Sourced by up.sh, down.sh and node-check.sh after lib.sh; not run on its own.
#
# What it is, all on this machine and nothing pulled from the internet:
#   - kubelet built from k8s.io/kubernetes (the control plane's version; tools.txt `kubelet`),
#     cgroupfs driver on this machine's cgroup v1 hierarchies (failCgroupV1: false), pods under
#     the cgroup /$REAL_NODE_CGROUP, its state under $KEELSON_TESTENV_RUN/node.
#   - containerd 1.6 and runc from Debian, with their own config, root, state and socket under
#     $KEELSON_TESTENV_RUN/node/containerd. HTTP(S)_PROXY point at a closed loopback port, so a pull
#     from the internet fails at once (ErrImagePull); the test registry below is pulled directly.
#   - a test registry (the CNCF distribution registry of build.sh) on 127.0.0.1:<free port>,
#     storage under the state dir; containerd pulls 127.0.0.1:<port> and localhost:<port> from it
#     over plain HTTP (hosts.toml). Its address is in $KEELSON_TESTENV_RUN/node/env (REGISTRY).
#   - pods on the CNI bridge $REAL_NODE_BRIDGE, $REAL_NODE_SUBNET, gateway $REAL_NODE_GW: no uplink,
#     no masquerading, no default route in pods; their only routes are the subnet and the Service
#     range, so a pod can talk only to this machine and to the other pods.
#   - in-cluster access without kube-proxy: the `kubernetes` Service's ClusterIP:443 (what the
#     kubelet puts in every pod as KUBERNETES_SERVICE_HOST/PORT) is DNATed, for packets coming in
#     on the bridge only, to the loopback apiserver (one iptables rule in the nat chain
#     $REAL_NODE_CHAIN, route_localnet on the bridge). So rest.InClusterConfig works unchanged in a
#     pod; the apiserver's serving certificate already names the ClusterIP. Other Services do not
#     route (there is no kube-proxy) and there is no cluster DNS.
#   - the kubelet serves on $REAL_NODE_GW (the node's InternalIP), so `kubectl logs`/`exec` work.
#   - images made here: $REAL_NODE_PAUSE_IMAGE (a static C pause, the sandbox image) and
#     $REAL_NODE_BUSYBOX_IMAGE (Debian's static busybox and testenv/node/incluster.go's client at
#     /bin/incluster), imported into containerd at start: use them with imagePullPolicy
#     IfNotPresent or Never. Other images: push them to the test registry.
#   - the node is tainted $REAL_NODE_TAINT=true:NoSchedule and labelled $REAL_NODE_LABEL=real, so
#     only pods that tolerate the taint land on it (the kwok nodes have no taint: every other pod
#     goes there); kwok manages only nodes annotated kwok.x-k8s.io/node=fake and leaves it alone.
# What it changes on the host, all recorded under the state dir and undone by realnode_stop: the
# bridge, the iptables chain, the sysctls below, the cgroup /$REAL_NODE_CGROUP, the host folders
# the kubelet and containerd create (/var/log/containers, /run/containerd, /var/lib/cni, ...),
# the pods' network namespaces. One real node per machine (one bridge, one cgroup root).

REAL_NODE_NAME=keelson-real-node
REAL_NODE_BRIDGE=keelson0
REAL_NODE_SUBNET=10.244.0.0/24
REAL_NODE_GW=10.244.0.1
REAL_NODE_SERVICE_RANGE=10.0.0.0/24 # up.sh's --service-cluster-ip-range
REAL_NODE_CGROUP=keelson-node
REAL_NODE_CHAIN=KEELSON-NODE
REAL_NODE_TAINT=keelson.dev/real-node
REAL_NODE_LABEL=keelson.dev/node
REAL_NODE_PAUSE_IMAGE=keelson.local/pause:1
REAL_NODE_BUSYBOX_IMAGE=keelson.local/busybox:1
# Host sysctls the kubelet sets when protectKernelDefaults is false (vm.overcommit_memory=1,
# kernel.panic=10, kernel.panic_on_oops=1, ...) and ip_forward, which the bridge plugin turns on
# for its gateway: saved before the node starts and put back by down.sh.
REAL_NODE_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward)
# Host folders the kubelet, containerd, its shims, the CNI plugins and mount(8) (libmount's
# /run/mount/utab) create wherever their state is configured; those missing before the start are
# recorded and removed by down.sh.
REAL_NODE_HOST_DIRS=(/var/log/containers /var/log/pods /run/containerd /var/lib/cni /run/netns
  /var/run/netns /var/lib/kubelet /run/runc /etc/cni /opt/cni /var/lib/containerd /run/mount)
# The Debian packages the node needs (testenv/setup-debian.sh --real-node installs them).
REAL_NODE_COMMANDS=(containerd ctr containerd-shim-runc-v2 runc ip iptables gcc strip findmnt)

realnode_dir() { echo "$KEELSON_TESTENV_RUN/node"; }

# The API as the admin, for the scripts here (no kubectl needed).
realnode_api() { # method path [body]
  local run=$KEELSON_TESTENV_RUN
  curl -fsS --max-time 10 --cacert "$run/pki/ca.crt" --cert "$run/pki/admin.crt" --key "$run/pki/admin.key" \
    -X "$1" -H 'Content-Type: application/json' "$(cat "$run/server")$2" ${3:+--data "$3"}
}

realnode_is_ready() {
  realnode_api GET "/api/v1/nodes/$REAL_NODE_NAME" 2>/dev/null | python3 -c '
import json, sys
node = json.load(sys.stdin)
sys.exit(0 if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", [])) else 1)' \
    2>/dev/null
}

# Why a real node cannot run on this machine, in one line; nothing when it can. Without
# `packages`, missing Debian packages are not a reason (up.sh installs them first).
realnode_why_not() { # [packages]
  [[ $(id -u) == 0 ]] || { echo "it needs root (kubelet, containerd, network namespaces, cgroups); this is uid $(id -u)"; return; }
  grep -q ' /sys/fs/cgroup/memory cgroup ' /proc/mounts \
    || { echo "there is no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (this setup is written for cgroup v1)"; return; }
  local probe=/sys/fs/cgroup/memory/keelson-probe-$$
  if ! mkdir "$probe" 2>/dev/null; then
    echo "/sys/fs/cgroup is not writable here (a container without cgroup delegation?)"; return
  fi
  rmdir "$probe"
  [[ -d /proc/sys/net/ipv4 && -w /proc/sys/net/ipv4/ip_forward ]] \
    || { echo "/proc/sys is read-only here (no network sysctls)"; return; }
  if [[ "${1:-}" == packages ]]; then
    local t
    for t in "${REAL_NODE_COMMANDS[@]}"; do
      command -v "$t" >/dev/null || { echo "$t is not installed (testenv/setup-debian.sh --real-node)"; return; }
    done
    for t in bridge host-local loopback; do
      [[ -x /usr/lib/cni/$t ]] || { echo "the CNI plugin /usr/lib/cni/$t is missing (Debian's containernetworking-plugins)"; return; }
    done
    [[ -x /bin/busybox ]] || { echo "/bin/busybox is missing (Debian's busybox-static)"; return; }
  fi
}

# ---------- before the control plane starts ----------
# One clear line and exit 1 when the node cannot start: not root, no cgroup access, packages that
# cannot be installed, another real node on this machine.
realnode_preflight() {
  local why
  why=$(realnode_why_not)
  [[ -z "$why" ]] || die "--real-node: $why"
  local setup_log=$KEELSON_CACHE/testenv/setup-debian-real-node.log
  mkdir -p "$(dirname "$setup_log")"
  "$testenv_dir/setup-debian.sh" --real-node > "$setup_log" 2>&1 \
    || die "--real-node: installing its Debian packages failed: $(tail -n 1 "$setup_log") (log: $setup_log)"
  why=$(realnode_why_not packages)
  [[ -z "$why" ]] || die "--real-node: $why"
  if ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1; then
    die "--real-node: bridge $REAL_NODE_BRIDGE already exists (owner: $(ip -o link show "$REAL_NODE_BRIDGE" | sed -n 's/.* alias \(.*\)$/\1/p')):" \
      "another real node runs on this machine; stop it with its KEELSON_TESTENV_RUN and testenv/down.sh"
  fi
}

# Certificates of the node (client for system:node:<name>, serving for its InternalIP) and the
# apiserver's client certificate towards kubelets. `cert` is up.sh's.
realnode_certs() {
  local pki=$KEELSON_TESTENV_RUN/pki
  [[ -f "$pki/kubelet.crt" ]] || cert kubelet "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" "" client
  [[ -f "$pki/kubelet-serving.crt" ]] \
    || cert kubelet-serving "/CN=$REAL_NODE_NAME" "DNS:$REAL_NODE_NAME,IP:$REAL_NODE_GW" server
  [[ -f "$pki/apiserver-kubelet-client.crt" ]] \
    || cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "" client
}

# Extra kube-apiserver flags: it talks to the kubelet (logs, exec) at the node's InternalIP only
# (never a host name: that would be a DNS lookup), verifying the kubelet's serving certificate.
realnode_apiserver_args() {
  local pki=$KEELSON_TESTENV_RUN/pki
  realnode_apiserver_flags=(--kubelet-client-certificate "$pki/apiserver-kubelet-client.crt"
    --kubelet-client-key "$pki/apiserver-kubelet-client.key"
    --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP)
}

# ---------- images ----------
# The busybox test image's arguments for scripts/oci-image.py: busybox with every applet as a link
# in /bin (so `sh -c 'wget ...'` finds them on PATH) and the in-cluster client. node-check.sh adds
# files to it for the image it pushes.
realnode_busybox_files() {
  local applet
  realnode_busybox_args=(--file /bin/busybox=/bin/busybox --file "$KEELSON_TESTENV_BIN/incluster=/bin/incluster"
    --entrypoint '["/bin/sh"]')
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || realnode_busybox_args+=(--link "/bin/$applet=busybox")
  done
}

# The two images as OCI archives, cached by the hash of what goes into them; made in a temp dir
# and renamed into place. Sets realnode_image_dir.
realnode_images() {
  local key dir tmp
  key=$( (cat "$testenv_dir/node/pause.c" "$testenv_dir/../scripts/oci-image.py"; sha256sum /bin/busybox
    sha256sum "$KEELSON_TESTENV_BIN/incluster"; gcc -dumpfullversion
    sed -n '/^realnode_images()/,/^}/p; /^realnode_busybox_files()/,/^}/p' "$testenv_dir/realnode.sh") | sha256sum | cut -c1-16)
  dir=$KEELSON_CACHE/testenv/node-images/$key
  if [[ ! -f "$dir/pause.tar" || ! -f "$dir/busybox.tar" ]]; then
    log "real node: building its images (pause, busybox) in $dir"
    tmp=$dir.tmp.$$
    rm -rf "$tmp" && mkdir -p "$tmp"
    img_fail() { rm -rf "$tmp"; fail "$@"; } # no half-made folder left in the cache
    gcc -static -Os -o "$tmp/pause.bin" "$testenv_dir/node/pause.c" || img_fail "compiling testenv/node/pause.c failed"
    strip "$tmp/pause.bin" || img_fail "strip $tmp/pause.bin failed"
    python3 "$testenv_dir/../scripts/oci-image.py" --out "$tmp/pause" --archive "$tmp/pause.tar" \
      --tag 1 --name "$REAL_NODE_PAUSE_IMAGE" --file "$tmp/pause.bin=/pause" --entrypoint '["/pause"]' >/dev/null \
      || img_fail "packing the pause image failed"
    realnode_busybox_files
    python3 "$testenv_dir/../scripts/oci-image.py" --out "$tmp/busybox" --archive "$tmp/busybox.tar" \
      --tag 1 --name "$REAL_NODE_BUSYBOX_IMAGE" "${realnode_busybox_args[@]}" >/dev/null \
      || img_fail "packing the busybox image failed"
    rm -rf "$tmp/pause.bin" "$tmp/pause" "$tmp/busybox"
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  realnode_image_dir=$dir
}

# A cgroup in every hierarchy; cpuset needs its cpus and mems filled in before it can hold a
# process or children.
realnode_cgroup_make() { # path below the hierarchies' roots
  local mnt fstype parent
  while read -r _ mnt fstype _; do
    [[ "$fstype" == cgroup || "$fstype" == cgroup2 ]] || continue
    mkdir -p "$mnt/$1" || fail "creating cgroup $mnt/$1 failed"
    if [[ -f "$mnt/$1/cpuset.cpus" && -z "$(tr -d '[:space:]' < "$mnt/$1/cpuset.cpus")" ]]; then
      parent=$(dirname "$mnt/$1")
      cat "$parent/cpuset.cpus" > "$mnt/$1/cpuset.cpus" || fail "filling $mnt/$1/cpuset.cpus failed"
      cat "$parent/cpuset.mems" > "$mnt/$1/cpuset.mems" || fail "filling $mnt/$1/cpuset.mems failed"
    fi
  done < /proc/mounts
}

# ---------- start (after the control plane is up) ----------
# Uses up.sh's start, fail, free_port, write_kubeconfig, $bin, $server, $api_port.
realnode_start() {
  local run=$KEELSON_TESTENV_RUN node pki i t0 key d
  node=$(realnode_dir) pki=$run/pki
  t0=$SECONDS
  mkdir -p "$node"/{containerd,cni/net.d,cni/ipam,kubelet,pod-logs,volume-plugins,registry}

  # What the node changes on the host, recorded before it changes it.
  if [[ ! -f "$node/sysctl.saved" ]]; then
    for key in "${REAL_NODE_SYSCTLS[@]}"; do
      echo "$key $(cat "/proc/sys/$key")"
    done > "$node/sysctl.saved.tmp" && mv "$node/sysctl.saved.tmp" "$node/sysctl.saved"
  fi
  for d in "${REAL_NODE_HOST_DIRS[@]}"; do
    [[ -e "$d" || -L "$d" ]] || echo "$d"
  done > "$node/host-dirs.created"
  ls /run/netns 2>/dev/null | sort > "$node/netns.before" || true

  # The bridge and its gateway address exist before anything binds to them. The alias records the
  # owner, so a second real node on this machine is refused with a pointer to the first.
  log "real node: bridge $REAL_NODE_BRIDGE $REAL_NODE_GW/${REAL_NODE_SUBNET#*/} (no uplink, no masquerading)"
  ip link add "$REAL_NODE_BRIDGE" type bridge || fail "creating bridge $REAL_NODE_BRIDGE failed"
  ip link set "$REAL_NODE_BRIDGE" alias "$run" || true
  ip addr add "$REAL_NODE_GW/${REAL_NODE_SUBNET#*/}" dev "$REAL_NODE_BRIDGE" || fail "addressing $REAL_NODE_BRIDGE failed"
  ip link set "$REAL_NODE_BRIDGE" up || fail "bringing $REAL_NODE_BRIDGE up failed"

  # In-cluster access: the kubernetes Service's ClusterIP:port, from the bridge, to the loopback
  # apiserver. route_localnet (on the bridge only; it goes with it) lets a packet from the bridge
  # be routed to 127.0.0.1 and its answer back.
  local svc svc_ip svc_port
  svc=$(realnode_api GET /api/v1/namespaces/default/services/kubernetes) || fail "reading the kubernetes Service failed"
  read -r svc_ip svc_port < <(python3 -c 'import json,sys; s=json.load(sys.stdin)["spec"]; print(s["clusterIP"], s["ports"][0]["port"])' <<< "$svc")
  echo 1 > "/proc/sys/net/ipv4/conf/$REAL_NODE_BRIDGE/route_localnet" || fail "setting route_localnet on $REAL_NODE_BRIDGE failed"
  # Each change is recorded (as the arguments that undo it) before the next; undone in reverse.
  : > "$node/iptables.added"
  iptables -w -t nat -N "$REAL_NODE_CHAIN" || fail "creating the iptables chain nat/$REAL_NODE_CHAIN failed"
  echo "-t nat -X $REAL_NODE_CHAIN" >> "$node/iptables.added"
  iptables -w -t nat -A "$REAL_NODE_CHAIN" -d "$svc_ip/32" -p tcp --dport "$svc_port" \
    -j DNAT --to-destination "127.0.0.1:$api_port" || fail "adding the DNAT rule failed"
  echo "-t nat -F $REAL_NODE_CHAIN" >> "$node/iptables.added"
  local jump=(PREROUTING -i "$REAL_NODE_BRIDGE" -m comment --comment keelson-testenv-real-node -j "$REAL_NODE_CHAIN")
  iptables -w -t nat -I "${jump[@]}" || fail "adding the PREROUTING jump to $REAL_NODE_CHAIN failed"
  echo "-t nat -D ${jump[*]}" >> "$node/iptables.added"

  # The node's cgroup, in every hierarchy (kubelet refuses a cgroupRoot that is missing in one):
  # the kubelet puts the pods under /$REAL_NODE_CGROUP/kubepods; containerd and so its shims go to
  # /$REAL_NODE_CGROUP/runtime, so down.sh finds every process of the node by its cgroup.
  realnode_cgroup_make "$REAL_NODE_CGROUP"
  realnode_cgroup_make "$REAL_NODE_CGROUP/runtime"

  # CNI: bridge with host-local addresses; routes: the subnet (implicit) and the Service range.
  cat > "$node/cni/net.d/10-keelson.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "keelson",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$REAL_NODE_BRIDGE",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$REAL_NODE_SUBNET", "gateway": "$REAL_NODE_GW"}]],
        "routes": [{"dst": "$REAL_NODE_SERVICE_RANGE"}],
        "dataDir": "$node/cni/ipam"
      }
    },
    {"type": "loopback"}
  ]
}
CNI

  # ---------- the test registry ----------
  local reg_port
  reg_port=$(free_port)
  cat > "$node/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $node/registry/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$reg_port
YAML
  log "real node: starting the test registry on 127.0.0.1:$reg_port"
  start registry "$bin/registry" serve "$node/registry/config.yml"

  # ---------- containerd ----------
  local ctrd=$node/containerd sock=$node/containerd/containerd.sock host
  for host in "127.0.0.1:$reg_port" "localhost:$reg_port"; do
    mkdir -p "$ctrd/certs.d/$host"
    cat > "$ctrd/certs.d/$host/hosts.toml" <<TOML
server = "http://$host"
[host."http://$host"]
  capabilities = ["pull", "resolve"]
TOML
  done
  cat > "$ctrd/config.toml" <<TOML
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REAL_NODE_PAUSE_IMAGE"
  disable_apparmor = true
  enable_selinux = false
  # root here lacks CAP_SYS_RESOURCE: never lower a process's oom_score_adj below its parent's
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
        Root = "$ctrd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$ctrd/certs.d"
TOML
  log "real node: starting containerd $(containerd --version | awk '{print $3}') (runc $(runc --version | awk 'NR==1{print $3}'))"
  start containerd env -u http_proxy -u https_proxy -u no_proxy -u NO_PROXY \
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 "$(command -v containerd)" --config "$ctrd/config.toml"
  # Into its cgroup before it starts any shim (that happens only once the kubelet asks for a pod).
  local mnt
  while read -r _ mnt fstype _; do
    [[ "$fstype" == cgroup || "$fstype" == cgroup2 ]] || continue
    cat "$run/pids/containerd.pid" > "$mnt/$REAL_NODE_CGROUP/runtime/cgroup.procs" \
      || fail "moving containerd into the cgroup $mnt/$REAL_NODE_CGROUP/runtime failed"
  done < /proc/mounts
  for i in $(seq 1 100); do
    ctr -a "$sock" version >/dev/null 2>&1 && break
    pid_is containerd || fail "containerd exited"
    ((i == 100)) && fail "containerd did not answer on $sock after 20s"
    sleep 0.2
  done
  realnode_images
  local image
  # One archive at a time; never `ctr images rm` a second name of an image afterwards: containerd
  # 1.6's CRI then forgets every name of it.
  for image in pause busybox; do
    ctr -a "$sock" -n k8s.io images import "$realnode_image_dir/$image.tar" >/dev/null \
      || fail "importing $realnode_image_dir/$image.tar into containerd failed"
  done
  for i in $(seq 1 50); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=0.2).close()' "$reg_port" 2>/dev/null && break
    pid_is registry || fail "the registry exited"
    ((i == 50)) && fail "the registry did not listen on 127.0.0.1:$reg_port after 10s"
    sleep 0.2
  done
  # NODE_GATEWAY: this machine's address on the bridge, where Pods reach servers a test runs
  # (bound to it); NODE_LABEL/NODE_TAINT: what a Pod needs to land on the node.
  printf 'REGISTRY=127.0.0.1:%s\nKUBERNETES_SERVICE_HOST=%s\nKUBERNETES_SERVICE_PORT=%s\nCONTAINERD_ADDRESS=%s\n' \
    "$reg_port" "$svc_ip" "$svc_port" "$sock" > "$node/env"
  printf 'NODE_NAME=%s\nNODE_GATEWAY=%s\nNODE_LABEL=%s\nNODE_TAINT=%s\n' \
    "$REAL_NODE_NAME" "$REAL_NODE_GW" "$REAL_NODE_LABEL" "$REAL_NODE_TAINT" >> "$node/env"

  # ---------- kubelet ----------
  local kport hport
  kport=$(free_port) hport=$(free_port)
  write_kubeconfig "$node/kubelet.kubeconfig" kubelet
  cat > "$node/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$REAL_NODE_CGROUP
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://$sock
address: $REAL_NODE_GW
port: $kport
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $hport
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $pki/ca.crt
authorization:
  mode: Webhook
registerNode: true
registerWithTaints:
- key: $REAL_NODE_TAINT
  value: "true"
  effect: NoSchedule
failSwapOn: false
protectKernelDefaults: false
makeIPTablesUtilChains: false
resolvConf: ""
clusterDomain: cluster.local
hairpinMode: none
podLogsDir: $node/pod-logs
volumePluginDir: $node/volume-plugins
maxPods: 20
serializeImagePulls: true
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
YAML
  log "real node: starting kubelet as node $REAL_NODE_NAME (InternalIP $REAL_NODE_GW:$kport)"
  start kubelet "$bin/kubelet" --config "$node/kubelet.yaml" --kubeconfig "$node/kubelet.kubeconfig" \
    --root-dir "$node/kubelet" --cert-dir "$node/kubelet/pki" --hostname-override "$REAL_NODE_NAME" \
    --node-ip "$REAL_NODE_GW" --node-labels "$REAL_NODE_LABEL=real" --v 1
  for i in $(seq 1 600); do
    realnode_is_ready && break
    for t in containerd kubelet registry; do
      pid_is "$t" || fail "$t exited"
    done
    ((i == 600)) && fail "node $REAL_NODE_NAME not Ready after 120s"
    sleep 0.2
  done
  log "real node: $REAL_NODE_NAME Ready $((SECONDS - t0))s after its start (pods: tolerate $REAL_NODE_TAINT," \
    "nodeSelector $REAL_NODE_LABEL=real; image $REAL_NODE_BUSYBOX_IMAGE or the registry 127.0.0.1:$reg_port)"
}

# Every process of the real node runs and is what was started (up.sh --check).
realnode_processes_ok() {
  local t
  for t in containerd kubelet registry; do
    pid_is "$t" || return 1
  done
}

# ---------- stop (down.sh) ----------
# Cordons and drains the node while the apiserver and the kubelet still run (the kubelet stops
# the pods, which tears their network down through CNI), then stops the kubelet, whatever
# containerd still runs, containerd, the registry; kills what is left in the node's cgroups
# (the shims, containers whose pods were not drained); removes the pods' network namespaces, veths, mounts
# under the state dir, the bridge, the iptables rules, the cgroups and the host folders it made;
# puts the saved sysctls back. Each step goes on when an earlier one failed.
realnode_stop() {
  local run=$KEELSON_TESTENV_RUN node sock kubectl
  node=$(realnode_dir) sock=$node/containerd/containerd.sock
  [[ -d "$node" ]] || return 0
  log "stopping the real node $REAL_NODE_NAME"
  local kc=$run/kubeconfig
  [[ -f "$kc" ]] || kc=$run/kubeconfig.tmp
  kubectl=("$KEELSON_TESTENV_BIN/kubectl" --kubeconfig "$kc" --cache-dir "$run/kubectl-cache" --request-timeout 10s)
  if [[ -f "$run/server" ]] && realnode_api GET /readyz >/dev/null 2>&1 && pid_is kubelet \
    && realnode_api GET "/api/v1/nodes/$REAL_NODE_NAME" >/dev/null 2>&1; then
    log "real node: cordon and drain $REAL_NODE_NAME"
    "${kubectl[@]}" drain "$REAL_NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force \
      --grace-period 1 --timeout 60s > "$run/logs/drain.log" 2>&1 \
      || log "draining $REAL_NODE_NAME failed (see $run/logs/drain.log); removing its containers directly"
  fi
  log "real node: stopping kubelet, containerd and its shims, the registry"
  stop_recorded kubelet 10
  if pid_is containerd; then
    local id
    for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 0.5
    for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_recorded containerd 10
  stop_recorded registry
  # The shims outlive containerd by design, and with them the containers: everything still in the
  # node's cgroups (containerd's shims are in its runtime cgroup, the containers under kubepods).
  local mnt procs roots=()
  while read -r _ mnt fstype _; do
    [[ "$fstype" == cgroup || "$fstype" == cgroup2 ]] && [[ -d "$mnt/$REAL_NODE_CGROUP" ]] && roots+=("$mnt/$REAL_NODE_CGROUP")
  done < /proc/mounts
  for _ in 1 2 3; do
    ((${#roots[@]})) || break
    procs=$(find "${roots[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u || true)
    [[ -n "$procs" ]] || break
    log "real node: killing processes left in its cgroups: $(tr '\n' ' ' <<< "$procs")"
    # shellcheck disable=SC2086
    kill -KILL $procs 2>/dev/null || true
    sleep 0.3
  done
  log "real node: removing what is left on the host (netns, mounts, veths, bridge, iptables, cgroups, folders, sysctls)"
  # Network namespaces of pods that the kubelet did not tear down: new since the start.
  local ns
  for ns in /run/netns/cni-*; do
    [[ -e "$ns" ]] || continue
    grep -qxF "$(basename "$ns")" "$node/netns.before" 2>/dev/null && continue
    umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null || true
    rm -f "$ns"
  done
  # Mounts under the state dir (container rootfs, projected volumes, shm), deepest first.
  local m
  findmnt -rn -o TARGET | awk -v r="$run/" 'index($0, r) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done
  # veths still on the bridge, then the bridge.
  local veth
  for veth in $(ip -o link show master "$REAL_NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$veth" 2>/dev/null || true
  done
  if grep -qF "alias $run" <<< "$(ip -o link show "$REAL_NODE_BRIDGE" 2>/dev/null)"; then
    ip link del "$REAL_NODE_BRIDGE" 2>/dev/null || log "could not remove the bridge $REAL_NODE_BRIDGE"
  fi
  if [[ -f "$node/iptables.added" ]]; then
    local rule
    tac "$node/iptables.added" | while read -ra rule; do
      iptables -w "${rule[@]}" 2>/dev/null || log "could not undo: iptables ${rule[*]}"
    done
  fi
  while read -r _ mnt fstype _; do
    [[ "$fstype" == cgroup || "$fstype" == cgroup2 ]] || continue
    [[ -d "$mnt/$REAL_NODE_CGROUP" ]] || continue
    find "$mnt/$REAL_NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null \
      || log "cgroup $mnt/$REAL_NODE_CGROUP not removed (processes left in it?)"
  done < /proc/mounts
  if [[ -f "$node/host-dirs.created" ]]; then
    local d
    while read -r d; do
      [[ -n "$d" ]] || continue
      grep -q "^$d/" <<< "$(findmnt -rn -o TARGET)" && { log "not removing $d: something is mounted in it"; continue; }
      rm -rf "$d"
    done < "$node/host-dirs.created"
  fi
  # The kubelet's links in /var/log/containers (kept if the folder was there before) point here.
  for m in /var/log/containers/*.log; do
    [[ -L "$m" && "$(readlink "$m")" == "$node/"* ]] && rm -f "$m"
  done
  if [[ -f "$node/sysctl.saved" ]]; then
    local key value
    while read -r key value; do
      [[ "$(cat "/proc/sys/$key")" == "$value" ]] || echo "$value" > "/proc/sys/$key" || log "could not restore $key"
    done < "$node/sysctl.saved"
  fi
  rm -rf "$node"
}
