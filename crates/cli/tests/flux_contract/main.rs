//! Contract tests: the real `flux` and `helm` CLIs (built by the test environment from their own
//! modules) drive a namespace reconciled by the `keelson controller` binary. Users keep their
//! `flux` and `helm` habits and scripts, so every command that reads or writes the Flux API or
//! Helm's release records must behave against keelson as against Flux's controllers: the exit
//! code and the lines the tool prints on success. A command that waits (create, reconcile,
//! resume) only succeeds when keelson's status says what flux and kstatus read —
//! `observedGeneration` on the status and on every condition, `lastHandledReconcileAt`, the
//! artifact revision — so this is where a status bug shows.
//!
//! Per kind (each file holds one):
//! - `kustomize.rs`: GitRepository and Kustomization.
//! - `helm.rs`: HelmRelease (chart from a GitRepository) and the helm CLI on its release.
//! - `sources.rs`: HelmRepository, HelmChart, OCIRepository, and a HelmRelease by `chartRef`.
//!
//! Not run here, because they need Flux's own controller Deployments in `flux-system`:
//! `flux check` (keelson's `check` covers it, operator_cli.rs) and `flux logs` (keelson's
//! `logs`, logs_cli.rs). `flux create … --export` text is compared with keelson's own in
//! create_export.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helm;
mod kustomize;
mod sources;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use keelson_testsupport::{TestNamespace, apply, kubeconfig_path, tool};
use kube::api::Api;

/// What a command printed and how it exited.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

async fn run(program: PathBuf, args: &[&str], tail: &[&str]) -> Run {
    let out = tokio::process::Command::new(&program)
        .args(args)
        .args(tail)
        .env("KUBECONFIG", kubeconfig_path())
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("keelson-contract-helm"),
        )
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The namespace's CRDs and a `keelson controller` process watching only it; the process is
/// killed when this is dropped, and its log goes into failure messages.
pub(crate) struct Cluster {
    pub(crate) ns: TestNamespace,
    child: tokio::process::Child,
    _storage: tempfile::TempDir,
    log: PathBuf,
}

impl Cluster {
    pub(crate) async fn start(prefix: &str) -> Self {
        let ns = TestNamespace::create(prefix).await;
        let crds: Api<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        > = Api::all(ns.client());
        for crd in keelson_api::crds() {
            apply(&crds, serde_json::to_value(&crd).unwrap()).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let storage = tempfile::tempdir().unwrap();
        let log = storage.path().join("controller.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
            .args([
                "controller",
                "--namespace",
                ns.name(),
                "--storage-addr",
                "127.0.0.1:0",
            ])
            .args([
                "--requeue-dependency-seconds",
                "1",
                "--log-encoding",
                "console",
            ])
            .args(["--health-addr", "127.0.0.1:0"])
            .arg("--storage-path")
            .arg(storage.path().join("artifacts"))
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self {
            ns,
            child,
            _storage: storage,
            log,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.ns.name()
    }

    /// `flux ARGS -n NS`, bounded by flux's own `--timeout`.
    pub(crate) async fn flux(&self, args: &[&str]) -> Run {
        let tail = ["--namespace", self.ns.name(), "--timeout", "90s"];
        run(tool("flux"), args, &tail).await
    }

    /// `helm ARGS -n NS`.
    pub(crate) async fn helm(&self, args: &[&str]) -> Run {
        run(tool("helm"), args, &["--namespace", self.ns.name()]).await
    }

    /// `keelson ARGS -n NS`.
    pub(crate) async fn keelson(&self, args: &[&str]) -> Run {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_keelson"));
        run(bin, args, &["-n", self.ns.name()]).await
    }

    /// Asserts the command succeeded and printed every one of `lines` (substrings); the
    /// controller's log tail is in the message when it did not.
    pub(crate) fn ok(&self, what: &str, run: &Run, lines: &[&str]) {
        let text = run.text();
        let missing: Vec<&&str> = lines.iter().filter(|l| !text.contains(**l)).collect();
        if run.code != 0 || !missing.is_empty() {
            panic!(
                "{what}: exit code {}, missing {missing:?} in:\n{text}\n--- controller log (tail) ---\n{}",
                run.code,
                self.log_tail()
            );
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// A ConfigMap of the namespace, if it exists.
    pub(crate) async fn configmap(
        &self,
        name: &str,
    ) -> Option<k8s_openapi::api::core::v1::ConfigMap> {
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> = self.ns.api();
        api.get_opt(name).await.unwrap()
    }

    /// Waits until `check` holds (60 s at most).
    pub(crate) async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !check().await {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}\n--- controller log (tail) ---\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The cell under `header` in the row of `flux get` output whose first cell is `name` (cells
/// are split at whitespace, so only columns before MESSAGE are meaningful).
pub(crate) fn column(table: &str, name: &str, header: &str) -> Option<String> {
    let mut lines = table.lines();
    let index = lines.next()?.split_whitespace().position(|h| h == header)?;
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&name))
        .and_then(|cells| cells.get(index).map(|c| (*c).to_string()))
}

/// The RUNNING count of `kind`'s row in `flux stats` output.
pub(crate) fn running(stats: &str, kind: &str) -> Option<String> {
    stats
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&kind))
        .and_then(|cells| cells.get(1).map(|c| (*c).to_string()))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
