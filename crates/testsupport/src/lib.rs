//! Test support for keelson: a client for the local control plane and isolated namespaces.
//!
//! keelson's integration tests run against the real control plane started by `testenv/up.sh`
//! (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1). This
//! crate finds that control plane, hands out a [`kube::Client`] for it and creates a fresh,
//! uniquely named namespace per test, so tests can run in parallel against one control plane.
//!
//! If the control plane is not running, [`client`] panics with a message that says how to start
//! it: a cluster test never passes by skipping itself.
//!
//! # Example
//! ```no_run
//! # async fn example() {
//! let ns = keelson_testsupport::TestNamespace::create("example").await;
//! // ... create objects in `ns.name()` through `ns.client()` ...
//! # }
//! ```

pub mod charts;
pub mod git;
mod registry;

pub use registry::Registry;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Environment variable naming the kubeconfig of the control plane under test.
pub const KUBECONFIG_ENV: &str = "KEELSON_KUBECONFIG";
/// Environment variable naming the state directory of `testenv/up.sh`.
pub const RUN_DIR_ENV: &str = "KEELSON_TESTENV_RUN";
/// Label put on every namespace a test creates, so leftovers can be found and removed.
pub const TEST_LABEL: &str = "keelson.test/ephemeral";
/// The field manager tests use for server-side apply.
pub const FIELD_MANAGER: &str = "keelson-test";

const HOW_TO_START: &str = "start the local control plane with `testenv/up.sh` \
     (or run the whole suite with `scripts/test.sh`, which starts it itself)";

/// The path of the kubeconfig written by `testenv/up.sh`.
///
/// `$KEELSON_KUBECONFIG` if set, else `$KEELSON_TESTENV_RUN/kubeconfig`, else
/// `~/.cache/keelson/run/kubeconfig`.
pub fn kubeconfig_path() -> PathBuf {
    if let Some(path) = std::env::var_os(KUBECONFIG_ENV) {
        return PathBuf::from(path);
    }
    run_dir().join("kubeconfig")
}

/// The state directory of the running test environment (kubeconfig, certificates, logs).
pub fn run_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(RUN_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/keelson/run")
}

/// A client configuration for the control plane under test.
///
/// # Panics
/// If no kubeconfig exists at [`kubeconfig_path`] or it cannot be read; the message says how to
/// start the control plane.
pub async fn config() -> Config {
    install_crypto_provider();
    let path = kubeconfig_path();
    let kubeconfig = match Kubeconfig::read_from(&path) {
        Ok(kubeconfig) => kubeconfig,
        Err(err) => panic!(
            "the keelson test control plane is not up (no usable kubeconfig at {}: {err}); {HOW_TO_START}",
            path.display()
        ),
    };
    match Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await {
        Ok(config) => config,
        Err(err) => panic!(
            "invalid kubeconfig {}: {err}; {HOW_TO_START}",
            path.display()
        ),
    }
}

/// Selects rustls' ring provider for the process: several dependencies enable both ring and
/// aws-lc-rs, and rustls refuses to guess. Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for the control plane under test, after checking that the API server answers.
///
/// # Panics
/// If the control plane is not running or does not answer; the message says how to start it.
pub async fn client() -> Client {
    let config = config().await;
    let server = config.cluster_url.clone();
    let client = match Client::try_from(config) {
        Ok(client) => client,
        Err(err) => panic!("cannot build a client for {server}: {err}"),
    };
    if let Err(err) = client.apiserver_version().await {
        panic!(
            "the keelson test control plane at {server} does not answer ({err}); {HOW_TO_START}"
        );
    }
    client
}

/// The root of the keelson workspace (the directory holding `Cargo.toml` and `testenv/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|crates| crates.parent())
        .map_or(manifest.clone(), PathBuf::from)
}

/// The team's shared folder (`../shared` beside the repository, or `$KEELSON_SHARED`), which
/// holds the test corpus.
///
/// # Panics
/// If the folder does not exist.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("KEELSON_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    assert!(
        dir.is_dir(),
        "the shared folder {} is missing (set KEELSON_SHARED to its path)",
        dir.display()
    );
    dir
}

