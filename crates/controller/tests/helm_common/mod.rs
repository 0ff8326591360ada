//! What the Helm end-to-end tests (`helmrelease_e2e`, `helmsources_e2e`, `ocirepository_e2e`)
//! share: the whole controller in-process, the real helm CLI, and waits on HelmRelease status.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use keelson_api::{HelmRelease, condition};
use keelson_testsupport::{TestNamespace, kubeconfig_path, tool};
use kube::api::Api;

// The controller start is the Kustomization suites'.
#[path = "../common/mod.rs"]
mod base;
#[allow(unused_imports)] // not every suite uses both
pub use base::{install_crds, start_controller};

/// How long a test waits for the controller to converge.
pub const WAIT: Duration = Duration::from_secs(120);

/// Runs a command that must succeed (its stderr in the panic otherwise).
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The real helm's JSON output of `args` in `ns` (`list`, `history NAME`, …).
pub fn helm_json(ns: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(tool("helm"))
        .args(args)
        .args(["--namespace", ns, "-o", "json"])
        .env("KUBECONFIG", kubeconfig_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Ready condition (status, reason, message) of a namespaced object of kind `K`.
pub async fn ready_of<K>(api: &Api<K>, name: &str) -> Option<(String, String, String)>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object = api.get(name).await.ok()?;
    let value = serde_json::to_value(&object).ok()?;
    let c = value["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    Some((
        c["status"].as_str()?.to_string(),
        c["reason"].as_str()?.to_string(),
        c["message"].as_str()?.to_string(),
    ))
}

/// The `message` of ConfigMap `name` (the demo chart's), `None` when absent.
pub async fn cm_message(ns: &TestNamespace, name: &str) -> Option<String> {
    let cms: Api<ConfigMap> = ns.api();
    // A loaded CI machine sees transient API errors; only "not found" means absent.
    let mut last_error = None;
    for _ in 0..5 {
        match cms.get_opt(name).await {
            Ok(cm) => {
                return cm
                    .and_then(|cm| cm.data)
                    .and_then(|d| d.get("message").cloned());
            }
            Err(e) => {
                last_error = Some(e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    panic!("reading ConfigMap {name}: {last_error:?}")
}

/// Waits until the release is Ready at its generation with history version `version`; on
/// timeout the panic shows the last status seen.
pub async fn release_ready(api: &Api<HelmRelease>, name: &str, version: i64) -> HelmRelease {
    let mut last = None;
    let found = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(hr) = api.get(name).await {
                let ok = hr.status.as_ref().is_some_and(|s| {
                    condition::is_true(&s.conditions, "Ready")
                        && s.observed_generation == hr.metadata.generation
                        && s.history.first().map(|h| h.version) == Some(version)
                });
                if ok {
                    return hr;
                }
                last = Some(hr);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    match found {
        Ok(hr) => hr,
        Err(_) => panic!(
            "HelmRelease {name} not Ready at v{version}; last status: {:?}",
            last.and_then(|r| r.status)
        ),
    }
}
