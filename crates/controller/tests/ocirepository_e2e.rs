//! OCIRepository and `chartRef: OCIRepository` end to end on the real control plane against a
//! real OCI registry (the CNCF distribution registry, `keelson_testsupport::Registry`), with
//! charts made by the real `helm package` and pushed by the real `helm push`.
//!
//! Covered: tag / semver / digest references and Flux's revision `<tag>@sha256:<digest>`;
//! the default `extract` layer handling (the chart tree re-archived) and `copy` of the Helm
//! chart layer (byte-identical to the pushed package); a missing tag, an unmatched semver range
//! and an invalid URL → Ready=False with Flux's reasons; a HelmRelease with `chartRef:
//! OCIRepository` installs and upgrades when a higher tag is pushed; credentials from a
//! `kubernetes.io/dockerconfigjson` Secret (a wrong password fails without being shown); a
//! Kustomization whose `sourceRef` is an OCIRepository applies a manifests artifact pushed by the
//! real `flux push artifact`, and follows a new tag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helm_common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use keelson_api::{HelmRelease, OCIRepository, condition};
use keelson_testsupport::charts::demo_chart;
use keelson_testsupport::{Registry, TestNamespace, apply, eventually, tool};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use helm_common::{WAIT, cm_message, helm_json, ready_of, release_ready, run, start_controller};

const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The demo chart at `version` with its default message set to `message`, packaged by the real
/// `helm package`; returns the folder and the `.tgz` path.
fn packaged_demo(version: &str, message: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = demo_chart(version, message);
    run(Command::new(tool("helm"))
        .arg("package")
        .arg(dir.path().join("demo"))
        .arg("-d")
        .arg(dir.path()));
    let tgz = dir.path().join(format!("demo-{version}.tgz"));
    (dir, tgz)
}

/// Packages demo at `version` and pushes it to `<registry>/charts/demo:<version>`; returns the
/// package's bytes.
fn push_demo(registry: &Registry, version: &str, message: &str) -> Vec<u8> {
    let (_dir, tgz) = packaged_demo(version, message);
    registry.push_chart(&tgz, "charts");
    std::fs::read(&tgz).unwrap()
}

async fn oci_repository(ns: &TestNamespace, name: &str, spec: Value) {
    apply(
        &ns.api::<OCIRepository>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
               "metadata": {"name": name}, "spec": spec}),
    )
    .await;
}

async fn docker_secret(ns: &TestNamespace, name: &str, config: &str) {
    apply(
        &ns.api::<Secret>(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
               "type": "kubernetes.io/dockerconfigjson",
               "data": {".dockerconfigjson": serde_json::to_value(ByteString(config.as_bytes().to_vec())).unwrap()}}),
    )
    .await;
}

/// Waits until the OCIRepository is Ready at its generation with a revision satisfying `want`.
async fn repo_ready(
    api: &Api<OCIRepository>,
    name: &str,
    want: impl Fn(&str) -> bool,
) -> OCIRepository {
    let mut last = None;
    let found = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(repo) = api.get(name).await {
                let ok = repo.status.as_ref().is_some_and(|s| {
                    condition::is_true(&s.conditions, "Ready")
                        && s.observed_generation == repo.metadata.generation
                        && s.artifact.as_ref().is_some_and(|a| want(&a.revision))
                });
                if ok {
                    return repo;
                }
                last = Some(repo);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    match found {
        Ok(repo) => repo,
        Err(_) => panic!(
            "OCIRepository {name} not Ready with the wanted revision; last status: {:?}",
            last.and_then(|r| r.status)
        ),
    }
}

/// Waits until the object's Ready condition is False; returns (reason, message).
async fn not_ready<K>(api: &Api<K>, name: &str) -> (String, String)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    eventually(&format!("{name} Ready=False"), WAIT, || {
        let api = api.clone();
        let name = name.to_string();
        async move {
            let r = ready_of(&api, &name).await?;
            (r.0 == "False").then_some((r.1, r.2))
        }
    })
    .await
}

