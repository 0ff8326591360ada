//! Helm sources end to end on the real control plane: a HelmRelease with `spec.chart` gets its
//! HelmChart, which resolves the version constraint against a HelmRepository's index served by
//! a loopback HTTP repository with basic auth (charts made by the real `helm package` and
//! `helm repo index`), then installs and upgrades; a version that does not exist gives a clear
//! Ready=False; wrong credentials fail without showing the password; a `type: oci`
//! HelmRepository stays a static object; a chart packaged from a GitRepository folder (its
//! `.helmignore` applied) with `valuesFiles` installs; `chartRef` to a HelmChart installs and
//! upgrades when the HelmChart gets a new version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../source/tests/common/mod.rs"]
mod common;
mod helm_common;

use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use keelson_api::{HelmChart, HelmRelease, HelmRepository, condition};
use keelson_testsupport::charts::{ChartServer, demo_repository};
use keelson_testsupport::{TestNamespace, apply, eventually};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use helm_common::{WAIT, cm_message, helm_json, ready_of, release_ready, run, start_controller};

/// A chart repository folder made by the real helm: demo 0.1.0 and 0.2.0, and its index.
fn chart_repository() -> tempfile::TempDir {
    demo_repository(&[("0.1.0", "hello v1"), ("0.2.0", "hello v2")])
}

async fn secret(ns: &TestNamespace, name: &str, data: &[(&str, &str)]) {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_string(),
                serde_json::to_value(ByteString(v.as_bytes().to_vec())).unwrap(),
            )
        })
        .collect();
    apply(
        &ns.api::<Secret>(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}),
    )
    .await;
}

async fn helm_repository(ns: &TestNamespace, name: &str, spec: Value) {
    apply(
        &ns.api::<HelmRepository>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": name}, "spec": spec}),
    )
    .await;
}

#[tokio::test]
async fn helmrelease_from_http_repository_with_basic_auth() {
    let ns = TestNamespace::create("hs-http").await;
    let repo_dir = chart_repository();
    let server = ChartServer::start(repo_dir.path(), Some(("charts", "s3cret-pass")));
    let (controller, storage) = start_controller(&ns).await;
    let repos: Api<HelmRepository> = ns.api();
    let hrs: Api<HelmRelease> = ns.api();
    let charts: Api<HelmChart> = ns.api();

    secret(
        &ns,
        "repo-auth",
        &[("username", "charts"), ("password", "s3cret-pass")],
    )
    .await;
    helm_repository(
        &ns,
        "charts",
        json!({"url": server.url(), "interval": "1m", "secretRef": {"name": "repo-auth"}}),
    )
    .await;
    let ready = eventually("HelmRepository Ready", WAIT, || {
        let repos = repos.clone();
        async move {
            let r = ready_of(&repos, "charts").await?;
            (r.0 == "True").then_some(r)
        }
    })
    .await;
    assert_eq!(ready.1, "Succeeded");
    let repo = repos.get("charts").await.unwrap();
    let status = repo.status.unwrap();
    let artifact = status.artifact.unwrap();
    assert!(
        artifact.revision.starts_with("sha256:"),
        "{}",
        artifact.revision
    );
    assert!(ready.2.contains(&artifact.revision), "{}", ready.2);
    assert!(status.url.unwrap().ends_with("/index.yaml"));
    // The stored index is a Helm index (JSON, which is YAML) with both versions, newest first.
    let stored: Value =
        serde_json::from_slice(&std::fs::read(storage.path().join(&artifact.path)).unwrap())
            .unwrap();
    assert_eq!(stored["entries"]["demo"][0]["version"], "0.2.0");
    assert_eq!(stored["entries"]["demo"][1]["version"], "0.1.0");

    // Wrong credentials: IndexationFailed, 401, the password nowhere.
    secret(
        &ns,
        "wrong-auth",
        &[("username", "charts"), ("password", "not-the-pass")],
    )
    .await;
    helm_repository(
        &ns,
        "wrong",
        json!({"url": server.url(), "interval": "1m", "secretRef": {"name": "wrong-auth"}}),
    )
    .await;
    let failed = eventually("wrong credentials to fail", WAIT, || {
        let repos = repos.clone();
        async move {
            let r = ready_of(&repos, "wrong").await?;
            (r.0 == "False").then_some(r)
        }
    })
    .await;
    assert_eq!(failed.1, "IndexationFailed");
    assert!(failed.2.contains("401"), "{}", failed.2);
    assert!(!failed.2.contains("not-the-pass"), "{}", failed.2);

    // A HelmRelease with spec.chart: the HelmChart <ns>-web resolves '<0.2.0' to 0.1.0.
    apply(
        &hrs,
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "web"},
               "spec": {"interval": "1m",
                        "chart": {"spec": {"chart": "demo", "version": "<0.2.0",
                                           "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}}),
    )
    .await;
    let hr = release_ready(&hrs, "web", 1).await;
    let chart_name = format!("{}-web", ns.name());
    assert_eq!(
        hr.status.as_ref().unwrap().helm_chart.as_deref(),
        Some(format!("{}/{chart_name}", ns.name()).as_str())
    );
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("hello v1")
    );
    let chart = charts.get(&chart_name).await.unwrap();
    let chart_status = chart.status.unwrap();
    assert_eq!(chart_status.artifact.as_ref().unwrap().revision, "0.1.0");
    let chart_ready = condition::get(&chart_status.conditions, "Ready").unwrap();
    assert_eq!(chart_ready.reason, "ChartPullSucceeded");
    assert_eq!(
        chart_ready.message,
        "pulled 'demo' chart with version '0.1.0'"
    );
    assert_eq!(
        chart.metadata.labels.unwrap()["helm.toolkit.fluxcd.io/name"],
        "web"
    );

    // Widening the constraint upgrades to the newest version.
    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"chart": {"spec": {"version": "*"}}}})),
    )
    .await
    .unwrap();
    release_ready(&hrs, "web", 2).await;
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("hello v2")
    );
    let list = helm_json(ns.name(), &["list"]);
    assert_eq!(list[0]["chart"], "demo-0.2.0");

    // A version the repository does not have: Ready=False with Flux's message, release kept.
    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"chart": {"spec": {"version": "9.9.9"}}}})),
    )
    .await
    .unwrap();
    let missing = eventually("a missing version to be reported", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let r = ready_of(&hrs, "web").await?;
            (r.0 == "False" && r.2.contains("9.9.9")).then_some(r)
        }
    })
    .await;
    assert_eq!(missing.1, "ArtifactFailed");
    assert_eq!(
        missing.2,
        format!(
            "HelmChart '{}/{chart_name}' is not ready: invalid chart reference: failed to get chart version for remote reference: no 'demo' chart with version matching '9.9.9' found",
            ns.name()
        )
    );
    let chart_ready = ready_of(&charts, &chart_name).await.unwrap();
    assert_eq!(chart_ready.1, "InvalidChartReference");
    assert_eq!(helm_json(ns.name(), &["list"])[0]["chart"], "demo-0.2.0");
    controller.abort();
    drop(server);
}

