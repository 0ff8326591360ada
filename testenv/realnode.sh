# The optional real node of the test environment (`testenv/up.sh --real-node`): a kubelet with
# containerd and runc that runs pods for real, beside the kwok nodes that only fake them.
# Sourced by up.sh and down.sh after lib.sh; not run on its own.
#
# What it is, all on this machine and nothing pulled from anywhere:
#   - kubelet built from k8s.io/kubernetes (same version as the control plane; tools.txt `kubelet`),
#     cgroupfs driver on this machine's cgroup v1 hierarchies (failCgroupV1: false), under the
#     cgroup root /$REAL_NODE_CGROUP, its state under $KEELSON_TESTENV_RUN/node.
#   - containerd and runc from Debian (containerd 1.6 has no RuntimeConfig CRI call; kubelet 1.36
#     falls back to its own cgroupDriver, and logs that it does). Its own config, root, state and
#     socket under $KEELSON_TESTENV_RUN/node/containerd; a proxy variable pointing at a closed
#     loopback port, so a pull that should never happen fails here instead of going out.
#   - pods on the CNI bridge $REAL_NODE_BRIDGE, $REAL_NODE_SUBNET, gateway $REAL_NODE_GW on the
#     bridge: no uplink, no masquerading and no default route in pods, so a pod can reach only the
#     bridge's subnet. The apiserver is reached at $REAL_NODE_GW:<its port> (socat forwards it to
#     the loopback apiserver); the kubelet serves on $REAL_NODE_GW, which is the node's InternalIP.
#     Pods get KUBERNETES_SERVICE_HOST=10.0.0.1 from the kubernetes Service, which has no route
#     here (there is no kube-proxy): an in-cluster client in a pod must be given
#     KUBERNETES_SERVICE_HOST=$REAL_NODE_GW and KUBERNETES_SERVICE_PORT=<apiserver port> (see
#     $KEELSON_TESTENV_RUN/node/apiserver-in-pods).
#   - images built here: keelson.local/pause:1 (a static C pause, the sandbox image) and
#     keelson.local/busybox:1 (Debian's static busybox), imported into containerd at start.
#     Pods must use imagePullPolicy: Never or IfNotPresent.
#   - the node is tainted $REAL_NODE_TAINT=true:NoSchedule and labelled $REAL_NODE_LABEL=real, so
#     only pods that tolerate the taint land on it; kwok manages only nodes annotated
#     kwok.x-k8s.io/node=fake, so it leaves this one alone.
# Only one real node can run on a machine at a time (one bridge, one cgroup root).

REAL_NODE_NAME=keelson-real-node
REAL_NODE_BRIDGE=keelson0
REAL_NODE_SUBNET=10.244.0.0/24
REAL_NODE_GW=10.244.0.1
REAL_NODE_CGROUP=keelson-node
REAL_NODE_TAINT=keelson.dev/real-node
REAL_NODE_LABEL=keelson.dev/node
REAL_NODE_PAUSE_IMAGE=keelson.local/pause:1
REAL_NODE_BUSYBOX_IMAGE=keelson.local/busybox:1
# Host sysctls the kubelet sets when protectKernelDefaults is false (vm.overcommit_memory=1,
# kernel.panic=10, kernel.panic_on_oops=1, ...) and ip_forward, which the bridge plugin turns on
# for its gateway: saved before the node starts and put back by down.sh.
REAL_NODE_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward)

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