/// The manifest digest of `charts/demo:<tag>` as the registry reports it.
fn registry_digest(registry: &Registry, tag: &str) -> String {
    let url = format!("http://{}/v2/charts/demo/manifests/{tag}", registry.host());
    let out = Command::new("curl")
        .args([
            "-fsSI",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(&url)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .expect("Docker-Content-Digest header")
}

/// The file names in a stored tar.gz artifact.
fn artifact_entries(path: &std::path::Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn ocirepository_resolves_tags_semver_and_digests() {
    let ns = TestNamespace::create("oci-refs").await;
    let registry = Registry::start();
    push_demo(&registry, "0.1.0", "hello v1");
    let package_v2 = push_demo(&registry, "0.2.0", "hello v2");
    let (controller, storage) = start_controller(&ns).await;
    let repos: Api<OCIRepository> = ns.api();
    let url = registry.url("charts/demo");
    let digest_v1 = registry_digest(&registry, "0.1.0");
    let digest_v2 = registry_digest(&registry, "0.2.0");

    // semver: the highest tag in the range; default layer handling extracts the chart tree.
    oci_repository(
        &ns,
        "semver",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"semver": "<0.2.0"}}),
    )
    .await;
    let repo = repo_ready(&repos, "semver", |_| true).await;
    let status = repo.status.unwrap();
    let artifact = status.artifact.unwrap();
    assert_eq!(artifact.revision, format!("0.1.0@{digest_v1}"));
    assert_eq!(
        artifact.path,
        format!("ocirepository/{}/semver/{digest_v1}.tar.gz", ns.name())
    );
    let ready = condition::get(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.reason, "Succeeded");
    assert_eq!(
        ready.message,
        format!("stored artifact for digest '0.1.0@{digest_v1}'")
    );
    assert!(condition::is_true(&status.conditions, "ArtifactInStorage"));
    assert!(status.url.unwrap().ends_with("/latest.tar.gz"));
    let entries = artifact_entries(&storage.path().join(&artifact.path));
    assert!(
        entries.contains(&"demo/Chart.yaml".to_string())
            && entries.contains(&"demo/templates/configmap.yaml".to_string()),
        "{entries:?}"
    );
    // Helm's manifest annotations become the artifact metadata.
    let metadata = artifact.metadata.unwrap_or_default();
    assert_eq!(
        metadata
            .get("org.opencontainers.image.version")
            .map(String::as_str),
        Some("0.1.0"),
        "{metadata:?}"
    );

    // tag + copy of the Helm chart layer: the stored artifact is the pushed package itself.
    oci_repository(
        &ns,
        "copy",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"tag": "0.2.0"},
               "layerSelector": {"mediaType": CHART_LAYER, "operation": "copy"}}),
    )
    .await;
    let repo = repo_ready(&repos, "copy", |_| true).await;
    let status = repo.status.unwrap();
    let artifact = status.artifact.unwrap();
    assert_eq!(artifact.revision, format!("0.2.0@{digest_v2}"));
    assert_eq!(
        std::fs::read(storage.path().join(&artifact.path)).unwrap(),
        package_v2
    );
    assert_eq!(
        status.observed_layer_selector.unwrap().operation.as_deref(),
        Some("copy")
    );

    // digest: the revision is the digest alone.
    oci_repository(
        &ns,
        "digest",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"digest": digest_v2}}),
    )
    .await;
    let repo = repo_ready(&repos, "digest", |_| true).await;
    assert_eq!(repo.status.unwrap().artifact.unwrap().revision, digest_v2);

    // A tag that does not exist.
    oci_repository(
        &ns,
        "missing",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"tag": "9.9.9"}}),
    )
    .await;
    let (reason, message) = not_ready(&repos, "missing").await;
    assert_eq!(reason, "OCIArtifactPullFailed");
    assert!(
        message.starts_with("failed to determine artifact digest: "),
        "{message}"
    );
    let missing = repos.get("missing").await.unwrap().status.unwrap();
    assert!(condition::is_true(&missing.conditions, "FetchFailed"));
    assert!(missing.artifact.is_none());

    // A semver range nothing matches.
    oci_repository(
        &ns,
        "nomatch",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"semver": ">=5.0.0"}}),
    )
    .await;
    let (reason, message) = not_ready(&repos, "nomatch").await;
    assert_eq!(reason, "ReadOperationFailed");
    assert_eq!(
        message,
        format!(
            "failed to determine the artifact tag for '{url}': no match found for semver: >=5.0.0"
        )
    );

    // A URL with a tag is invalid and stalls.
    oci_repository(
        &ns,
        "badurl",
        json!({"url": format!("{url}:0.1.0"), "insecure": true, "interval": "10m"}),
    )
    .await;
    let (reason, message) = not_ready(&repos, "badurl").await;
    assert_eq!(reason, "URLInvalid");
    assert_eq!(
        message,
        format!(
            "URL validation failed for '{url}:0.1.0': URL must not contain a tag; remove ':0.1.0'"
        )
    );
    let bad = repos.get("badurl").await.unwrap().status.unwrap();
    assert!(condition::is_true(&bad.conditions, "Stalled"));
    controller.abort();
}

