//! What the controller's end-to-end tests share: the in-process controller and waits on
//! Kustomization status (repositories to push to: `keelson_testsupport::git::TestRepo`).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;
use std::time::Duration;

use keelson_api::{Kustomization, condition};
use keelson_testsupport::{TestNamespace, apply, eventually};
use kube::api::Api;

/// How long a test waits for the controller to converge.
pub const WAIT: Duration = Duration::from_secs(90);

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
        ..Default::default()
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