/// The path of a tool built by `testenv/build.sh` (a reference tool such as `kustomize`, `helm`,
/// `sops`, `age`, `kubeconform`, `gitleaks`, `flux`, or a control-plane binary).
///
/// Uses `$KEELSON_TESTENV_BIN` if set, else asks `testenv/build.sh --print-bin`.
///
/// # Panics
/// If the tool has not been built; the message says how to build it.
pub fn tool(name: &str) -> PathBuf {
    let bin = match std::env::var_os("KEELSON_TESTENV_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let script = workspace_root().join("testenv/build.sh");
            let output = std::process::Command::new("bash")
                .arg(&script)
                .arg("--print-bin")
                .output();
            match output {
                Ok(out) if out.status.success() => {
                    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
                }
                Ok(out) => panic!(
                    "{} --print-bin failed: {}",
                    script.display(),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(err) => panic!("running {}: {err}", script.display()),
            }
        }
    };
    let path = bin.join(name);
    assert!(
        path.exists(),
        "reference tool {name} is not built ({} missing); run `testenv/build.sh`",
        path.display()
    );
    path
}

/// A command running the `git-daemon` server directly. `git daemon …` runs `git-daemon` as a
/// child process, so killing the process it spawned would leave the server behind.
///
/// # Panics
/// If `git --exec-path` fails (git is not installed).
pub fn git_daemon() -> std::process::Command {
    let out = std::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git is installed");
    assert!(out.status.success(), "git --exec-path failed");
    let exec_path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::process::Command::new(PathBuf::from(exec_path).join("git-daemon"))
}

/// A namespace of its own for one test, deleted when dropped.
///
/// The name is `<prefix>-<random>` so that parallel tests and repeated runs never collide.
pub struct TestNamespace {
    client: Client,
    config: Config,
    name: String,
    keep: bool,
}

impl TestNamespace {
    /// Creates a fresh namespace whose name starts with `prefix`.
    ///
    /// # Panics
    /// If the control plane is not up or the namespace cannot be created.
    pub async fn create(prefix: &str) -> Self {
        let config = config().await;
        let client = client().await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{}-{}", sanitize(prefix), &suffix[..8]);
        let ns: Namespace = match serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": name, "labels": { TEST_LABEL: "true" } },
        })) {
            Ok(ns) => ns,
            Err(err) => panic!("building namespace {name}: {err}"),
        };
        let api: Api<Namespace> = Api::all(client.clone());
        if let Err(err) = api.create(&PostParams::default(), &ns).await {
            panic!("creating test namespace {name}: {err}");
        }
        Self {
            client,
            config,
            name,
            keep: std::env::var_os("KEELSON_KEEP_NAMESPACES").is_some(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for the control plane.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An [`Api`] for namespaced objects of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "keeping test namespace {} (KEELSON_KEEP_NAMESPACES)",
                self.name
            );
            return;
        }
        // Drop cannot be async: issue the delete from a thread with its own runtime and its own
        // client (the test's client is driven by the test's runtime, which this join blocks).
        // Deletion is only requested; the namespace controller finalizes it in the background.
        let config = self.config.clone();
        let name = self.name.clone();
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(client) = Client::try_from(config) {
                        let api: Api<Namespace> = Api::all(client);
                        let params = DeleteParams::background();
                        let delete = api.delete(&name, &params);
                        let _ = tokio::time::timeout(Duration::from_secs(10), delete).await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}

/// Server-side applies `object` (a JSON value with apiVersion, kind and metadata.name) through
/// `api` with the test field manager, forcing conflicts.
///
/// # Panics
/// If the apply fails.
pub async fn apply<K>(api: &Api<K>, object: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api.patch(&name, &params, &Patch::Apply(&object)).await {
        Ok(applied) => applied,
        Err(err) => panic!("server-side apply of {name} failed: {err}"),
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Lower-cases and replaces characters that are not allowed in a namespace name.
fn sanitize(prefix: &str) -> String {
    let cleaned: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let short: String = trimmed.chars().take(40).collect();
    if short.is_empty() {
        "test".to_string()
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn namespace_prefixes_are_valid_dns_labels() {
        assert_eq!(sanitize("Kustomize_Apply"), "kustomize-apply");
        assert_eq!(sanitize("--"), "test");
        assert_eq!(sanitize(&"a".repeat(60)).len(), 40);
    }
}