# ---------- before the control plane starts ----------
realnode_preflight() {
  [[ $(id -u) == 0 ]] || die "--real-node needs root (kubelet, containerd, network namespaces, cgroups)"
  local t
  for t in containerd ctr runc socat ip gcc findmnt; do
    command -v "$t" >/dev/null || die "--real-node: $t is not installed (testenv/setup-debian.sh --real-node installs it)"
  done
  for t in bridge host-local loopback; do
    [[ -x /usr/lib/cni/$t ]] || die "--real-node: CNI plugin /usr/lib/cni/$t is missing (Debian's containernetworking-plugins)"
  done
  [[ -x /bin/busybox ]] || die "--real-node: /bin/busybox is missing (Debian's busybox-static)"
  grep -q ' /sys/fs/cgroup/memory cgroup ' /proc/mounts \
    || die "--real-node: no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (this setup is written for cgroup v1)"
  if ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1; then
    die "--real-node: bridge $REAL_NODE_BRIDGE already exists (owner: $(ip -o link show "$REAL_NODE_BRIDGE" | sed -n 's/.*alias \(.*\)$/\1/p')):" \
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
# The two images as OCI archives, cached by the hash of what goes into them; made in a temp dir
# and renamed into place.
realnode_images() {
  local key dir tmp
  key=$( (cat "$testenv_dir/node/pause.c" "$testenv_dir/ociimage.py"; sha256sum /bin/busybox; gcc --version | head -1
    sed -n '/^realnode_images()/,/^}/p' "$testenv_dir/realnode.sh") | sha256sum | cut -c1-16)
  dir=$KEELSON_CACHE/testenv/node-images/$key
  if [[ ! -f "$dir/pause.tar" || ! -f "$dir/busybox.tar" ]]; then
    log "building the node's images (pause, busybox) in $dir"
    tmp=$dir.tmp.$$
    rm -rf "$tmp" && mkdir -p "$tmp"
    gcc -static -Os -o "$tmp/pause" "$testenv_dir/node/pause.c" || fail "compiling testenv/node/pause.c failed"
    strip "$tmp/pause" || fail "strip $tmp/pause failed"
    python3 "$testenv_dir/ociimage.py" "$tmp/pause.tar" "$REAL_NODE_PAUSE_IMAGE" \
      --file "$tmp/pause=/pause" --entrypoint '["/pause"]' >/dev/null || fail "packing the pause image failed"
    # Every applet as a link in /bin, so `sh -c 'wget ...'` finds them on PATH.
    local links=() applet
    for applet in $(/bin/busybox --list); do
      [[ "$applet" == busybox ]] || links+=(--link "/bin/$applet=busybox")
    done
    python3 "$testenv_dir/ociimage.py" "$tmp/busybox.tar" "$REAL_NODE_BUSYBOX_IMAGE" \
      --file /bin/busybox=/bin/busybox "${links[@]}" --entrypoint '["/bin/sh"]' >/dev/null \
      || fail "packing the busybox image failed"
    rm -f "$tmp/pause"
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  realnode_image_dir=$dir
}

# ---------- start (after the control plane is up) ----------
# Uses up.sh's start, fail, free_port, write_kubeconfig, $bin, $server, $api_port.
realnode_start() {
  local run=$KEELSON_TESTENV_RUN node pki i t0 key
  node=$(realnode_dir) pki=$run/pki
  t0=$SECONDS
  mkdir -p "$node"/{containerd,cni/net.d,cni/ipam,kubelet,pod-logs,volume-plugins}

  if [[ ! -f "$node/sysctl.saved" ]]; then
    for key in "${REAL_NODE_SYSCTLS[@]}"; do
      echo "$key $(cat "/proc/sys/$key")"
    done > "$node/sysctl.saved.tmp" && mv "$node/sysctl.saved.tmp" "$node/sysctl.saved"
  fi

  # The bridge and its gateway address exist before anything binds to them. The alias records the
  # owner, so a second real node on this machine is refused with a pointer to the first.
  log "real node: bridge $REAL_NODE_BRIDGE $REAL_NODE_GW/${REAL_NODE_SUBNET#*/} (no uplink, no masquerading)"
  ip link add "$REAL_NODE_BRIDGE" type bridge || fail "creating bridge $REAL_NODE_BRIDGE failed"
  ip link set "$REAL_NODE_BRIDGE" alias "$run" || true
  ip addr add "$REAL_NODE_GW/${REAL_NODE_SUBNET#*/}" dev "$REAL_NODE_BRIDGE" || fail "addressing $REAL_NODE_BRIDGE failed"
  ip link set "$REAL_NODE_BRIDGE" up || fail "bringing $REAL_NODE_BRIDGE up failed"

  # The cgroup root of the node's pods, in every hierarchy (kubelet refuses a cgroupRoot that is
  # missing in one); cpuset needs its cpus and mems filled in before children can be made.
  local mnt
  while read -r _ mnt fstype _; do
    [[ "$fstype" == cgroup || "$fstype" == cgroup2 ]] || continue
    mkdir -p "$mnt/$REAL_NODE_CGROUP" || fail "creating cgroup $mnt/$REAL_NODE_CGROUP failed"
    if [[ -f "$mnt/$REAL_NODE_CGROUP/cpuset.cpus" && -z "$(tr -d '[:space:]' < "$mnt/$REAL_NODE_CGROUP/cpuset.cpus")" ]]; then
      cat "$mnt/cpuset.cpus" > "$mnt/$REAL_NODE_CGROUP/cpuset.cpus" || fail "filling $mnt/$REAL_NODE_CGROUP/cpuset.cpus failed"
      cat "$mnt/cpuset.mems" > "$mnt/$REAL_NODE_CGROUP/cpuset.mems" || fail "filling $mnt/$REAL_NODE_CGROUP/cpuset.mems failed"
    fi
  done < /proc/mounts

  # CNI: bridge with host-local addresses and no routes but the subnet itself.
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
        "routes": [],
        "dataDir": "$node/cni/ipam"
      }
    },
    {"type": "loopback"}
  ]
}
CNI

  # ---------- containerd ----------
  local ctrd=$node/containerd sock=$node/containerd/containerd.sock
  cat > "$ctrd/config.toml" <<TOML
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REAL_NODE_PAUSE_IMAGE"
  disable_apparmor = true
  enable_selinux = false
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
TOML
  log "real node: starting containerd $(containerd --version | awk '{print $3}') (runc $(runc --version | awk 'NR==1{print $3}'))"
  start containerd env -u http_proxy -u https_proxy -u no_proxy -u NO_PROXY \
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 "$(command -v containerd)" --config "$ctrd/config.toml"
  for i in $(seq 1 100); do
    ctr -a "$sock" version >/dev/null 2>&1 && break
    kill -0 "$(cat "$run/pids/containerd.pid")" 2>/dev/null || fail "containerd exited"
    ((i == 100)) && fail "containerd did not answer on $sock after 20s"
    sleep 0.2
  done
  realnode_images
  local image
  for image in pause busybox; do # `ctr images import` takes one archive at a time
    ctr -a "$sock" -n k8s.io images import "$realnode_image_dir/$image.tar" >/dev/null \
      || fail "importing $realnode_image_dir/$image.tar into containerd failed"
  done

  # ---------- the apiserver on the bridge ----------
  log "real node: forwarding $REAL_NODE_GW:$api_port to the apiserver"
  start socat "$(command -v socat)" "TCP-LISTEN:$api_port,bind=$REAL_NODE_GW,reuseaddr,fork" "TCP:127.0.0.1:$api_port"
  printf 'KUBERNETES_SERVICE_HOST=%s\nKUBERNETES_SERVICE_PORT=%s\n' "$REAL_NODE_GW" "$api_port" > "$node/apiserver-in-pods"

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
    for t in containerd kubelet socat; do
      kill -0 "$(cat "$run/pids/$t.pid")" 2>/dev/null || fail "$t exited"
    done
    ((i == 600)) && fail "node $REAL_NODE_NAME not Ready after 120s"
    sleep 0.2
  done
  log "real node: $REAL_NODE_NAME Ready $((SECONDS - t0))s after its start (pods: tolerate $REAL_NODE_TAINT," \
    "nodeSelector $REAL_NODE_LABEL=real, images $REAL_NODE_BUSYBOX_IMAGE with imagePullPolicy Never)"
}

