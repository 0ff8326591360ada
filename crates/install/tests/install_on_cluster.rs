//! The install bundle on the real control plane: the real `kubectl apply --server-side` installs
//! it, the real `kubeconform` validates it against the apiserver's own schemas, `install` (staged
//! SSA) converges over it and waits for the controller, `uninstall` removes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{WAIT, kubeconform, kubectl_apply, schemas_from_apiserver};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::ClusterRole;
use keelson_install::manifests::{CONTROLLER_NAME, InstallOptions};
use keelson_install::{UninstallOptions, components_yaml};
use keelson_testsupport::{TestNamespace, eventually};
use kube::api::Api;

async fn available(deploys: &Api<Deployment>) {
    eventually("the controller Deployment to be Available", WAIT, || {
        let deploys = deploys.clone();
        async move {
            let d = deploys.get(CONTROLLER_NAME).await.ok()?;
            let conditions = d.status?.conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn kubectl_installs_the_export_kubeconform_accepts_it_install_converges_uninstall_removes() {
    let ns = TestNamespace::create("install").await;
    let mut options = InstallOptions::in_namespace(ns.name());
    options.image = "ghcr.io/keelson/keelson:9.9.9".into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("install.yaml");
    std::fs::write(&file, components_yaml(&options)).unwrap();

    // The real kubectl installs the exported bundle in one server-side apply.
    let out = kubectl_apply(&file);
    assert!(
        out.contains("deployment.apps/keelson-controller serverside-applied"),
        "{out}"
    );
    let deploys: Api<Deployment> = ns.api();
    available(&deploys).await;

    // The real kubeconform accepts every object against the apiserver's schemas (CRDs included).
    let schemas = schemas_from_apiserver();
    let (ok, report) = kubeconform(&file, schemas.path());
    assert!(ok, "kubeconform rejected the bundle:\n{report}");
    assert!(report.contains("Invalid: 0, Errors: 0"), "{report}");
    // ... and is not a rubber stamp: a broken Deployment fails.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        components_yaml(&options).replace("replicas: 1", "replicas: one"),
    )
    .unwrap();
    assert!(!kubeconform(&broken, schemas.path()).0);

    // keelson's own install converges over kubectl's and waits for the controller.
    let client = ns.client();
    let changes = keelson_install::install(&client, &options, WAIT, &())
        .await
        .unwrap();
    assert_eq!(changes.len(), keelson_api::crds().len() + 7, "{changes:?}");
    available(&deploys).await;

    // A second install changes nothing.
    let again = keelson_install::install(&client, &options, WAIT, &())
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|c| c.action == keelson_apply::Action::Unchanged),
        "{again:?}"
    );

    // Uninstall (keeping the shared CRDs): the controller and its RBAC are gone.
    let removed = keelson_install::uninstall(
        &client,
        &options,
        &UninstallOptions {
            keep_crds: true,
            ..UninstallOptions::default()
        },
        &(),
    )
    .await
    .unwrap();
    assert!(
        removed.iter().any(|r| r.contains("Deployment")),
        "{removed:?}"
    );
    let roles: Api<ClusterRole> = Api::all(client.clone());
    eventually(
        "the ClusterRole to be deleted",
        Duration::from_secs(30),
        || {
            let roles = roles.clone();
            let name = options.cluster_name(CONTROLLER_NAME);
            async move { roles.get_opt(&name).await.ok()?.is_none().then_some(()) }
        },
    )
    .await;
}
