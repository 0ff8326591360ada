//! The HelmRelease reconciler end to end on the real control plane, with a chart packaged by the
//! real `helm package` and served through the chart-source seam: install with values from a
//! ConfigMap, upgrade when the ConfigMap changes, drift corrected (`enabled`) and reported
//! (`warn`), a failing install hook retried then remediated, a failing upgrade rolled back, the
//! real helm CLI listing the releases, and uninstall on deletion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helm_common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_api::{HelmRelease, condition};
use keelson_controller::chartsource::{ChartArtifact, ChartSource};
use keelson_testsupport::{TestNamespace, apply, eventually, kubeconfig_path, tool};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use helm_common::{WAIT, cm_message, helm_json, install_crds, release_ready};

/// Charts by the name used in `chartRef`.
#[derive(Default)]
struct LocalCharts {
    charts: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl ChartSource for LocalCharts {
    fn fetch<'a>(&'a self, hr: &'a HelmRelease) -> BoxFuture<'a, Result<ChartArtifact, String>> {
        Box::pin(async move {
            let name = hr
                .spec
                .chart_ref
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let archive = self
                .charts
                .lock()
                .unwrap()
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("chart {name} not found"))?;
            Ok(ChartArtifact {
                archive,
                revision: "0.1.0".into(),
                digest: None,
                origin: format!("local/{name}"),
                helm_chart: None,
            })
        })
    }
}

fn packaged_chart() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let chart = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../release/tests/charts/demo");
    let out = Command::new(tool("helm"))
        .arg("package")
        .arg(&chart)
        .arg("-d")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm package: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("demo-0.1.0.tgz")).unwrap()
}

/// A chart rendering a different token every time (as grafana's generated admin password),
/// packaged by the real helm.
fn random_chart() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("random");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: random\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-token\nstringData:\n  token: {{ randAlphaNum 24 | quote }}\n",
    )
    .unwrap();
    let out = Command::new(tool("helm"))
        .arg("package")
        .arg(&chart)
        .arg("-d")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm package: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("random-1.0.0.tgz")).unwrap()
}

/// Installs the CRDs and starts the HelmRelease reconciler for `ns` with local charts.
async fn start(ns: &TestNamespace) -> (tokio::task::JoinHandle<()>, tempfile::TempDir) {
    install_crds(ns.client()).await;
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = keelson_source::Storage::new(storage_dir.path(), "127.0.0.1:1").unwrap();
    let ctx = Arc::new(keelson_controller::Context::new(
        ns.client(),
        storage,
        Duration::from_secs(1),
        Some(ns.name().to_string()),
    ));
    let charts = LocalCharts::default();
    charts
        .charts
        .lock()
        .unwrap()
        .insert("demo".into(), packaged_chart());
    charts
        .charts
        .lock()
        .unwrap()
        .insert("random".into(), random_chart());
    let handle = tokio::spawn(keelson_controller::helmrelease::run(ctx, Arc::new(charts)));
    (handle, storage_dir)
}

fn helmrelease(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["interval"] = json!("1m");
    spec["chartRef"] = json!({"kind": "OCIRepository", "name": "demo"});
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name},
        "spec": spec,
    })
}

async fn condition_of(
    api: &Api<HelmRelease>,
    name: &str,
    type_: &str,
) -> Option<(String, String, String)> {
    let hr = api.get(name).await.ok()?;
    let c = condition::get(&hr.status?.conditions, type_)?.clone();
    Some((c.status, c.reason, c.message))
}

