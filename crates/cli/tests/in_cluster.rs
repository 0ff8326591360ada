//! keelson inside the cluster, as seed 000 describes it, on the test environment's real node
//! (`testenv/up.sh --real-node`): the image `scripts/image.sh` builds, pushed to the test
//! registry; one `kubectl apply --server-side` of the `bootstrap-1.0.x.yaml` that `keelson
//! release` made from an example repository whose `src/1.0` is keelson's install plus a patch
//! (the real node's placement, `--watch-all-namespaces=false`) and a workload. Then, with the
//! real kubectl against keelson's own Pods:
//!
//! 1. the Pod runs from the image and the drift guard is Ready (time measured);
//! 2. a manual edit of keelson's Deployment is reverted by keelson itself;
//! 3. release 1.0.2 changes a flag: re-applying `bootstrap-1.0.x.yaml` replaces keelson's Pod
//!    while it reconciles and the new Pod finishes the job; 1.1.0 is not picked up;
//! 4. two replicas: SIGKILL of the leader's process hands the Lease to another candidate
//!    within the lease duration; deleting the next leader's Pod hands it over at once (the
//!    Lease is released on SIGTERM); reconciles go on;
//! 5. `keelson uninstall` leaves the workload; re-applying the bundle adopts it (same uid).
//!
//! The Pods reach the apiserver through the `kubernetes` Service (the node's DNAT) and the git
//! daemon on the node's bridge address. Without a real node the test prints why and returns —
//! unless `KEELSON_REQUIRE_REAL_NODE=1` (scripts/test.sh sets it where the node starts) makes
//! that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use keelson_api::{Kustomization, condition};
use keelson_install::manifests::CONTROLLER_NAME;
use keelson_testsupport::git::{TestRepo, git};
use keelson_testsupport::{TestNamespace, eventually, kubeconfig_path, run_dir, tool};
use kube::api::{Api, ListParams};

const WAIT: Duration = Duration::from_secs(180);
const LEASE: &str = "keelson-leader-election";

/// What `testenv/realnode.sh` wrote about the node.
struct Node {
    registry: String,
    gateway: Ipv4Addr,
    label: String,
    taint: String,
    containerd: String,
}

fn real_node() -> Option<Node> {
    let text = std::fs::read_to_string(run_dir().join("node/env")).ok()?;
    let env: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    Some(Node {
        registry: env.get("REGISTRY")?.to_string(),
        gateway: env.get("NODE_GATEWAY")?.parse().ok()?,
        label: env.get("NODE_LABEL")?.to_string(),
        taint: env.get("NODE_TAINT")?.to_string(),
        containerd: env.get("CONTAINERD_ADDRESS")?.to_string(),
    })
}

fn kubectl(args: &[&str]) -> std::process::Output {
    Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .args(args)
        .output()
        .unwrap()
}

fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keelson(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .env("KUBECONFIG", kubeconfig_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keelson {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The example repository's settings shared by its minor lines.
struct Example<'a> {
    work: PathBuf,
    ns: &'a str,
    apps: &'a str,
    image: &'a str,
    node: &'a Node,
}

impl Example<'_> {
    /// `src/<line>`: keelson's install at the image, placed on the real node and watching only
    /// its namespace, with `extra_args` and `replicas`; and a workload ConfigMap in `apps`
    /// saying `data`.
    fn write_line(&self, line: &str, extra_args: &[&str], replicas: u8, data: &str) {
        let dir = self.work.join("src").join(line);
        std::fs::create_dir_all(&dir).unwrap();
        let install = keelson(&[
            "install",
            "--export",
            "--namespace",
            self.ns,
            "--image",
            self.image,
        ]);
        std::fs::write(dir.join("keelson.yaml"), install).unwrap();
        std::fs::write(
            dir.join("workload.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: workload\n  namespace: {}\ndata:\n  line: \"{data}\"\n",
                self.apps
            ),
        )
        .unwrap();
        let mut args = vec!["--watch-all-namespaces=false"];
        args.extend_from_slice(extra_args);
        let arg_ops: String = args
            .iter()
            .map(|a| format!("      - op: add\n        path: /spec/template/spec/containers/0/args/-\n        value: \"{a}\"\n"))
            .collect();
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - keelson.yaml\n  - workload.yaml\npatches:\n  - target: {{kind: Deployment, name: {deployment}}}\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: {replicas}\n      - op: add\n        path: /spec/template/spec/nodeSelector\n        value: {{\"{label}\": real}}\n      - op: add\n        path: /spec/template/spec/tolerations\n        value: [{{key: \"{taint}\", operator: Exists, effect: NoSchedule}}]\n{arg_ops}",
                deployment = CONTROLLER_NAME,
                label = self.node.label,
                taint = self.node.taint,
            ),
        )
        .unwrap();
    }
}

fn release(work: &Path, url: &str, ns: &str, version: &str) -> PathBuf {
    let minor = version.rsplit_once('.').unwrap().0;
    keelson(&[
        "release",
        "--version",
        version,
        "--src",
        &format!("src/{minor}"),
        "--repo-url",
        url,
        "--root",
        work.to_str().unwrap(),
        "--out",
        work.join("release").to_str().unwrap(),
        "--namespace",
        ns,
    ]);
    work.join("release")
        .join(minor)
        .join(format!("bootstrap-{minor}.x.yaml"))
}

fn push(work: &Path, message: &str) -> String {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    format!("main@sha1:{}", git(work, &["rev-parse", "HEAD"]))
}

/// `kubectl apply --server-side --force-conflicts -f file`; on a cluster that has never seen
/// keelson's CRDs the first try cannot map the custom resources yet, so (as users do) it is
/// repeated once the CRDs are established.
fn apply_bundle(file: &Path) {
    let args = [
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        file.to_str().unwrap(),
    ];
    for _ in 0..5 {
        let out = kubectl(&args);
        if out.status.success() {
            return;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("ensure CRDs are installed first"),
            "kubectl {args:?}: {stderr}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    kubectl_ok(&args);
}

/// keelson's Pods: name → (uid, Ready, the manager container's args).
async fn pods(api: &Api<Pod>) -> BTreeMap<String, (String, bool, Vec<String>)> {
    let list = api
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={CONTROLLER_NAME}")))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let ready = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let args = p.spec.as_ref().unwrap().containers[0]
                .args
                .clone()
                .unwrap_or_default();
            (
                p.metadata.name.clone().unwrap(),
                (p.metadata.uid.clone().unwrap(), ready, args),
            )
        })
        .collect()
}

/// Runs `keelson uninstall --keep-crds` for the namespace when dropped, so a failed run leaves
/// no finalizer behind (the namespace could not go) and no cluster-scoped objects; after a
/// failure it first prints what keelson's Pods did.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ns = self.0.as_str();
        if std::thread::panicking() {
            for args in [
                vec![
                    "get",
                    "pods,deploy,ks,gitrepository,lease",
                    "-o",
                    "wide",
                    "-n",
                    ns,
                ],
                vec!["get", "events", "--sort-by=.lastTimestamp", "-n", ns],
                vec![
                    "logs",
                    "-n",
                    ns,
                    "-l",
                    "app.kubernetes.io/name=keelson-controller",
                    "--tail=40",
                    "--prefix",
                ],
            ] {
                let out = kubectl(&args);
                eprintln!(
                    "--- kubectl {} ---\n{}{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let _ = Command::new(env!("CARGO_BIN_EXE_keelson"))
            .args(["uninstall", "--silent", "--keep-crds", "--namespace", ns])
            .env("KUBECONFIG", kubeconfig_path())
            .output();
    }
}

/// The drift guard Ready at `revision`.
async fn guard_ready_at(api: &Api<Kustomization>, revision: &str) {
    eventually(
        &format!("the drift guard Ready at {revision}"),
        WAIT,
        || {
            let api = api.clone();
            let revision = revision.to_string();
            async move {
                let status = api.get("bootstrap").await.ok()?.status?;
                (condition::is_true(&status.conditions, "Ready")
                    && status.last_applied_revision.as_deref() == Some(revision.as_str()))
                .then_some(())
            }
        },
    )
    .await;
}

/// Asks the drift guard (and its source) to reconcile now, as `flux reconcile --with-source`.
fn request_reconcile(ns: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string();
    for kind in ["gitrepository", "kustomization"] {
        kubectl_ok(&[
            "annotate",
            "-n",
            ns,
            "--overwrite",
            kind,
            "bootstrap",
            &format!("reconcile.fluxcd.io/requestedAt={now}"),
        ]);
    }
}

/// The Pod holding the Lease (its identity is `<pod>_<uuid>`).
/// The Lease's holder identity (`<pod>_<uuid>`: a restarted container is a new identity).
async fn holder(leases: &Api<Lease>) -> Option<String> {
    let lease = leases.get_opt(LEASE).await.ok()??;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

/// The Pod of a holder identity.
fn pod_of(identity: &str) -> String {
    identity
        .split_once('_')
        .map_or(identity, |(pod, _)| pod)
        .to_string()
}

#[tokio::test]
async fn keelson_installs_guards_upgrades_and_fails_over_inside_the_cluster() {
    let Some(node) = real_node() else {
        let why = format!(
            "no real node in {} (start the test environment with testenv/up.sh --real-node)",
            run_dir().display()
        );
        assert!(
            std::env::var("KEELSON_REQUIRE_REAL_NODE").as_deref() != Ok("1"),
            "KEELSON_REQUIRE_REAL_NODE=1 but {why}"
        );
        eprintln!("in_cluster: skipped: {why}");
        return;
    };
    let ns = TestNamespace::create("incluster").await;
    let apps = TestNamespace::create("incluster-apps").await;
    let n = ns.name().to_string();
    let _cleanup = Cleanup(n.clone());

    // The image, from the binary these tests run (stripped as for users), in the test registry.
    let tag = format!("1.0.0-{}", &n[n.len() - 8..]);
    let image = format!("{}/keelson/keelson:{tag}", node.registry);
    let layout = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(keelson_testsupport::workspace_root().join("scripts/image.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_keelson"), "--push", &image])
        .arg("--out")
        .arg(layout.path().join("oci"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/image.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "in_cluster: image {image} built and pushed in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // The example repository, served where Pods reach it.
    let repo = TestRepo::served_on(node.gateway);
    let work = repo.work().to_path_buf();
    let url = repo.url();
    let example = Example {
        work: work.clone(),
        ns: &n,
        apps: apps.name(),
        image: &image,
        node: &node,
    };
    example.write_line("1.0", &[], 1, "1.0");
    let bundle = release(&work, &url, &n, "1.0.0");
    let rev1 = push(&work, "release 1.0.0");

    // 1. One apply installs keelson; its own Pod makes the drift guard Ready.
    let pods_api: Api<Pod> = ns.api();
    let deploys: Api<Deployment> = ns.api();
    let kss: Api<Kustomization> = ns.api();
    let leases: Api<Lease> = ns.api();
    let started = Instant::now();
    apply_bundle(&bundle);
    let running = eventually("keelson's Pod Running and Ready", WAIT, || {
        let api = pods_api.clone();
        async move {
            let pods = pods(&api).await;
            pods.values().any(|(_, ready, _)| *ready).then_some(pods)
        }
    })
    .await;
    let to_running = started.elapsed();
    guard_ready_at(&kss, &rev1).await;
    let to_ready = started.elapsed();
    eprintln!(
        "in_cluster: kubectl apply → Pod Ready {:.1}s → drift guard Ready {:.1}s",
        to_running.as_secs_f64(),
        to_ready.as_secs_f64()
    );
    let first_pod = running.keys().next().unwrap().clone();
    let pod = pods_api.get(&first_pod).await.unwrap();
    assert_eq!(
        pod.spec.as_ref().unwrap().node_name.as_deref(),
        Some("keelson-real-node"),
        "keelson runs on the real node"
    );
    let workload: Api<ConfigMap> = apps.api();
    let cm = workload.get("workload").await.unwrap();
    let workload_uid = cm.metadata.uid.clone().unwrap();
    let managers: Vec<String> = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kustomize-controller".to_string()),
        "the workload was applied by keelson in its Pod: {managers:?}"
    );
    let lease = holder(&leases).await.map(|h| pod_of(&h));
    assert_eq!(lease.as_deref(), Some(first_pod.as_str()), "the Pod leads");

    // 2. A manual edit of keelson's own Deployment is reverted by keelson.
    kubectl_ok(&[
        "-n",
        &n,
        "patch",
        "deployment",
        CONTROLLER_NAME,
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/args/1","value":"--storage-path=/tmp/edited"}]"#,
    ]);
    let started = Instant::now();
    request_reconcile(&n);
    eventually("keelson to revert the edit of its Deployment", WAIT, || {
        let deploys = deploys.clone();
        async move {
            let d = deploys.get(CONTROLLER_NAME).await.ok()?;
            let args = d.spec?.template.spec?.containers[0].args.clone()?;
            (args.get(1).map(String::as_str) == Some("--storage-path=/data")).then_some(())
        }
    })
    .await;
    eprintln!(
        "in_cluster: manual edit reverted in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // The edit and its revert each rolled a Pod: let that settle before the upgrade.
    eventually("one keelson Pod again, Ready, as released", WAIT, || {
        let api = pods_api.clone();
        async move {
            let pods = pods(&api).await;
            (pods.len() == 1
                && pods.values().all(|(_, ready, args)| {
                    *ready && args.iter().any(|a| a == "--storage-path=/data")
                }))
            .then_some(())
        }
    })
    .await;

    // 3. Release 1.0.2 with a changed flag; 1.1.0 is released too but not applied.
    example.write_line("1.0", &["--concurrent=6"], 1, "1.0");
    let bundle = release(&work, &url, &n, "1.0.2");
    example.write_line("1.1", &["--concurrent=9"], 1, "1.1");
    let bundle_11 = release(&work, &url, &n, "1.1.0");
    assert!(bundle_11.is_file());
    let rev2 = push(&work, "release 1.0.2 and 1.1.0");
    let before = pods(&pods_api).await;
    let started = Instant::now();
    apply_bundle(&bundle);
    // Until the running keelson has fetched the 1.0.2 commit it re-applies 1.0.0 over the
    // bundle (correct: Git is the truth); ask for the fetch as `flux reconcile ks
    // --with-source` would, rather than wait for the 1m source interval. (One CI run saw that
    // interval requeue not fire for 3 minutes — see the session 10 note.)
    request_reconcile(&n);
    let upgraded = eventually("a new keelson Pod with --concurrent=6, Ready", WAIT, || {
        let api = pods_api.clone();
        let before = before.clone();
        async move {
            let pods = pods(&api).await;
            let fresh: Vec<String> = pods
                .iter()
                .filter(|(name, (_, ready, args))| {
                    !before.contains_key(*name)
                        && *ready
                        && args.iter().any(|a| a == "--concurrent=6")
                })
                .map(|(name, _)| name.clone())
                .collect();
            (fresh.len() == 1 && pods.len() == 1).then(|| fresh[0].clone())
        }
    })
    .await;
    let pod_replaced = started.elapsed();
    guard_ready_at(&kss, &rev2).await;
    eprintln!(
        "in_cluster: self-upgrade: apply → new Pod {upgraded} Ready {:.1}s → drift guard Ready at 1.0.2 {:.1}s",
        pod_replaced.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let cm = workload.get("workload").await.unwrap();
    assert_eq!(
        cm.metadata.uid.as_deref(),
        Some(workload_uid.as_str()),
        "the workload was not recreated or pruned by the upgrade"
    );
    let d = deploys.get(CONTROLLER_NAME).await.unwrap();
    let args = d.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert!(args.iter().any(|a| a == "--concurrent=6"), "{args:?}");
    assert!(
        !args.iter().any(|a| a == "--concurrent=9"),
        "1.1.0 is not applied by the 1.0 line: {args:?}"
    );

    // 4. Two replicas (a change in Git): killing the leader hands the Lease over.
    example.write_line("1.0", &["--concurrent=6"], 2, "1.0");
    let rev3 = push(&work, "two replicas");
    request_reconcile(&n);
    let two = eventually("two keelson Pods Ready", WAIT, || {
        let api = pods_api.clone();
        async move {
            let pods = pods(&api).await;
            (pods.len() == 2 && pods.values().all(|(_, ready, _)| *ready)).then_some(pods)
        }
    })
    .await;
    guard_ready_at(&kss, &rev3).await;
    let old_identity = holder(&leases).await.expect("a leader");
    let old_leader = pod_of(&old_identity);
    assert!(
        two.contains_key(&old_leader),
        "{old_leader} is one of {two:?}"
    );
    // A crash: SIGKILL of the leader's process (through containerd, as the OOM killer would),
    // so nothing releases the Lease; another candidate must wait for it to expire.
    let pod = pods_api.get(&old_leader).await.unwrap();
    let container = pod.status.unwrap().container_statuses.unwrap()[0]
        .container_id
        .clone()
        .unwrap();
    let container = container.trim_start_matches("containerd://");
    let killed = Instant::now();
    let out = Command::new("ctr")
        .args([
            "--address",
            &node.containerd,
            "-n",
            "k8s.io",
            "task",
            "kill",
            "--signal",
            "SIGKILL",
            container,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ctr task kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_identity = eventually("another candidate to take the Lease", WAIT, || {
        let leases = leases.clone();
        let old = old_identity.clone();
        async move { holder(&leases).await.filter(|l| *l != old) }
    })
    .await;
    let failover = killed.elapsed();
    eprintln!(
        "in_cluster: crash failover: leader {old_leader} SIGKILLed → {} leads after {:.1}s",
        pod_of(&new_identity),
        failover.as_secs_f64()
    );
    assert!(
        // The Lease expires at most 35s after the kill; candidates retry every 5s × (1 + up
        // to 1.2) as client-go's jitter does: ≤ 11s more, plus polling.
        failover <= Duration::from_secs(35 + 11 + 4),
        "taken over within the lease duration (35s) plus a jittered retry period (≤ 11s) and polling: {failover:?}"
    );
    // A graceful stop (Pod deleted): the leader releases the Lease on SIGTERM, so the handover
    // takes moments, not a lease duration.
    let leader_pod = pod_of(&new_identity);
    let deleted = Instant::now();
    kubectl_ok(&["-n", &n, "delete", "pod", &leader_pod, "--wait=false"]);
    let next = eventually("the Lease handed over after a graceful stop", WAIT, || {
        let leases = leases.clone();
        let old = new_identity.clone();
        async move { holder(&leases).await.filter(|l| *l != old) }
    })
    .await;
    let handover = deleted.elapsed();
    eprintln!(
        "in_cluster: graceful handover: {leader_pod} deleted → {} leads after {:.1}s",
        pod_of(&next),
        handover.as_secs_f64()
    );
    assert!(
        // A stopping leader renews until its running reconciles end, then releases: an
        // expired Lease could only be taken 35s (the lease duration) after the last renewal.
        handover < Duration::from_secs(35),
        "a stopping leader releases the Lease: {handover:?}"
    );
    // Reconciles go on under the new leader.
    example.write_line("1.0", &["--concurrent=6"], 2, "after failover");
    let rev4 = push(&work, "after failover");
    request_reconcile(&n);
    guard_ready_at(&kss, &rev4).await;
    let cm = workload.get("workload").await.unwrap();
    assert_eq!(cm.data.unwrap()["line"], "after failover");

    // 5. uninstall leaves the workload; re-applying the bundle adopts it.
    keelson(&["uninstall", "--silent", "--keep-crds", "--namespace", &n]);
    eventually("keelson's Deployment gone", WAIT, || {
        let deploys = deploys.clone();
        async move {
            deploys
                .get_opt(CONTROLLER_NAME)
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
    let cm = workload.get("workload").await.unwrap();
    assert_eq!(cm.metadata.uid.as_deref(), Some(workload_uid.as_str()));
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(ns.client());
    eventually("the namespace deleted by uninstall", WAIT, || {
        let namespaces = namespaces.clone();
        let name = n.clone();
        async move {
            namespaces
                .get_opt(&name)
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
    apply_bundle(&bundle);
    guard_ready_at(&kss, &rev4).await;
    let cm = workload.get("workload").await.unwrap();
    assert_eq!(
        cm.metadata.uid.as_deref(),
        Some(workload_uid.as_str()),
        "the re-installed keelson adopted the workload instead of recreating it"
    );
    assert_eq!(
        cm.metadata
            .labels
            .unwrap_or_default()
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("bootstrap")
    );
    // Leave nothing behind: keelson's cluster-scoped objects and its Kustomization's finalizer.
    keelson(&["uninstall", "--silent", "--keep-crds", "--namespace", &n]);
}
