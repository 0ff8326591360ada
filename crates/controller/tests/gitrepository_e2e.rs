//! The GitRepository reconciler on the real control plane, against the loopback git servers of
//! `testenv/gitservers.sh` (git daemon, smart HTTP with basic auth and bearer token, sshd):
//! a server that goes down and comes back, credentials that never show in events, status or
//! the controller's log, host-key verification, a force-pushed branch, no new artifact when
//! nothing changed, and `reconcile.fluxcd.io/requestedAt`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../source/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{Repo, Servers};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use keelson_api::{GitRepository, condition};
use keelson_testsupport::{TestNamespace, apply};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The controller's log, captured for the whole test process.

#[derive(Clone)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once) a subscriber that writes every debug-level event of the process to a buffer.
fn logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer(Arc::new(Mutex::new(Vec::new())));
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
    .clone()
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Controller and waiting.

/// Installs keelson's CRDs and starts the controller in-process, watching only `ns`.
async fn start_controller(
    ns: &TestNamespace,
) -> (
    tokio::task::JoinHandle<Result<(), keelson_controller::RunError>>,
    tempfile::TempDir,
) {
    logs();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(ns.client());
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let storage = tempfile::tempdir().unwrap();
    let config = keelson_controller::ControllerConfig {
        storage_path: storage.path().to_path_buf(),
        storage_addr: "127.0.0.1:0".parse().unwrap(),
        storage_advertise: None,
        requeue_dependency: Duration::from_secs(1),
        namespace: Some(ns.name().to_string()),
        ..Default::default()
    };
    (
        tokio::spawn(keelson_controller::run(ns.client(), config)),
        storage,
    )
}

async fn git_repository(ns: &TestNamespace, name: &str, spec: serde_json::Value) {
    apply(
        &ns.api::<GitRepository>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": name}, "spec": spec}),
    )
    .await;
}

async fn secret(ns: &TestNamespace, name: &str, data: &[(&str, Vec<u8>)]) {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_string(),
                serde_json::to_value(ByteString(v.clone())).unwrap(),
            )
        })
        .collect();
    apply(
        &ns.api::<Secret>(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}),
    )
    .await;
}