#[tokio::test]
async fn install_upgrade_on_values_change_drift_and_uninstall() {
    let ns = TestNamespace::create("hr-e2e").await;
    let (controller, _storage) = start(&ns).await;
    let hrs: Api<HelmRelease> = ns.api();
    let cms: Api<ConfigMap> = ns.api();
    let deployments: Api<Deployment> = ns.api();

    apply(
        &cms,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-values"},
               "data": {"custom.yaml": "message: from configmap\nreplicaCount: 2\n"}}),
    )
    .await;
    apply(
        &hrs,
        helmrelease(
            "web",
            json!({
                "valuesFrom": [
                    {"kind": "ConfigMap", "name": "web-values", "valuesKey": "custom.yaml"},
                    {"kind": "Secret", "name": "not-there", "optional": true}
                ],
                "values": {"image": {"tag": "1.28"}},
                "driftDetection": {"mode": "enabled"},
                "install": {"remediation": {"retries": 3, "remediateLastFailure": true}}
            }),
        ),
    )
    .await;
    let hr = release_ready(&hrs, "web", 1).await;
    let status = hr.status.unwrap();
    let released = condition::get(&status.conditions, "Released").unwrap();
    assert_eq!(released.reason, "InstallSucceeded");
    assert!(
        released.message.contains(&format!(
            "Helm install succeeded for release {}/web.v1 with chart demo@0.1.0",
            ns.name()
        )),
        "{}",
        released.message
    );
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("from configmap")
    );
    let deployment = deployments.get("web-demo").await.unwrap();
    assert_eq!(deployment.spec.as_ref().unwrap().replicas, Some(2));
    let labels = deployment.metadata.labels.clone().unwrap();
    assert_eq!(labels["helm.toolkit.fluxcd.io/name"], "web");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert!(status.inventory.unwrap().entries.len() >= 2);

    // The real helm sees the release.
    let list = helm_json(ns.name(), &["list"]);
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["status"], "deployed");

    // A change of the ConfigMap upgrades the release.
    apply(
        &cms,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-values"},
               "data": {"custom.yaml": "message: changed\nreplicaCount: 2\n"}}),
    )
    .await;
    let hr = release_ready(&hrs, "web", 2).await;
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("changed")
    );
    let released = condition::get(&hr.status.unwrap().conditions, "Released")
        .unwrap()
        .clone();
    assert_eq!(released.reason, "UpgradeSucceeded");
    let history = helm_json(ns.name(), &["history", "web"]);
    assert_eq!(history.as_array().unwrap().len(), 2);

    // Drift (enabled): a manual edit is reverted.
    let edit = json!({"spec": {"replicas": 5}});
    deployments
        .patch("web-demo", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(
            &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "drift-1"}}}),
        ),
    )
    .await
    .unwrap();
    eventually("drift to be corrected", WAIT, || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("web-demo").await.ok()?;
            (d.spec?.replicas == Some(2)).then_some(())
        }
    })
    .await;

    // Drift (warn): reported, not corrected.
    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"driftDetection": {"mode": "warn"}}})),
    )
    .await
    .unwrap();
    // Edit only once the controller works from the new spec (a reconcile of the old one may
    // still be running and would correct the edit).
    eventually("warn mode to be observed", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let hr = hrs.get("web").await.ok()?;
            (hr.status?.observed_generation == hr.metadata.generation).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    deployments
        .patch("web-demo", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(
            &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "drift-2"}}}),
        ),
    )
    .await
    .unwrap();
    let drifted = eventually("drift to be reported", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let (status, reason, message) = condition_of(&hrs, "web", "Drifted").await?;
            (status == "True").then_some((reason, message))
        }
    })
    .await;
    assert_eq!(drifted.0, "DriftDetected");
    assert!(drifted.1.contains("web-demo"), "{}", drifted.1);
    let d = deployments.get("web-demo").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(5));

    // Deleting the HelmRelease uninstalls the release.
    hrs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("uninstall on deletion", WAIT, || {
        let hrs = hrs.clone();
        let cms = cms.clone();
        async move {
            let gone = hrs.get_opt("web").await.ok()?.is_none();
            let cm_gone = cms.get_opt("web-demo").await.ok()?.is_none();
            (gone && cm_gone).then_some(())
        }
    })
    .await;
    assert_eq!(
        helm_json(
            ns.name(),
            &[
                "list",
                "--deployed",
                "--failed",
                "--pending",
                "--uninstalled",
                "--uninstalling"
            ]
        ),
        json!([])
    );
    controller.abort();
}

#[tokio::test]
async fn failing_install_is_retried_then_remediated() {
    let ns = TestNamespace::create("hr-install-fail").await;
    let (controller, _storage) = start(&ns).await;
    let hrs: Api<HelmRelease> = ns.api();
    apply(
        &hrs,
        helmrelease(
            "broken",
            json!({
                "timeout": "30s",
                "values": {"hook": {"fail": true}},
                "install": {"remediation": {"retries": 2, "remediateLastFailure": true}}
            }),
        ),
    )
    .await;
    let hr = eventually("install retries to be exhausted", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let hr = hrs.get("broken").await.ok()?;
            let status = hr.status.clone()?;
            condition::is_true(&status.conditions, "Stalled").then_some(hr)
        }
    })
    .await;
    let status = hr.status.unwrap();
    assert_eq!(status.install_failures, Some(3));
    let ready = condition::get(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.status, "False");
    let stalled = condition::get(&status.conditions, "Stalled").unwrap();
    assert_eq!(stalled.reason, "RetriesExceeded");
    assert_eq!(stalled.message, "Failed to install after 3 attempt(s)");
    let released = condition::get(&status.conditions, "Released").unwrap();
    assert_eq!(released.reason, "InstallFailed");
    assert!(
        released
            .message
            .contains("pre-install hook Job/broken-demo-pre failed"),
        "{}",
        released.message
    );
    // Each failed attempt was remediated by an uninstall: nothing is left behind.
    let remediated = condition::get(&status.conditions, "Remediated").unwrap();
    assert_eq!(
        (remediated.status.as_str(), remediated.reason.as_str()),
        ("True", "UninstallSucceeded")
    );
    assert!(cm_message(&ns, "broken-demo").await.is_none());
    assert_eq!(
        helm_json(
            ns.name(),
            &[
                "list",
                "--deployed",
                "--failed",
                "--pending",
                "--uninstalled",
                "--uninstalling"
            ]
        ),
        json!([])
    );
    controller.abort();
}

