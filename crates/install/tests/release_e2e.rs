//! Release channels end to end (seed 000): the bootstrap file applied with the real `kubectl apply
//! --server-side` installs everything; with the controller running (in-process, out of cluster)
//! the embedded drift guard reverts an edit of the controller Deployment; applying
//! `bootstrap-1.0.x.yaml` after a new patch upgrades; the 1.0 line never moves to 1.1 by itself,
//! only an explicit apply of `bootstrap-1.1.x.yaml` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{
    Servers, WAIT, converge, git, kubectl_apply, ready_at, release_finalizers, request_reconcile,
    start_controller,
};
use k8s_openapi::api::apps::v1::Deployment;
use keelson_api::{GitRepository, Kustomization};
use keelson_install::manifests::{CONTROLLER_NAME, InstallOptions};
use keelson_install::release::{ReleaseError, ReleaseOptions, release};
use keelson_testsupport::{TestNamespace, eventually};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

fn write_src(work: &Path, ns: &str, line: &str, version: &str) {
    let mut options = InstallOptions::in_namespace(ns);
    options.image = format!("ghcr.io/keelson/keelson:{version}");
    options.version = version.into();
    let dir = work.join("src").join(line);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("keelson.yaml"),
        keelson_install::components_yaml(&options),
    )
    .unwrap();
}

fn options(work: &Path, url: &str, ns: &str, version: &str) -> ReleaseOptions {
    let version = semver::Version::parse(version).unwrap();
    ReleaseOptions {
        src: format!("src/{}.{}", version.major, version.minor).into(),
        version,
        root: work.to_path_buf(),
        repo_url: url.into(),
        branch: "main".into(),
        out: work.join("release"),
        name: "bootstrap".into(),
        namespace: ns.into(),
    }
}

fn push(work: &Path, message: &str) -> String {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    format!("main@sha1:{}", git(work, &["rev-parse", "HEAD"]))
}

async fn image(deploys: &Api<Deployment>) -> String {
    deploys
        .get(CONTROLLER_NAME)
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

async fn image_becomes(deploys: &Api<Deployment>, want: &str) {
    eventually(&format!("the controller image to be {want}"), WAIT, || {
        let deploys = deploys.clone();
        let want = want.to_string();
        async move { (image(&deploys).await == want).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn drift_guard_reverts_edits_patches_upgrade_and_minor_lines_need_an_explicit_apply() {
    let ns = TestNamespace::create("release").await;
    let servers = Servers::start();
    servers.create("boot");
    let url = servers.daemon_url("boot");
    let repo = tempfile::tempdir().unwrap();
    let work = repo.path();
    git(work, &["init", "-q"]);
    git(
        work,
        &[
            "remote",
            "add",
            "origin",
            &format!("{}/boot.git", servers.get("REPOS")),
        ],
    );

    // 1.0.0: src/1.0 holds the install bundle; the release embeds the drift guard.
    write_src(work, ns.name(), "1.0", "1.0.0");
    let first = release(&options(work, &url, ns.name(), "1.0.0")).unwrap();
    assert!(first.created && first.warnings.is_empty(), "{first:?}");
    let rev1 = push(work, "release 1.0.0");
    let tracking_10 = work.join("release/1.0/bootstrap-1.0.x.yaml");

    // One kubectl apply installs everything; the controller (in-process) takes over.
    let out = kubectl_apply(&tracking_10);
    assert!(
        out.contains("kustomization.kustomize.toolkit.fluxcd.io/bootstrap serverside-applied"),
        "{out}"
    );
    let (controller, _storage) = start_controller(&ns);
    let kss: Api<Kustomization> = ns.api();
    let deploys: Api<Deployment> = ns.api();
    let ks = ready_at(&kss, "bootstrap", &rev1).await;
    let inventory = ks.status.unwrap().inventory.unwrap();
    assert!(
        inventory
            .entries
            .iter()
            .any(|e| e.id == format!("{}_{CONTROLLER_NAME}_apps_Deployment", ns.name())),
        "the drift guard manages the controller"
    );
    let repos: Api<GitRepository> = ns.api();
    let source = repos.get("bootstrap").await.unwrap();
    assert_eq!(source.spec.ignore.as_deref(), Some("/*\n!/src/1.0/\n"));

    // Drift: someone edits the controller Deployment; the guard puts it back.
    deploys
        .patch(
            CONTROLLER_NAME,
            &PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() },
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "manager", "image": "evil:latest"}]}}}})),
        )
        .await
        .unwrap();
    assert_eq!(image(&deploys).await, "evil:latest");
    request_reconcile(&kss, "bootstrap").await;
    image_becomes(&deploys, "ghcr.io/keelson/keelson:1.0.0").await;

    // 1.0.1: a new patch. The published 1.0.0 cannot be rewritten; 1.0.x moves.
    write_src(work, ns.name(), "1.0", "1.0.1");
    let refused = release(&options(work, &url, ns.name(), "1.0.0")).unwrap_err();
    assert!(matches!(refused, ReleaseError::Published(_)), "{refused}");
    let second = release(&options(work, &url, ns.name(), "1.0.1")).unwrap();
    assert_eq!(second.tracking_version.to_string(), "1.0.1");
    let rev2 = push(work, "release 1.0.1");
    // Re-applying the same tracking file upgrades the cluster.
    kubectl_apply(&tracking_10);
    assert_eq!(image(&deploys).await, "ghcr.io/keelson/keelson:1.0.1");
    let ks = converge(&repos, &kss, "bootstrap").await;
    assert_eq!(
        ks.status.unwrap().last_applied_revision.as_deref(),
        Some(rev2.as_str())
    );
    assert_eq!(image(&deploys).await, "ghcr.io/keelson/keelson:1.0.1");

    // 1.1.0: a new minor line. Nothing on the 1.0 line moves to it.
    write_src(work, ns.name(), "1.1", "1.1.0");
    let minor = release(&options(work, &url, ns.name(), "1.1.0")).unwrap();
    let rev3 = push(work, "release 1.1.0");
    assert!(
        std::fs::read_to_string(&tracking_10)
            .unwrap()
            .contains("keelson:1.0.1"),
        "1.0.x still tracks 1.0.1"
    );
    let ks = converge(&repos, &kss, "bootstrap").await;
    assert_eq!(
        ks.status.unwrap().last_applied_revision.as_deref(),
        Some(rev3.as_str())
    );
    assert_eq!(
        image(&deploys).await,
        "ghcr.io/keelson/keelson:1.0.1",
        "the 1.0 drift guard does not cross to 1.1"
    );
    // Only an explicit apply of the 1.1 line upgrades; the guard then follows src/1.1.
    kubectl_apply(&minor.tracking);
    assert_eq!(image(&deploys).await, "ghcr.io/keelson/keelson:1.1.0");
    let ks = converge(&repos, &kss, "bootstrap").await;
    assert_eq!(ks.spec.path.as_deref(), Some("./src/1.1"));
    assert_eq!(
        ks.status.unwrap().last_applied_revision.as_deref(),
        Some(rev3.as_str())
    );
    assert_eq!(
        repos.get("bootstrap").await.unwrap().spec.ignore.as_deref(),
        Some("/*\n!/src/1.1/\n")
    );
    assert_eq!(image(&deploys).await, "ghcr.io/keelson/keelson:1.1.0");

    controller.abort();
    let _ = controller.await;
    release_finalizers(&ns).await;
}
