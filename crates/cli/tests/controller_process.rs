//! `keelson controller` as a cluster citizen, as real processes against the real control plane:
//! health probes, leader election between replicas (only the leader reconciles; a standby takes
//! over a released Lease at once and an abandoned one within the lease duration), and graceful
//! shutdown on SIGTERM (exit 0, Lease released).
//!
//! Durations are shortened (lease 4 s, renew deadline 3 s, retry 0.5 s) so takeovers happen in
//! test time; the installed Deployment uses Flux's 35s/30s/5s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_testsupport::git::TestRepo;
use keelson_testsupport::{TestNamespace, apply, kubeconfig_path};
use kube::api::Api;
use serde_json::json;

const LEASE: &str = "keelson-leader-election";

/// One `keelson controller` replica; killed when dropped.
struct Replica {
    name: &'static str,
    child: std::process::Child,
    health: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Replica {
    fn start(name: &'static str, ns: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("controller.log");
        let file = std::fs::File::create(&log).unwrap();
        let health = free_port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
            .args(["controller", "--namespace", ns, "--log-encoding", "console"])
            .args([
                "--enable-leader-election",
                "--leader-election-namespace",
                ns,
            ])
            .args(["--leader-election-lease-duration", "4s"])
            .args(["--leader-election-renew-deadline", "3s"])
            .args(["--leader-election-retry-period", "500ms"])
            .args(["--graceful-shutdown-timeout", "10s"])
            .args(["--storage-addr", "127.0.0.1:0"])
            .arg(format!("--health-addr=127.0.0.1:{health}"))
            .arg("--storage-path")
            .arg(dir.path().join("artifacts"))
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .env("HOSTNAME", name)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Self {
            name,
            child,
            health,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The HTTP status of `GET path` on the health port (None when nothing answers).
    async fn probe(&self, path: &str) -> Option<u16> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.health))
            .await
            .ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        response.split_whitespace().nth(1)?.parse().ok()
    }