#[tokio::test]
async fn failing_upgrade_is_rolled_back() {
    let ns = TestNamespace::create("hr-upgrade-fail").await;
    let (controller, _storage) = start(&ns).await;
    let hrs: Api<HelmRelease> = ns.api();
    apply(
        &hrs,
        helmrelease(
            "app",
            json!({
                "timeout": "30s",
                "values": {"message": "v1"},
                "upgrade": {"remediation": {"retries": 0, "remediateLastFailure": true, "strategy": "rollback"}}
            }),
        ),
    )
    .await;
    release_ready(&hrs, "app", 1).await;
    hrs.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"values": {"message": "v2", "hook": {"fail": true}}}})),
    )
    .await
    .unwrap();
    let (status, reason, message) =
        eventually("the failed upgrade to be rolled back", WAIT, || {
            let hrs = hrs.clone();
            async move {
                let r = condition_of(&hrs, "app", "Remediated").await?;
                (r.0 == "True").then_some(r)
            }
        })
        .await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "RollbackSucceeded")
    );
    assert!(
        message.contains("Helm rollback to previous release"),
        "{message}"
    );
    let (ready, ready_reason, _) = condition_of(&hrs, "app", "Ready").await.unwrap();
    assert_eq!(
        (ready.as_str(), ready_reason.as_str()),
        ("False", "RollbackSucceeded")
    );
    assert_eq!(cm_message(&ns, "app-demo").await.as_deref(), Some("v1"));
    let history = helm_json(ns.name(), &["history", "app"]);
    let rows: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_string(),
                h["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows[0], ("superseded".into(), "Install complete".into()));
    assert_eq!(rows[1].0, "failed");
    assert_eq!(rows[2], ("deployed".into(), "Rollback to 1".into()));
    controller.abort();
}

#[tokio::test]
async fn a_chart_rendering_random_values_is_not_upgraded_by_a_no_op_reconcile() {
    let ns = TestNamespace::create("hr-random").await;
    let (controller, _storage) = start(&ns).await;
    let hrs: Api<HelmRelease> = ns.api();
    let mut object = helmrelease("rnd", json!({}));
    object["spec"]["chartRef"]["name"] = json!("random");
    apply(&hrs, object).await;
    release_ready(&hrs, "rnd", 1).await;
    // A requested reconcile with the same chart and values: handled, still release v1.
    hrs.patch(
        "rnd",
        &PatchParams::default(),
        &Patch::Merge(
            &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
        ),
    )
    .await
    .unwrap();
    let hr = eventually("the requested reconcile to be handled", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let hr = hrs.get("rnd").await.ok()?;
            let handled = hr.status.as_ref()?.last_handled_reconcile_at.as_deref() == Some("now");
            handled.then_some(hr)
        }
    })
    .await;
    let status = hr.status.unwrap();
    assert!(condition::is_true(&status.conditions, "Ready"));
    assert_eq!(status.history.len(), 1, "{:?}", status.history);
    assert_eq!(status.history[0].version, 1);
    controller.abort();
}

