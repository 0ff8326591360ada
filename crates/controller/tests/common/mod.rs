//! What the controller's end-to-end tests share: a `git daemon` serving a repository to push
//! to, the in-process controller, and waits on Kustomization status.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keelson_api::{Kustomization, condition};
use keelson_testsupport::{TestNamespace, apply, eventually};
use kube::api::Api;

/// How long a test waits for the controller to converge.
pub const WAIT: Duration = Duration::from_secs(90);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository served by `git daemon`, and a working clone to push from.
pub struct GitServer {
    _dir: tempfile::TempDir,
    /// The working clone.
    pub work: PathBuf,
    daemon: Child,
    /// The `git://` URL of the repository.
    pub url: String,
}

impl GitServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("repo.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(
            dir.path(),
            &["init", "--bare", "-q", bare.to_str().unwrap()],
        );
        git(&work, &["init", "-q"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        let port = free_port();
        let daemon = keelson_testsupport::git_daemon()
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", dir.path().display()))
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the daemon accepts connections.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _dir: dir,
            work,
            daemon,
            url: format!("git://127.0.0.1:{port}/repo.git"),
        }
    }

    pub fn write(&self, path: &str, content: &str) {
        let file = self.work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.work.join(path)).unwrap();
    }

    /// Commits everything and pushes; returns the commit.
    pub fn push(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", message]);
        git(
            &self.work,
            &["push", "-q", "origin", "HEAD:refs/heads/main"],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

pub fn deployment(name: &str, replicas: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n"
    )
}

/// Installs (server-side applies) keelson's CRDs.
pub async fn install_crds(client: kube::Client) {
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client);
    for crd in keelson_api::crds() {
        apply(&crds, serde_json::to_value(&crd).unwrap()).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Starts the controller in-process, watching only `ns`, with its artifacts in `storage`.
pub async fn spawn_controller(
    ns: &TestNamespace,
    storage: &Path,
) -> tokio::task::JoinHandle<Result<(), keelson_controller::RunError>> {
    let config = keelson_controller::ControllerConfig {
        storage_path: storage.to_path_buf(),
        storage_addr: "127.0.0.1:0".parse().unwrap(),
        storage_advertise: None,
        requeue_dependency: Duration::from_secs(1),
        namespace: Some(ns.name().to_string()),
        kube_config: Some(keelson_testsupport::config().await),
        default_service_account: None,
    };
    tokio::spawn(keelson_controller::run(ns.client(), config))
}

/// Installs keelson's CRDs and starts the controller in-process, watching only `ns`; the
/// returned directory holds the artifact storage and must outlive the controller.
pub async fn start_controller(
    ns: &TestNamespace,
) -> (
    tokio::task::JoinHandle<Result<(), keelson_controller::RunError>>,
    tempfile::TempDir,
) {
    install_crds(ns.client()).await;
    let storage = tempfile::tempdir().unwrap();
    let handle = spawn_controller(ns, storage.path()).await;
    (handle, storage)
}

pub async fn ready_at(api: &Api<Kustomization>, name: &str, revision: &str) -> Kustomization {
    eventually(
        &format!("Kustomization {name} Ready at {revision}"),
        WAIT,
        || {
            let api = api.clone();
            let name = name.to_string();
            let revision = revision.to_string();
            async move {
                let ks = api.get(&name).await.ok()?;
                let status = ks.status.clone()?;
                (condition::is_true(&status.conditions, "Ready")
                    && status.last_applied_revision.as_deref() == Some(revision.as_str()))
                .then_some(ks)
            }
        },
    )
    .await
}
