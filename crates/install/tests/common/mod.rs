//! Test helpers: the real `kubectl` and `kubeconform`, schemas from the live apiserver, git
//! servers, and the controller running in-process.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use keelson_api::{Kustomization, condition};
use keelson_testsupport::{TestNamespace, eventually, kubeconfig_path, tool};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

/// How long cluster waits may take.
pub const WAIT: Duration = Duration::from_secs(120);

/// Runs the real kubectl against the test control plane; panics with its stderr on failure.
pub fn kubectl(args: &[&str]) -> String {
    let out = Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl apply --server-side --force-conflicts -f file`, as the seed's operators run it.
pub fn kubectl_apply(file: &Path) -> String {
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        file.to_str().unwrap(),
    ])
}

/// JSON schemas for kubeconform, one file per kind the apiserver serves (CRDs included), built
/// from its OpenAPI v2 document: each file is the kind's definition plus every definition it may
/// refer to; int-or-string fields accept both.
pub fn schemas_from_apiserver() -> tempfile::TempDir {
    let doc: Value = serde_json::from_str(&kubectl(&["get", "--raw", "/openapi/v2"])).unwrap();
    let mut definitions = doc["definitions"].as_object().unwrap().clone();
    for def in definitions.values_mut() {
        fix_int_or_string(def);
    }
    let dir = tempfile::tempdir().unwrap();
    let all = Value::Object(definitions.clone());
    for def in definitions.values() {
        let Some(gvks) = def["x-kubernetes-group-version-kind"].as_array() else {
            continue;
        };
        for gvk in gvks {
            let group = gvk["group"].as_str().unwrap_or_default();
            let version = gvk["version"].as_str().unwrap_or_default();
            let kind = gvk["kind"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let suffix = match group.split('.').next().unwrap_or_default() {
                "" => format!("-{version}"),
                first => format!("-{first}-{version}"),
            };
            let mut schema = def.clone();
            schema["definitions"] = all.clone();
            schema["$schema"] = json!("http://json-schema.org/draft-04/schema#");
            std::fs::write(
                dir.path().join(format!("{kind}{suffix}.json")),
                serde_json::to_vec(&schema).unwrap(),
            )
            .unwrap();
        }
    }
    dir
}

fn fix_int_or_string(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("int-or-string") {
                map.remove("type");
                map.remove("format");
                map.insert(
                    "oneOf".into(),
                    json!([{"type": "string"}, {"type": "integer"}]),
                );
            }
            for v in map.values_mut() {
                fix_int_or_string(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_int_or_string),
        _ => {}
    }
}

/// Runs the real kubeconform on `file` with `schemas`; returns (success, output).
pub fn kubeconform(file: &Path, schemas: &Path) -> (bool, String) {
    let out = Command::new(tool("kubeconform"))
        .arg("-summary")
        .arg("-output")
        .arg("text")
        .arg("-schema-location")
        .arg(format!(
            "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            schemas.display()
        ))
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// Not every test binary uses them.
#[allow(unused_imports)]
pub use keelson_testsupport::git::{GitServers as Servers, git};

/// Starts the controller in-process, watching only `ns`; the returned directory holds the
/// artifact storage and must outlive the controller.
pub fn start_controller(
    ns: &TestNamespace,
) -> (
    tokio::task::JoinHandle<Result<(), keelson_controller::RunError>>,
    tempfile::TempDir,
) {
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

/// Waits until Kustomization `name` is Ready at `revision`.
pub async fn ready_at(api: &Api<Kustomization>, name: &str, revision: &str) -> Kustomization {
    // On timeout, say what the object last looked like: a bare "timed out" hides the cause.
    let mut last = String::from("never read");
    let waited = tokio::time::timeout(WAIT, async {
        loop {
            match api.get(name).await {
                Ok(ks) => {
                    if let Some(status) = &ks.status
                        && condition::is_true(&status.conditions, "Ready")
                        && status.last_applied_revision.as_deref() == Some(revision)
                    {
                        return ks;
                    }
                    last = format!("{:?}", ks.status);
                }
                Err(e) => last = format!("read error: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    match waited {
        Ok(ks) => ks,
        Err(_) => panic!(
            "timed out after {WAIT:?} waiting for Kustomization {name} Ready at {revision}; last status: {last}"
        ),
    }
}

/// Sets reconcile.fluxcd.io/requestedAt on a namespaced object; returns the token.
pub async fn request_reconcile<K>(api: &Api<K>, name: &str) -> String
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let token = uuid_like();
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {keelson_api::RECONCILE_REQUESTED_AT: token}}}),
        ),
    )
    .await
    .unwrap();
    token
}

/// Requests a reconcile and waits until the controller has finished handling it; returns
/// whether the object ended Ready.
pub async fn reconciled<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let token = request_reconcile(api, name).await;
    eventually(&format!("{name} to handle request {token}"), WAIT, || {
        let api = api.clone();
        let name = name.to_string();
        let token = token.clone();
        async move {
            let value = serde_json::to_value(api.get(&name).await.ok()?).ok()?;
            let status = &value["status"];
            let conditions = status["conditions"].as_array()?;
            let cond = |t: &str| conditions.iter().find(|c| c["type"] == t).cloned();
            let reconciling = cond("Reconciling").is_some_and(|c| c["status"] == "True");
            let ready = cond("Ready")?;
            (status["lastHandledReconcileAt"] == token.as_str() && !reconciling)
                .then(|| ready["status"] == "True")
        }
    })
    .await
}

/// Reconciles the GitRepository and then the Kustomization named `name` until the
/// Kustomization is Ready (a Kustomization may first see the source's previous artifact).
pub async fn converge(
    repos: &Api<keelson_api::GitRepository>,
    kss: &Api<Kustomization>,
    name: &str,
) -> Kustomization {
    for _ in 0..5 {
        reconciled(repos, name).await;
        if reconciled(kss, name).await {
            return kss.get(name).await.unwrap();
        }
    }
    panic!("Kustomization {name} did not converge");
}

fn uuid_like() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Removes the finalizers of every Kustomization in the namespace, so that deleting the
/// namespace after the controller stopped does not hang (and never prunes anything).
pub async fn release_finalizers(ns: &TestNamespace) {
    let api: Api<Kustomization> = ns.api();
    let Ok(list) = api.list(&Default::default()).await else {
        return;
    };
    for ks in list {
        let name = kube::ResourceExt::name_any(&ks);
        let _ = api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
    }
}