fn helm_manifest(ns: &str, release: &str) -> String {
    let out = Command::new(tool("helm"))
        .args(["get", "manifest", release, "--namespace", ns])
        .env("KUBECONFIG", kubeconfig_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm get manifest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn container_image(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

#[tokio::test]
async fn post_renderers_and_common_metadata_change_the_release() {
    let ns = TestNamespace::create("hr-postrender").await;
    let (controller, _storage) = start(&ns).await;
    let hrs: Api<HelmRelease> = ns.api();
    let deployments: Api<Deployment> = ns.api();
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = ns.api();
    let label =
        |d: &Deployment, key: &str| d.metadata.labels.as_ref().and_then(|l| l.get(key).cloned());
    let post_renderers = |tag: &str| {
        json!([{"kustomize": {
            "patches": [
                {"target": {"kind": "Deployment"},
                 "patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\n  labels:\n    team: platform\n"},
                {"target": {"kind": "ConfigMap", "name": ".*-demo"},
                 "patch": "- op: replace\n  path: /data/message\n  value: patched\n"},
                {"target": {"kind": "Job"},
                 "patch": "- op: add\n  path: /metadata/labels\n  value: {hooked: \"yes\"}\n"}
            ],
            "images": [{"name": "nginx", "newName": "mirror.example/nginx", "newTag": tag}]
        }}])
    };
    apply(
        &hrs,
        helmrelease(
            "pr",
            json!({"values": {"hook": {"enabled": true}}, "postRenderers": post_renderers("9.9")}),
        ),
    )
    .await;
    let hr = release_ready(&hrs, "pr", 1).await;
    let digest_v1 = hr.status.unwrap().observed_post_renderers_digest.unwrap();
    assert!(digest_v1.starts_with("sha256:"), "{digest_v1}");
    let d = deployments.get("pr-demo").await.unwrap();
    assert_eq!(container_image(&d), "mirror.example/nginx:9.9");
    assert_eq!(label(&d, "team").as_deref(), Some("platform"));
    assert_eq!(cm_message(&ns, "pr-demo").await.as_deref(), Some("patched"));
    // Flux 2.9's default strategy (combined) post-renders the hooks too.
    let job = jobs.get("pr-demo-pre").await.unwrap();
    assert_eq!(
        job.metadata
            .labels
            .unwrap_or_default()
            .get("hooked")
            .map(String::as_str),
        Some("yes")
    );
    // The real helm reads the post-rendered manifest, templates still named.
    let manifest = helm_manifest(ns.name(), "pr");
    assert!(manifest.contains("mirror.example/nginx:9.9"), "{manifest}");
    assert!(
        manifest.contains("# Source: demo/templates/deployment.yaml"),
        "{manifest}"
    );

    // A changed post-renderer (same chart, same values) upgrades; `nohooks` leaves the hook
    // (recreated before the upgrade) unpatched.
    hrs.patch(
        "pr",
        &PatchParams::default(),
        &Patch::Merge(
            &json!({"spec": {"postRenderers": post_renderers("9.10"), "postRenderStrategy": "nohooks"}}),
        ),
    )
    .await
    .unwrap();
    let hr = release_ready(&hrs, "pr", 2).await;
    let digest_v2 = hr.status.unwrap().observed_post_renderers_digest.unwrap();
    assert_ne!(digest_v1, digest_v2);
    let d = deployments.get("pr-demo").await.unwrap();
    assert_eq!(container_image(&d), "mirror.example/nginx:9.10");
    let job = jobs.get("pr-demo-pre").await.unwrap();
    assert_eq!(job.metadata.labels.unwrap_or_default().get("hooked"), None);

    // Without post-renderers the chart's own manifest is applied again.
    hrs.patch(
        "pr",
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([{"op": "remove", "path": "/spec/postRenderers"}]))
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    let hr = release_ready(&hrs, "pr", 3).await;
    assert_eq!(hr.status.unwrap().observed_post_renderers_digest, None);
    let d = deployments.get("pr-demo").await.unwrap();
    assert_eq!(container_image(&d), "nginx:1.27");
    assert_eq!(label(&d, "team"), None);
    assert_eq!(cm_message(&ns, "pr-demo").await.as_deref(), Some("hello"));

    // Common metadata, likewise, is a change of the release's objects: it upgrades.
    hrs.patch(
        "pr",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"commonMetadata": {"labels": {"tier": "web"}}}})),
    )
    .await
    .unwrap();
    let hr = release_ready(&hrs, "pr", 4).await;
    assert!(hr.status.unwrap().observed_common_metadata_digest.is_some());
    let d = deployments.get("pr-demo").await.unwrap();
    assert_eq!(label(&d, "tier").as_deref(), Some("web"));

    // A broken post-renderer fails the reconcile with its index; nothing is applied.
    hrs.patch(
        "pr",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"postRenderers": [
            {"kustomize": {"images": [{"name": "nginx", "newTag": "1.0"}]}},
            {"kustomize": {"patches": [{"target": {"kind": "ConfigMap"}, "patch": "- op: frobnicate\n  path: /data\n"}]}}
        ]}})),
    )
    .await
    .unwrap();
    let message = eventually("the broken post-renderer to be reported", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let (status, _, message) = condition_of(&hrs, "pr", "Ready").await?;
            (status == "False").then_some(message)
        }
    })
    .await;
    assert!(message.contains("post-renderer 1 failed"), "{message}");
    let d = deployments.get("pr-demo").await.unwrap();
    assert_eq!(container_image(&d), "nginx:1.27");
    assert_eq!(
        helm_json(ns.name(), &["history", "pr"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
    controller.abort();
}
