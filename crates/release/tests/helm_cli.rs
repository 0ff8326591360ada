//! keelson's release storage is the helm CLI's: a release keelson installs shows in the real
//! helm's `helm list`, `helm history`, `helm get values` and `helm get manifest`, helm can
//! upgrade it, and a release `helm install` created is read and upgraded by keelson — all on the
//! real control plane, with a chart packaged by the real `helm package`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use keelson_release::render::{Rendered, Settings};
use keelson_release::{CrdPolicy, Engine, Request, Storage};
use keelson_testsupport::{TestNamespace, kubeconfig_path, tool};
use serde_json::{Value, json};

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/charts/demo")
}

/// Packages the test chart with the real `helm package`; returns the archive's path.
fn package(out: &Path) -> PathBuf {
    let status = Command::new(tool("helm"))
        .arg("package")
        .arg(chart_dir())
        .arg("-d")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "helm package: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out.join("demo-0.1.0.tgz")
}

fn helm(ns: &str, args: &[&str]) -> String {
    let out = Command::new(tool("helm"))
        .args(args)
        .args(["--namespace", ns])
        .env("KUBECONFIG", kubeconfig_path())
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("keelson-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("keelson-helm-config"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn helm_json(ns: &str, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&helm(ns, &all)).unwrap()
}

fn request(ns: &TestNamespace, name: &str) -> Request {
    Request {
        name: name.into(),
        namespace: ns.name().into(),
        storage: Storage::new(ns.client(), ns.name()),
        owner_labels: BTreeMap::new(),
        common_labels: BTreeMap::new(),
        common_annotations: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        wait: true,
        wait_for_jobs: true,
        disable_hooks: false,
        max_history: 5,
        force: false,
        crds: CrdPolicy::Create,
        create_namespace: false,
        keep_history: false,
    }
}

fn render(archive: &Path, name: &str, ns: &str, values: &Value) -> Rendered {
    let bytes = std::fs::read(archive).unwrap();
    let settings = Settings {
        release_name: name.into(),
        namespace: ns.into(),
        ..Default::default()
    };
    keelson_release::render::render("demo", &bytes, values.as_object().unwrap(), &settings).unwrap()
}

async fn message(ns: &TestNamespace, name: &str) -> String {
    let cms: kube::Api<ConfigMap> = ns.api();
    let cm = cms.get(&format!("{name}-demo")).await.unwrap();
    cm.data.unwrap()["message"].clone()
}

#[tokio::test]
async fn keelson_releases_are_helm_releases() {
    let ns = TestNamespace::create("rel-helm-cli").await;
    let dir = tempfile::tempdir().unwrap();
    let archive = package(dir.path());
    let engine = Engine::new(ns.client(), "helm-controller");
    let req = request(&ns, "web");

    // keelson installs; helm sees it.
    let values = json!({"replicaCount": 2, "message": "from keelson"});
    let rendered = render(&archive, "web", ns.name(), &values);
    let v1 = engine
        .install(&req, &rendered, values.as_object().unwrap().clone())
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let list = helm_json(ns.name(), &["list"]);
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    assert_eq!(list[0]["app_version"], "1.0.0");
    assert_eq!(
        helm_json(ns.name(), &["get", "values", "web"]),
        json!({"replicaCount": 2, "message": "from keelson"})
    );
    assert_eq!(
        helm(ns.name(), &["get", "manifest", "web"]).trim(),
        rendered.manifest.trim()
    );
    assert!(helm(ns.name(), &["get", "notes", "web"]).contains("demo 0.1.0 installed as web"));
    assert_eq!(message(&ns, "web").await, "from keelson");

    // helm upgrades keelson's release (server-side, taking the fields over).
    helm(
        ns.name(),
        &[
            "upgrade",
            "web",
            archive.to_str().unwrap(),
            "--set",
            "message=from helm",
            "--force-conflicts",
        ],
    );
    assert_eq!(message(&ns, "web").await, "from helm");

    // keelson reads helm's version and upgrades on top of it.
    let v2 = req.storage.deployed("web").await.unwrap().unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.config["message"], "from helm");
    let values = json!({"message": "keelson again", "extraConfigMap": true});
    let rendered = render(&archive, "web", ns.name(), &values);
    let v3 = engine
        .upgrade(&req, &rendered, values.as_object().unwrap().clone(), &v2)
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(message(&ns, "web").await, "keelson again");

    let history = helm_json(ns.name(), &["history", "web"]);
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["superseded", "superseded", "deployed"]);
    assert_eq!(history[0]["description"], "Install complete");
    assert_eq!(history[2]["description"], "Upgrade complete");
    assert_eq!(history[2]["chart"], "demo-0.1.0");

    // keelson uninstalls: helm sees nothing, the objects are gone.
    engine.uninstall(&req).await.unwrap();
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
    let cms: kube::Api<ConfigMap> = ns.api();
    assert!(cms.get_opt("web-demo-extra").await.unwrap().is_none());
}

#[tokio::test]
async fn helm_installed_releases_are_upgraded_by_keelson() {
    let ns = TestNamespace::create("rel-helm-takeover").await;
    let dir = tempfile::tempdir().unwrap();
    let archive = package(dir.path());
    helm(
        ns.name(),
        &[
            "install",
            "legacy",
            archive.to_str().unwrap(),
            "--set",
            "message=installed by helm",
        ],
    );
    let engine = Engine::new(ns.client(), "helm-controller");
    let req = request(&ns, "legacy");
    let current = req.storage.deployed("legacy").await.unwrap().unwrap();
    assert_eq!(current.version, 1);
    assert_eq!(current.chart_name(), "demo");
    assert_eq!(current.config["message"], "installed by helm");

    let values = json!({"message": "upgraded by keelson", "hook": {"enabled": true}});
    let rendered = render(&archive, "legacy", ns.name(), &values);
    let v2 = engine
        .upgrade(
            &req,
            &rendered,
            values.as_object().unwrap().clone(),
            &current,
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(message(&ns, "legacy").await, "upgraded by keelson");
    // The pre-upgrade hook ran to completion and is recorded.
    assert_eq!(v2.hooks.len(), 1);
    let stored = req.storage.deployed("legacy").await.unwrap().unwrap();
    assert_eq!(stored.hooks[0].last_run.phase, "Succeeded");

    let list = helm_json(ns.name(), &["list"]);
    assert_eq!(list[0]["revision"], "2");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(
        helm_json(ns.name(), &["get", "values", "legacy"]),
        json!({"message": "upgraded by keelson", "hook": {"enabled": true}})
    );
    // helm can roll keelson's upgrade back.
    helm(ns.name(), &["rollback", "legacy", "1", "--force-conflicts"]);
    assert_eq!(message(&ns, "legacy").await, "installed by helm");
}