/// Polls `name` until `accept` returns something; on timeout, panics showing the last status.
async fn wait_for<T>(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    accept: impl Fn(&GitRepository) -> Option<T>,
) -> T {
    let api = ns.api::<GitRepository>();
    let start = std::time::Instant::now();
    let mut last = None;
    loop {
        if let Ok(repo) = api.get(name).await {
            if let Some(found) = accept(&repo) {
                return found;
            }
            last = repo.status;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for GitRepository {name}: {what}; last status: {last:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `name` is Ready with an artifact at `revision`.
async fn ready_at(ns: &TestNamespace, name: &str, revision: &str) -> GitRepository {
    wait_for(ns, name, &format!("Ready at {revision}"), |repo| {
        let status = repo.status.as_ref()?;
        (condition::is_true(&status.conditions, "Ready")
            && status.artifact.as_ref().map(|a| a.revision.as_str()) == Some(revision))
        .then(|| repo.clone())
    })
    .await
}

/// Waits until `name` is Ready=False with `reason`; returns the object and the message.
async fn failing_with(ns: &TestNamespace, name: &str, reason: &str) -> (GitRepository, String) {
    wait_for(ns, name, &format!("Ready=False with {reason}"), |repo| {
        let status = repo.status.as_ref()?;
        let ready = condition::get(&status.conditions, "Ready")?;
        (ready.status == "False" && ready.reason == reason)
            .then(|| (repo.clone(), ready.message.clone()))
    })
    .await
}

/// Everything a user or another tenant can read about the namespace's sources: the objects
/// (status included) and the Events.
async fn visible_text(ns: &TestNamespace) -> String {
    let repos = ns
        .api::<GitRepository>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let events = ns
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let core_events = ns
        .api::<k8s_openapi::api::core::v1::Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    format!(
        "{}\n{}\n{}",
        serde_json::to_string(&repos.items).unwrap(),
        serde_json::to_string(&events.items).unwrap(),
        serde_json::to_string(&core_events.items).unwrap()
    )
}

/// Notes of the Events with `reason` on GitRepository `name`.
async fn events(ns: &TestNamespace, name: &str, reason: &str) -> Vec<String> {
    let list = ns
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.note.unwrap_or_default())
        .collect()
}

fn assert_hidden(secret: &str, what: &str, texts: &[(&str, &str)]) {
    assert!(secret.len() >= 8, "secret {what} too short to search for");
    for (place, text) in texts {
        assert!(
            !text.contains(secret),
            "the {what} appears in the {place}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A git daemon of our own, so that it can be stopped and restarted on the same port.

struct Daemon {
    child: Child,
    port: u16,
    base: std::path::PathBuf,
}

impl Daemon {
    fn start(base: &Path, port: u16) -> Self {
        let child = Command::new(git_daemon())
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            base: base.to_path_buf(),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        *self = Self::start(&self.base.clone(), self.port);
    }

    fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}.git", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `git-daemon` program itself: `git daemon` runs it as a child that outlives a killed
/// `git`, so stopping the server must target this process.
fn git_daemon() -> std::path::PathBuf {
    let out = Command::new("git").arg("--exec-path").output().unwrap();
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("git-daemon")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn server_down_is_git_operation_failed_and_recovers_when_it_returns() {
    let ns = TestNamespace::create("gitrepo-down").await;
    let servers = Servers::start();
    let repo = Repo::new(&servers, "down");
    repo.write("app.yaml", "kind: ConfigMap\n");
    let first = repo.commit("first");
    repo.push(&["main"]);
    let mut daemon = Daemon::start(&servers.repos(), free_port());
    let (_controller, _storage) = start_controller(&ns).await;
    git_repository(
        &ns,
        "down",
        json!({"url": daemon.url("down"), "interval": "1s", "ref": {"branch": "main"}}),
    )
    .await;
    ready_at(&ns, "down", &format!("main@sha1:{first}")).await;

    // The server goes away; a commit lands meanwhile.
    daemon.stop();
    repo.write("app.yaml", "kind: ConfigMap\nmetadata: {name: second}\n");
    let second = repo.commit("second");
    repo.push(&["main"]);
    let (failed, message) = failing_with(&ns, "down", "GitOperationFailed").await;
    assert!(
        message.contains(&format!("127.0.0.1:{}", daemon.port)),
        "the message names the server: {message}"
    );
    let status = failed.status.unwrap();
    assert_eq!(
        status.artifact.unwrap().revision,
        format!("main@sha1:{first}"),
        "the last good artifact stays in status while the server is down"
    );
    assert!(condition::is_true(&status.conditions, "FetchFailed"));
    assert!(
        !events(&ns, "down", "GitOperationFailed").await.is_empty(),
        "a Warning event for the failure"
    );

    // It comes back: the reconciler recovers on its own and picks up the new commit.
    daemon.restart();
    let back = ready_at(&ns, "down", &format!("main@sha1:{second}")).await;
    let conditions = back.status.unwrap().conditions;
    assert!(condition::get(&conditions, "FetchFailed").is_none());
    assert!(condition::get(&conditions, "Stalled").is_none());
    assert!(log_text().contains("gitrepository: reconcile failed"));
}

#[tokio::test]
async fn http_basic_and_bearer_credentials_work_and_never_show() {
    let ns = TestNamespace::create("gitrepo-http").await;
    let servers = Servers::start();
    let repo = Repo::new(&servers, "private");
    repo.write("app.yaml", "kind: ConfigMap\n");
    let head = repo.commit("first");
    repo.push(&["main"]);
    let revision = format!("main@sha1:{head}");
    let user = servers.get("HTTP_USER").to_string();
    let password = servers.get("HTTP_PASSWORD").to_string();
    let token = servers.get("HTTP_TOKEN").to_string();
    let wrong_password = "wrong-password-5d1c9a77";
    let (_controller, _storage) = start_controller(&ns).await;

    // Basic auth with a wrong password first: AuthenticationFailed, the password nowhere.
    secret(
        &ns,
        "basic",
        &[
            ("username", user.clone().into_bytes()),
            ("password", wrong_password.as_bytes().to_vec()),
        ],
    )
    .await;
    git_repository(
        &ns,
        "basic",
        json!({"url": servers.http_url("basic", "private"), "interval": "1s",
               "ref": {"branch": "main"}, "secretRef": {"name": "basic"}}),
    )
    .await;
    let (_, message) = failing_with(&ns, "basic", "AuthenticationFailed").await;
    assert!(message.contains("authentication"), "{message}");
    // The right password: the next retry succeeds without touching the GitRepository.
    secret(
        &ns,
        "basic",
        &[
            ("username", user.clone().into_bytes()),
            ("password", password.clone().into_bytes()),
        ],
    )
    .await;
    ready_at(&ns, "basic", &revision).await;

    // Bearer token, right and wrong.
    secret(
        &ns,
        "bearer",
        &[("bearerToken", token.clone().into_bytes())],
    )
    .await;
    git_repository(
        &ns,
        "bearer",
        json!({"url": servers.http_url("bearer", "private"), "interval": "1s",
               "ref": {"branch": "main"}, "secretRef": {"name": "bearer"}}),
    )
    .await;
    ready_at(&ns, "bearer", &revision).await;
    let wrong_token = "wrong-token-0c4e8f21aa";
    secret(
        &ns,
        "bearer-wrong",
        &[("bearerToken", wrong_token.as_bytes().to_vec())],
    )
    .await;
    git_repository(
        &ns,
        "bearer-wrong",
        json!({"url": servers.http_url("bearer", "private"), "interval": "1s",
               "ref": {"branch": "main"}, "secretRef": {"name": "bearer-wrong"}}),
    )
    .await;
    failing_with(&ns, "bearer-wrong", "AuthenticationFailed").await;

    // Let a few more reconciles (and their log lines) happen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let visible = visible_text(&ns).await;
    let log = log_text();
    assert!(
        log.contains("gitrepository: stored artifact") && log.contains("AuthenticationFailed"),
        "the log capture works"
    );
    let places = [
        ("status and events", visible.as_str()),
        ("log", log.as_str()),
    ];
    assert_hidden(&password, "basic-auth password", &places);
    assert_hidden(wrong_password, "wrong basic-auth password", &places);
    assert_hidden(&token, "bearer token", &places);
    assert_hidden(wrong_token, "wrong bearer token", &places);
}

#[tokio::test]
async fn ssh_with_known_hosts_and_a_wrong_host_key_fails_clearly() {
    let ns = TestNamespace::create("gitrepo-ssh").await;
    let servers = Servers::start();
    let repo = Repo::new(&servers, "ssh");
    repo.write("app.yaml", "kind: ConfigMap\n");
    let head = repo.commit("first");
    repo.push(&["main"]);
    let identity = std::fs::read(servers.get("SSH_IDENTITY")).unwrap();
    let known_hosts = std::fs::read(servers.get("SSH_KNOWN_HOSTS")).unwrap();
    let wrong_hosts = std::fs::read(servers.get("SSH_KNOWN_HOSTS_WRONG")).unwrap();
    let (_controller, _storage) = start_controller(&ns).await;

    secret(
        &ns,
        "ssh",
        &[("identity", identity.clone()), ("known_hosts", known_hosts)],
    )
    .await;
    secret(
        &ns,
        "ssh-wrong-host",
        &[("identity", identity.clone()), ("known_hosts", wrong_hosts)],
    )
    .await;
    git_repository(
        &ns,
        "ssh",
        json!({"url": servers.ssh_url("ssh"), "interval": "1s",
               "ref": {"branch": "main"}, "secretRef": {"name": "ssh"}}),
    )
    .await;
    git_repository(
        &ns,
        "wrong-host",
        json!({"url": servers.ssh_url("ssh"), "interval": "1s",
               "ref": {"branch": "main"}, "secretRef": {"name": "ssh-wrong-host"}}),
    )
    .await;
    ready_at(&ns, "ssh", &format!("main@sha1:{head}")).await;
    let (failed, message) = failing_with(&ns, "wrong-host", "AuthenticationFailed").await;
    assert!(
        message.to_ascii_lowercase().contains("host key"),
        "a wrong host key says so: {message}"
    );
    assert!(failed.status.unwrap().artifact.is_none());

    tokio::time::sleep(Duration::from_secs(2)).await;
    let visible = visible_text(&ns).await;
    let log = log_text();
    let identity = String::from_utf8(identity).unwrap();
    // The key's base64 body, line by line: no part of it may leak.
    for line in identity
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
    {
        assert_hidden(
            line,
            "ssh private key",
            &[
                ("status and events", visible.as_str()),
                ("log", log.as_str()),
            ],
        );
    }
}

#[tokio::test]
async fn unchanged_keeps_the_artifact_and_a_force_push_is_picked_up() {
    let ns = TestNamespace::create("gitrepo-force").await;
    let servers = Servers::start();
    let repo = Repo::new(&servers, "force");
    repo.write("app.yaml", "kind: ConfigMap\n");
    repo.commit("first");
    repo.write("app.yaml", "kind: ConfigMap\nmetadata: {name: v2}\n");
    let second = repo.commit("second");
    repo.push(&["main"]);
    let (_controller, storage) = start_controller(&ns).await;
    git_repository(
        &ns,
        "force",
        json!({"url": servers.daemon_url("force"), "interval": "1s", "ref": {"branch": "main"}}),
    )
    .await;
    let before = ready_at(&ns, "force", &format!("main@sha1:{second}")).await;
    let artifact = before.status.unwrap().artifact.unwrap();

    // Several intervals pass with nothing new: the same artifact, its file untouched, one event.
    let file = storage.path().join(&artifact.path);
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = ns.api::<GitRepository>().get("force").await.unwrap();
    assert_eq!(after.status.unwrap().artifact.unwrap(), artifact);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(
        events(&ns, "force", "NewRevision").await.len(),
        1,
        "one NewRevision event"
    );

    // Rewrite history: drop the second commit and push another in its place, forced.
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    repo.write("app.yaml", "kind: ConfigMap\nmetadata: {name: rewritten}\n");
    let rewritten = repo.commit("rewritten");
    repo.push(&["main"]);
    let picked = ready_at(&ns, "force", &format!("main@sha1:{rewritten}")).await;
    let new = picked.status.unwrap().artifact.unwrap();
    assert_ne!(new.digest, artifact.digest);
    assert!(storage.path().join(&new.path).is_file());
    let notes = events(&ns, "force", "NewRevision").await;
    assert_eq!(notes.len(), 2, "{notes:?}");
}

#[tokio::test]
async fn requested_at_annotation_reconciles_at_once() {
    let ns = TestNamespace::create("gitrepo-requested").await;
    let servers = Servers::start();
    let repo = Repo::new(&servers, "requested");
    repo.write("app.yaml", "kind: ConfigMap\n");
    let first = repo.commit("first");
    repo.push(&["main"]);
    let (_controller, _storage) = start_controller(&ns).await;
    // An hour between reconciles: only the annotation can bring the next one early.
    git_repository(
        &ns,
        "requested",
        json!({"url": servers.daemon_url("requested"), "interval": "1h", "ref": {"branch": "main"}}),
    )
    .await;
    ready_at(&ns, "requested", &format!("main@sha1:{first}")).await;
    // Let the reconcile triggered by the status update settle.
    tokio::time::sleep(Duration::from_secs(2)).await;

    repo.write("app.yaml", "kind: ConfigMap\nmetadata: {name: second}\n");
    let second = repo.commit("second");
    repo.push(&["main"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = ns.api::<GitRepository>().get("requested").await.unwrap();
    assert_eq!(
        idle.status.unwrap().artifact.unwrap().revision,
        format!("main@sha1:{first}"),
        "no reconcile happens on its own within the interval"
    );

    let stamp = "2026-12-01T12:00:00.000000000Z";
    ns.api::<GitRepository>()
        .patch(
            "requested",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}}),
            ),
        )
        .await
        .unwrap();
    let done = wait_for(&ns, "requested", "the requested reconcile", |repo| {
        let status = repo.status.as_ref()?;
        (status.artifact.as_ref()?.revision == format!("main@sha1:{second}"))
            .then(|| status.last_handled_reconcile_at.clone())
    })
    .await;
    assert_eq!(done.as_deref(), Some(stamp));
}