# ---------- stop (down.sh) ----------
# Stops the node's pods through the kubelet while it still runs (that tears their network down
# through CNI), then the kubelet, whatever containerd still runs, containerd itself and its shims,
# the forwarder; unmounts what is left under the state dir; removes the bridge and the cgroup root;
# puts the saved sysctls back. Each step goes on when an earlier one failed.
realnode_stop() {
  local run=$KEELSON_TESTENV_RUN node sock
  node=$(realnode_dir) sock=$node/containerd/containerd.sock
  [[ -d "$node" ]] || return 0
  log "stopping the real node $REAL_NODE_NAME"
  if [[ -f "$run/server" ]] && realnode_api GET /readyz >/dev/null 2>&1 && realnode_pid_alive kubelet; then
    local pods i
    pods=$(realnode_api GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$REAL_NODE_NAME" 2>/dev/null \
      | python3 -c 'import json,sys; [print(p["metadata"]["namespace"], p["metadata"]["name"]) for p in json.load(sys.stdin)["items"]]' \
      2>/dev/null || true)
    if [[ -n "$pods" ]]; then
      while read -r ns name; do
        realnode_api DELETE "/api/v1/namespaces/$ns/pods/$name" '{"gracePeriodSeconds":1}' >/dev/null 2>&1 || true
      done <<< "$pods"
      for i in $(seq 1 150); do
        [[ -z "$(realnode_api GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$REAL_NODE_NAME" 2>/dev/null \
          | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]) or "")' 2>/dev/null || echo x)" ]] && break
        ((i == 150)) && log "pods on $REAL_NODE_NAME still there after 30s; removing their containers directly"
        sleep 0.2
      done
    fi
  fi
  realnode_kill kubelet
  if realnode_pid_alive containerd; then
    local id
    for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 0.5
    for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  realnode_kill containerd
  # Shims of this containerd (they outlive it by design): exactly those started with its socket.
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qF -- "-address $sock "; then
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  realnode_kill socat
  # Network namespaces of pods that are still attached to the bridge (their eth0's peer is on it).
  local ns peer
  for ns in /var/run/netns/cni-*; do
    [[ -e "$ns" ]] || continue
    peer=$(ip netns exec "$(basename "$ns")" ip -o link show eth0 2>/dev/null | sed -n 's/.*eth0@if\([0-9]*\).*/\1/p')
    [[ -n "$peer" ]] || continue
    if ip -o link show master "$REAL_NODE_BRIDGE" 2>/dev/null | grep -q "^$peer:"; then
      umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null || true
      rm -f "$ns"
    fi
  done
  # Mounts under the state dir (container rootfs, projected volumes, shm), deepest first.
  local m
  findmnt -rn -o TARGET | awk -v r="$run/" 'index($0, r) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done
  ip link del "$REAL_NODE_BRIDGE" 2>/dev/null || true
  local mnt
  while read -r _ mnt fstype _; do
    [[ "$fstype" == cgroup || "$fstype" == cgroup2 ]] || continue
    [[ -d "$mnt/$REAL_NODE_CGROUP" ]] || continue
    find "$mnt/$REAL_NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null \
      || log "cgroup $mnt/$REAL_NODE_CGROUP not removed (processes left in it?)"
  done < /proc/mounts
  # The kubelet's links in /var/log/containers point into the state dir.
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

realnode_pid_alive() { # name
  local f=$KEELSON_TESTENV_RUN/pids/$1.pid pid
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f")
  [[ "$(tr '\0' '\n' 2>/dev/null < "/proc/$pid/cmdline" | head -1)" == */"$1" ]]
}

# Like down.sh's loop: the process group of the recorded pid, only if it still is that program.
realnode_kill() { # name
  local f=$KEELSON_TESTENV_RUN/pids/$1.pid pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  if realnode_pid_alive "$1"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