    /// Sends SIGTERM and waits (10 s at most) for the exit status.
    fn terminate(&mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not exit within 15 s of SIGTERM:\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Lease's holder, when there is one.
async fn holder(ns: &TestNamespace) -> Option<String> {
    let leases: Api<Lease> = ns.api();
    leases.get_opt(LEASE).await.ok()??.spec?.holder_identity
}

/// Polls `check` every 100 ms until it gives a value (panics after `limit`, with the logs).
async fn wait_for<T, F, Fut>(
    what: &str,
    limit: Duration,
    replicas: &[&Replica],
    mut check: F,
) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return (v, started.elapsed());
        }
        if started.elapsed() > limit {
            let logs: Vec<String> = replicas
                .iter()
                .map(|r| format!("--- {} ---\n{}", r.name, r.log()))
                .collect();
            panic!(
                "timed out after {limit:?} waiting for {what}\n{}",
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn greeting(ns: &TestNamespace) -> Option<String> {
    let cms: Api<ConfigMap> = ns.api();
    cms.get_opt("demo")
        .await
        .ok()??
        .data?
        .get("greeting")
        .cloned()
}

#[tokio::test]
async fn replicas_elect_one_leader_fail_over_and_shut_down_gracefully() {
    let ns = TestNamespace::create("replicas").await;
    let n = ns.name().to_string();
    let crds: Api<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    > = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    let repo = TestRepo::new();
    let cm = |greeting: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: {greeting}\n"
        )
    };
    repo.write("apps/cm.yaml", &cm("one"));
    repo.push("one");

    let mut a = Replica::start("replica-a", &n);
    let (first, _) = wait_for("a leader", Duration::from_secs(20), &[&a], || holder(&ns)).await;
    assert!(
        first.starts_with("replica-a_"),
        "identity is <hostname>_<uuid>: {first}"
    );
    let b = Replica::start("replica-b", &n);

    // Probes: both live; the standby is ready at once, the leader once its caches synced.
    for r in [&a, &b] {
        wait_for("/healthz", Duration::from_secs(20), &[r], || async {
            (r.probe("/healthz").await == Some(200)).then_some(())
        })
        .await;
        wait_for("/readyz", Duration::from_secs(30), &[r], || async {
            (r.probe("/readyz").await == Some(200)).then_some(())
        })
        .await;
    }
    assert!(b.log().contains("standing by"), "{}", b.log());

    // Only the leader reconciles.
    apply(
        &ns.api::<keelson_api::GitRepository>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "repo"},
               "spec": {"url": repo.url(), "interval": "1m", "ref": {"branch": "main"}}}),
    )
    .await;
    apply(
        &ns.api::<keelson_api::Kustomization>(),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps"},
               "spec": {"interval": "1m", "path": "./apps", "prune": true, "targetNamespace": n,
                        "sourceRef": {"kind": "GitRepository", "name": "repo"}}}),
    )
    .await;
    wait_for(
        "the first apply",
        Duration::from_secs(60),
        &[&a, &b],
        || async { (greeting(&ns).await.as_deref() == Some("one")).then_some(()) },
    )
    .await;
    assert!(
        !b.log().contains("successfully acquired"),
        "b never led:\n{}",
        b.log()
    );

    // SIGTERM: a finishes, releases the Lease and exits 0; b takes over at once.
    let (code, exit_after) = a.terminate();
    assert_eq!(code, Some(0), "{}", a.log());
    assert!(a.log().contains("released the leader lease"), "{}", a.log());
    let (next, failover) = wait_for("b to lead", Duration::from_secs(5), &[&a, &b], || async {
        holder(&ns).await.filter(|h| h.starts_with("replica-b_"))
    })
    .await;
    eprintln!(
        "SIGTERM → exit 0 in {exit_after:?}; released Lease taken over by {next} in {failover:?}"
    );
    assert!(
        failover < Duration::from_secs(4),
        "a released Lease is taken before it expires"
    );

    // b reconciles now: a new commit arrives.
    repo.write("apps/cm.yaml", &cm("two"));
    repo.push("two");
    let annotate = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t2"}}});
    ns.api::<keelson_api::GitRepository>()
        .patch(
            "repo",
            &Default::default(),
            &kube::api::Patch::Merge(&annotate),
        )
        .await
        .unwrap();
    wait_for("b's apply", Duration::from_secs(60), &[&b], || async {
        (greeting(&ns).await.as_deref() == Some("two")).then_some(())
    })
    .await;

    // A leader that dies without releasing: the standby takes over within the lease duration
    // (plus a retry period), counted from the kill.
    let c = Replica::start("replica-c", &n);
    wait_for("c to stand by", Duration::from_secs(20), &[&c], || async {
        c.log().contains("standing by").then_some(())
    })
    .await;
    let mut b = b;
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let (next, takeover) = wait_for("c to lead", Duration::from_secs(12), &[&b, &c], || async {
        holder(&ns).await.filter(|h| h.starts_with("replica-c_"))
    })
    .await;
    eprintln!("SIGKILL of the leader → {next} leads after {takeover:?} (lease duration 4s)");
    assert!(takeover < Duration::from_secs(10), "{takeover:?}");
    repo.write("apps/cm.yaml", &cm("three"));
    repo.push("three");
    let annotate = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t3"}}});
    ns.api::<keelson_api::GitRepository>()
        .patch(
            "repo",
            &Default::default(),
            &kube::api::Patch::Merge(&annotate),
        )
        .await
        .unwrap();
    wait_for("c's apply", Duration::from_secs(60), &[&c], || async {
        (greeting(&ns).await.as_deref() == Some("three")).then_some(())
    })
    .await;

    // Clean up while c still runs (the finalizers need a controller).
    ns.api::<keelson_api::Kustomization>()
        .delete("apps", &Default::default())
        .await
        .unwrap();
    ns.api::<keelson_api::GitRepository>()
        .delete("repo", &Default::default())
        .await
        .unwrap();
    wait_for(
        "the objects to go",
        Duration::from_secs(60),
        &[&c],
        || async {
            ns.api::<keelson_api::Kustomization>()
                .get_opt("apps")
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_controller_without_leader_election_stops_on_sigterm() {
    let ns = TestNamespace::create("sigterm").await;
    let n = ns.name().to_string();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let health = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(["controller", "--namespace", &n, "--log-encoding", "console"])
        .args(["--storage-addr", "127.0.0.1:0"])
        .arg(format!("--health-addr=127.0.0.1:{health}"))
        .arg("--storage-path")
        .arg(dir.path().join("artifacts"))
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut r = Replica {
        name: "single",
        child,
        health,
        log,
        _dir: dir,
    };
    wait_for("/readyz", Duration::from_secs(30), &[&r], || async {
        (r.probe("/readyz").await == Some(200)).then_some(())
    })
    .await;
    let (code, took) = r.terminate();
    assert_eq!(code, Some(0), "{}", r.log());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(r.log().contains("shutting down"), "{}", r.log());
    let leases: Api<Lease> = ns.api();
    assert!(
        leases.get_opt(LEASE).await.unwrap().is_none(),
        "no Lease without leader election"
    );
}