#[tokio::test]
async fn helmrelease_chart_ref_ocirepository_installs_and_upgrades_on_a_new_tag() {
    let ns = TestNamespace::create("oci-hr").await;
    let registry = Registry::start();
    push_demo(&registry, "0.1.0", "hello v1");
    let (controller, _storage) = start_controller(&ns).await;
    let repos: Api<OCIRepository> = ns.api();
    let hrs: Api<HelmRelease> = ns.api();
    oci_repository(
        &ns,
        "demo",
        json!({"url": registry.url("charts/demo"), "insecure": true, "interval": "2s",
               "ref": {"semver": ">=0.1.0"}}),
    )
    .await;
    repo_ready(&repos, "demo", |r| r.starts_with("0.1.0@")).await;
    apply(
        &hrs,
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "web"},
               "spec": {"interval": "10m",
                        "chartRef": {"kind": "OCIRepository", "name": "demo"}}}),
    )
    .await;
    let hr = release_ready(&hrs, "web", 1).await;
    let status = hr.status.unwrap();
    assert_eq!(status.history[0].chart_version, "0.1.0");
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("hello v1")
    );

    // A higher tag pushed: the OCIRepository picks it up, the release upgrades.
    push_demo(&registry, "0.2.0", "hello v2");
    repo_ready(&repos, "demo", |r| r.starts_with("0.2.0@")).await;
    let hr = release_ready(&hrs, "web", 2).await;
    assert_eq!(hr.status.unwrap().history[0].chart_version, "0.2.0");
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("hello v2")
    );
    assert_eq!(helm_json(ns.name(), &["list"])[0]["chart"], "demo-0.2.0");

    // A source pointing at a tag that does not exist: the release reports it, and is kept.
    repos
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"ref": {"semver": null, "tag": "9.9.9"}}})),
        )
        .await
        .unwrap();
    // (First it may say "reconciliation in progress" while the source handles its new spec.)
    let (reason, message) = eventually("the release to report the missing tag", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let r = ready_of(&hrs, "web").await?;
            (r.0 == "False" && r.2.contains("failed to determine artifact digest"))
                .then_some((r.1, r.2))
        }
    })
    .await;
    assert_eq!(reason, "ArtifactFailed");
    assert!(
        message.starts_with(&format!(
            "OCIRepository '{}/demo' is not ready: failed to determine artifact digest: ",
            ns.name()
        )),
        "{message}"
    );
    assert_eq!(helm_json(ns.name(), &["list"])[0]["chart"], "demo-0.2.0");
    controller.abort();
}