#[tokio::test]
async fn oci_helmrepository_is_static() {
    let ns = TestNamespace::create("hs-oci").await;
    let (controller, _storage) = start_controller(&ns).await;
    let repos: Api<HelmRepository> = ns.api();
    helm_repository(
        &ns,
        "oci",
        json!({"url": "oci://127.0.0.1:1/charts", "type": "oci"}),
    )
    .await;
    // A stale condition (say, from before a type change) is removed; nothing is fetched.
    let stale = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
        "reason": "IndexationFailed", "message": "stale", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    eventually("stale condition cleared", WAIT, || {
        let repos = repos.clone();
        let stale = stale.clone();
        async move {
            let r = repos.get("oci").await.ok()?;
            if r.status.as_ref().is_none_or(|s| s.observed_generation.is_none()) {
                // Not handled yet, or handled before the stale status was written: write it.
                repos
                    .patch_status("oci", &PatchParams::default(), &Patch::Merge(&stale))
                    .await
                    .ok()?;
                repos
                    .patch(
                        "oci",
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}})),
                    )
                    .await
                    .ok()?;
                return None;
            }
            let s = r.status?;
            (s.conditions.is_empty() && s.artifact.is_none()).then_some(())
        }
    })
    .await;
    controller.abort();
}

#[tokio::test]
async fn helmrelease_from_git_repository_chart_with_values_files() {
    let ns = TestNamespace::create("hs-git").await;
    let servers = common::Servers::start();
    let repo = common::Repo::new(&servers, "app");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../release/tests/charts/demo");
    for rel in [
        "Chart.yaml",
        "values.yaml",
        "templates/_helpers.tpl",
        "templates/configmap.yaml",
        "templates/deployment.yaml",
        "templates/extra.yaml",
        "templates/hook.yaml",
        "templates/NOTES.txt",
    ] {
        repo.write(
            &format!("charts/demo/{rel}"),
            &std::fs::read_to_string(src.join(rel)).unwrap(),
        );
    }
    repo.write("charts/demo/.helmignore", "*.md\n");
    repo.write("charts/demo/README.md", "not packaged\n");
    repo.write(
        "values/prod.yaml",
        "message: from git values\nreplicaCount: 3\n",
    );
    repo.commit("chart");
    repo.push(&["main"]);
    let (controller, storage) = start_controller(&ns).await;
    apply(
        &ns.api::<keelson_api::GitRepository>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "app"},
               "spec": {"url": servers.daemon_url("app"), "interval": "1m", "ref": {"branch": "main"}}}),
    )
    .await;
    let hrs: Api<HelmRelease> = ns.api();
    apply(
        &hrs,
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "gitweb"},
               "spec": {"interval": "1m",
                        "chart": {"spec": {"chart": "./charts/demo",
                                           "sourceRef": {"kind": "GitRepository", "name": "app"},
                                           "valuesFiles": ["charts/demo/values.yaml", "values/prod.yaml"]}}}}),
    )
    .await;
    release_ready(&hrs, "gitweb", 1).await;
    assert_eq!(
        cm_message(&ns, "gitweb-demo").await.as_deref(),
        Some("from git values")
    );
    let charts: Api<HelmChart> = ns.api();
    let chart = charts.get(&format!("{}-gitweb", ns.name())).await.unwrap();
    let status = chart.status.unwrap();
    let ready = condition::get(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.reason, "ChartPackageSucceeded");
    assert_eq!(ready.message, "packaged 'demo' chart with version '0.1.0'");
    let artifact = status.artifact.unwrap();
    assert_eq!(artifact.revision, "0.1.0");
    assert!(
        status
            .observed_source_artifact_revision
            .unwrap()
            .starts_with("main@sha1:")
    );
    let archive = std::fs::read(storage.path().join(&artifact.path)).unwrap();
    let files = keelson_release::chart::unpack("test", &archive).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"templates/configmap.yaml"), "{names:?}");
    assert!(!names.contains(&"README.md"), "{names:?}");
    let values = &files.iter().find(|(n, _)| n == "values.yaml").unwrap().1;
    assert!(String::from_utf8_lossy(values).contains("from git values"));
    controller.abort();
}