#[tokio::test]
async fn ocirepository_authenticates_with_a_dockerconfigjson_secret() {
    let ns = TestNamespace::create("oci-auth").await;
    let registry = Registry::start_with_auth("pusher", "reg-s3cret-pw");
    push_demo(&registry, "0.1.0", "hello v1");
    let (controller, _storage) = start_controller(&ns).await;
    let repos: Api<OCIRepository> = ns.api();
    let url = registry.url("charts/demo");

    docker_secret(&ns, "regcred", &registry.docker_config(None)).await;
    oci_repository(
        &ns,
        "authed",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"tag": "0.1.0"},
               "secretRef": {"name": "regcred"}}),
    )
    .await;
    let repo = repo_ready(&repos, "authed", |r| r.starts_with("0.1.0@sha256:")).await;
    assert!(repo.status.unwrap().artifact.is_some());

    // Without credentials, and with a wrong password: pull failures, no password shown.
    oci_repository(
        &ns,
        "anonymous",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"tag": "0.1.0"}}),
    )
    .await;
    let (reason, message) = not_ready(&repos, "anonymous").await;
    assert_eq!(reason, "OCIArtifactPullFailed", "{message}");
    docker_secret(
        &ns,
        "wrongcred",
        &registry.docker_config(Some("not-the-pw")),
    )
    .await;
    oci_repository(
        &ns,
        "wrong",
        json!({"url": url, "insecure": true, "interval": "10m", "ref": {"tag": "0.1.0"},
               "secretRef": {"name": "wrongcred"}}),
    )
    .await;
    let (reason, message) = not_ready(&repos, "wrong").await;
    assert_eq!(reason, "OCIArtifactPullFailed", "{message}");
    assert!(!message.contains("not-the-pw"), "{message}");
    assert!(!message.contains("reg-s3cret-pw"), "{message}");

    // A Secret that does not exist: AuthenticationFailed.
    oci_repository(
        &ns,
        "nosecret",
        json!({"url": url, "insecure": true, "interval": "10m", "secretRef": {"name": "absent"}}),
    )
    .await;
    let (reason, message) = not_ready(&repos, "nosecret").await;
    assert_eq!(reason, "AuthenticationFailed");
    assert!(
        message.starts_with("failed to get credential: "),
        "{message}"
    );
    controller.abort();
}

#[tokio::test]
async fn helmrelease_chart_from_an_oci_helmrepository() {
    let ns = TestNamespace::create("oci-helmrepo").await;
    let registry = Registry::start_with_auth("charts", "oci-repo-pw");
    push_demo(&registry, "0.1.0", "hello v1");
    push_demo(&registry, "0.2.0", "hello v2");
    let (controller, _storage) = start_controller(&ns).await;
    let hrs: Api<HelmRelease> = ns.api();
    let charts: Api<keelson_api::HelmChart> = ns.api();
    apply(
        &ns.api::<Secret>(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oci-auth"},
               "stringData": {"username": "charts", "password": "oci-repo-pw"}}),
    )
    .await;
    apply(
        &ns.api::<keelson_api::HelmRepository>(),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "oci"},
               "spec": {"type": "oci", "url": registry.url("charts"), "insecure": true,
                        "secretRef": {"name": "oci-auth"}}}),
    )
    .await;
    apply(
        &hrs,
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "web"},
               "spec": {"interval": "10m",
                        "chart": {"spec": {"chart": "demo", "version": "<0.2.0",
                                           "sourceRef": {"kind": "HelmRepository", "name": "oci"}}}}}),
    )
    .await;
    release_ready(&hrs, "web", 1).await;
    assert_eq!(
        cm_message(&ns, "web-demo").await.as_deref(),
        Some("hello v1")
    );
    let chart_name = format!("{}-web", ns.name());
    let (_, reason, message) = ready_of(&charts, &chart_name).await.unwrap();
    assert_eq!(reason, "ChartPullSucceeded");
    assert_eq!(message, "pulled 'demo' chart with version '0.1.0'");

    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"chart": {"spec": {"version": "*"}}}})),
    )
    .await
    .unwrap();
    release_ready(&hrs, "web", 2).await;
    assert_eq!(helm_json(ns.name(), &["list"])[0]["chart"], "demo-0.2.0");

    hrs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"chart": {"spec": {"version": "9.9.9"}}}})),
    )
    .await
    .unwrap();
    let (reason, message) = eventually("a missing version to be reported", WAIT, || {
        let hrs = hrs.clone();
        async move {
            let r = ready_of(&hrs, "web").await?;
            (r.0 == "False" && r.2.contains("9.9.9")).then_some((r.1, r.2))
        }
    })
    .await;
    assert_eq!(reason, "ArtifactFailed");
    assert_eq!(
        message,
        format!(
            "HelmChart '{}/{chart_name}' is not ready: invalid chart reference: failed to get chart version for remote reference: no 'demo' chart with version matching '9.9.9' found",
            ns.name()
        )
    );
    controller.abort();
}

/// `flux push artifact` (the real flux CLI) of a folder of manifests to `<registry>/<repo>:<tag>`.
fn flux_push(registry: &Registry, repo: &str, tag: &str, dir: &std::path::Path) {
    run(Command::new(tool("flux"))
        .arg("push")
        .arg("artifact")
        .arg(format!("{}:{tag}", registry.url(repo)))
        .arg("--path")
        .arg(dir)
        .args(["--source", "https://example.invalid/fleet.git"])
        .args([
            "--revision",
            &format!("{tag}@sha1:0123456789abcdef0123456789abcdef01234567"),
        ])
        .arg("--insecure-registry"));
}

fn write_manifests(dir: &std::path::Path, greeting: &str) {
    std::fs::write(
        dir.join("cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\ndata:\n  greeting: {greeting}\n"),
    )
    .unwrap();
}

#[tokio::test]
async fn kustomization_applies_an_ocirepository_artifact_pushed_by_flux() {
    let ns = TestNamespace::create("oci-ks").await;
    let registry = Registry::start();
    let manifests = tempfile::tempdir().unwrap();
    write_manifests(manifests.path(), "v1");
    flux_push(&registry, "manifests/app", "v1", manifests.path());
    let (controller, _storage) = start_controller(&ns).await;
    let repos: Api<OCIRepository> = ns.api();
    oci_repository(
        &ns,
        "app",
        json!({"url": registry.url("manifests/app"), "insecure": true, "interval": "10m",
               "ref": {"tag": "v1"}}),
    )
    .await;
    let repo = repo_ready(&repos, "app", |r| r.starts_with("v1@sha256:")).await;
    let revision = repo.status.unwrap().artifact.unwrap().revision;
    let kustomizations: Api<keelson_api::Kustomization> = ns.api();
    apply(
        &kustomizations,
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "app"},
               "spec": {"interval": "10m", "path": "./", "prune": true, "targetNamespace": ns.name(),
                        "sourceRef": {"kind": "OCIRepository", "name": "app"}}}),
    )
    .await;
    let ks = eventually("the Kustomization Ready at the OCI revision", WAIT, || {
        let api = kustomizations.clone();
        let revision = revision.clone();
        async move {
            let ks = api.get("app").await.ok()?;
            let status = ks.status.as_ref()?;
            (condition::is_true(&status.conditions, "Ready")
                && status.last_applied_revision.as_deref() == Some(revision.as_str()))
            .then_some(ks)
        }
    })
    .await;
    let status = ks.status.unwrap();
    let ready = condition::get(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.message, format!("Applied revision: {revision}"));
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = ns.api();
    let cm = cms.get("from-oci").await.unwrap();
    assert_eq!(cm.data.unwrap()["greeting"], "v1");
    assert_eq!(
        cm.metadata.labels.unwrap()["kustomize.toolkit.fluxcd.io/name"],
        "app"
    );

    // A new tag: the OCIRepository's new artifact triggers the Kustomization.
    write_manifests(manifests.path(), "v2");
    flux_push(&registry, "manifests/app", "v2", manifests.path());
    repos
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ref": {"tag": "v2"}}})),
        )
        .await
        .unwrap();
    eventually("the v2 ConfigMap", WAIT, || {
        let cms = cms.clone();
        async move {
            let cm = cms.get("from-oci").await.ok()?;
            (cm.data?.get("greeting")? == "v2").then_some(())
        }
    })
    .await;

    // A source kind keelson does not serve yet is refused clearly, and stalls.
    apply(
        &kustomizations,
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "from-bucket"},
               "spec": {"interval": "10m", "path": "./", "prune": true,
                        "sourceRef": {"kind": "Bucket", "name": "b"}}}),
    )
    .await;
    let (reason, message) = not_ready(&kustomizations, "from-bucket").await;
    assert_eq!(reason, "ArtifactFailed");
    assert!(
        message.contains("source kind 'Bucket' is not supported"),
        "{message}"
    );
    controller.abort();
}