/// A CA (ca.crt) and a server certificate for 127.0.0.1 signed by it (server.crt/.key).
fn certificates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=keelson test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout ca.key -out ca.crt
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile ext.cnf -out server.crt
"#;
    run(Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path()));
    dir
}

#[tokio::test]
async fn https_repository_trusts_the_ca_of_cert_secret_ref() {
    let ns = TestNamespace::create("hs-tls").await;
    let repo_dir = chart_repository();
    let tls = certificates();
    let server = ChartServer::start_with(repo_dir.path(), None, Some(tls.path()));
    let url = format!("https://127.0.0.1:{}", server.port());
    let (controller, _storage) = start_controller(&ns).await;
    let repos: Api<HelmRepository> = ns.api();
    let ca = std::fs::read_to_string(tls.path().join("ca.crt")).unwrap();
    secret(&ns, "repo-ca", &[("ca.crt", ca.as_str())]).await;
    helm_repository(
        &ns,
        "trusted",
        json!({"url": url, "interval": "1m", "certSecretRef": {"name": "repo-ca"}}),
    )
    .await;
    helm_repository(&ns, "untrusted", json!({"url": url, "interval": "1m"})).await;
    let trusted = eventually("the repository with the CA to be Ready", WAIT, || {
        let repos = repos.clone();
        async move {
            let r = ready_of(&repos, "trusted").await?;
            (r.0 == "True").then_some(r)
        }
    })
    .await;
    assert_eq!(trusted.1, "Succeeded");
    let untrusted = eventually("the repository without the CA to fail", WAIT, || {
        let repos = repos.clone();
        async move {
            let r = ready_of(&repos, "untrusted").await?;
            (r.0 == "False").then_some(r)
        }
    })
    .await;
    assert_eq!(untrusted.1, "IndexationFailed");
    assert!(
        untrusted.2.contains("certificate") || untrusted.2.contains("Unknown"),
        "{}",
        untrusted.2
    );
    controller.abort();
    drop(server);
}

#[tokio::test]
async fn helmrelease_chart_ref_to_a_helmchart() {
    let ns = TestNamespace::create("hs-ref").await;
    let repo_dir = chart_repository();
    let server = ChartServer::start(repo_dir.path(), None);
    let (controller, _storage) = start_controller(&ns).await;
    helm_repository(
        &ns,
        "charts",
        json!({"url": server.url(), "interval": "1m"}),
    )
    .await;
    apply(
        &ns.api::<HelmChart>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
               "metadata": {"name": "demo"},
               "spec": {"chart": "demo", "version": "0.1.0", "interval": "1m",
                        "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}),
    )
    .await;
    let hrs: Api<HelmRelease> = ns.api();
    apply(
        &hrs,
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "ref"},
               "spec": {"interval": "1m", "chartRef": {"kind": "HelmChart", "name": "demo"}}}),
    )
    .await;
    let hr = release_ready(&hrs, "ref", 1).await;
    assert_eq!(
        cm_message(&ns, "ref-demo").await.as_deref(),
        Some("hello v1")
    );
    assert_eq!(
        hr.status.unwrap().last_attempted_revision.as_deref(),
        Some("0.1.0")
    );
    // A new chart version in the HelmChart upgrades the release (the HelmChart watch).
    ns.api::<HelmChart>()
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"version": "0.2.0"}})),
        )
        .await
        .unwrap();
    release_ready(&hrs, "ref", 2).await;
    assert_eq!(
        cm_message(&ns, "ref-demo").await.as_deref(),
        Some("hello v2")
    );
    controller.abort();
    drop(server);
}
