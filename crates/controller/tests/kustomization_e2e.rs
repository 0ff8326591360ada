//! End to end on the real control plane with a real `git daemon`: a GitRepository and two
//! Kustomizations (infrastructure → apps, as in seed 004) converge; postBuild substitution with
//! defaults and a ConfigMap source; drift is reverted; a file removed from Git is pruned; a broken
//! manifest leaves everything as it was and names the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{WAIT, deployment, ready_at, start_controller};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_api::{GitRepository, Kustomization, condition};
use keelson_testsupport::git::TestRepo;
use keelson_testsupport::{TestNamespace, apply, eventually};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn infrastructure_then_apps_converge_drift_prune_and_broken_commits() {
    let ns = TestNamespace::create("ks-e2e").await;
    let server = TestRepo::new();

    // The repository: infrastructure (a ConfigMap and a Deployment) and apps (a Deployment whose
    // replicas and labels come from postBuild substitution, plus a ConfigMap to be pruned later).
    server.write(
        "infrastructure/kustomization.yaml",
        "resources:\n- settings.yaml\n- cache.yaml\n",
    );
    server.write(
        "infrastructure/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tier: infra\n",
    );
    server.write("infrastructure/cache.yaml", &deployment("cache", "1"));
    // No kustomization.yaml in apps: Flux generates one.
    server.write("apps/web.yaml", &format!("{}---\n{}", deployment("web", "${replicas}").replace("nginx:1.27", "nginx:${tag:=1.27}"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-env\n  labels:\n    env: ${cluster_env}\ndata:\n  escaped: $${not_a_var}\n"));
    server.write(
        "apps/extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n",
    );
    let first = server.push("initial");
    let revision = first.clone();

    // CRDs and the controller, watching this test's namespace only.
    let (controller, _storage) = start_controller(&ns).await;

    let cms: Api<ConfigMap> = ns.api();
    apply(&cms, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-vars"}, "data": {"cluster_env": "staging"}})).await;
    let repos: Api<GitRepository> = ns.api();
    apply(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "flux-system"},
            "spec": {"url": server.url(), "interval": "1s", "ref": {"branch": "main"}}
        }),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    apply(&kss, json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps"},
        "spec": {"interval": "1m", "retryInterval": "1s", "path": "./apps", "prune": true, "wait": true, "timeout": "60s",
                 "targetNamespace": ns.name(),
                 "dependsOn": [{"name": "infrastructure"}],
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                 "postBuild": {"substitute": {"replicas": "2"},
                               "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"}]}}
    })).await;
    apply(&kss, json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "infrastructure"},
        "spec": {"interval": "1m", "retryInterval": "1s", "path": "./infrastructure", "prune": true, "wait": true,
                 "targetNamespace": ns.name(),
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
    })).await;

    // Converge: both Ready at the pushed revision, workloads Available, infra before apps.
    let infra = ready_at(&kss, "infrastructure", &revision).await;
    let apps = ready_at(&kss, "apps", &revision).await;
    let infra_ready = condition::get(&infra.status.unwrap().conditions, "Ready")
        .unwrap()
        .last_transition_time
        .clone();
    let web_cm = cms.get("web-env").await.unwrap();
    assert!(
        web_cm.metadata.creation_timestamp.unwrap().0 >= infra_ready.0,
        "apps applied only after infrastructure was Ready"
    );
    assert_eq!(
        web_cm.metadata.labels.as_ref().unwrap()["env"],
        "staging",
        "substituteFrom ConfigMap"
    );
    assert_eq!(
        web_cm.metadata.labels.as_ref().unwrap()["kustomize.toolkit.fluxcd.io/name"],
        "apps"
    );
    assert_eq!(
        web_cm.data.as_ref().unwrap()["escaped"],
        "${not_a_var}",
        "$${{}} escapes"
    );
    let deploys: Api<Deployment> = ns.api();
    let web = deploys.get("web").await.unwrap();
    assert_eq!(
        web.spec.as_ref().unwrap().replicas,
        Some(2),
        "inline substitute"
    );
    assert_eq!(
        web.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:1.27"),
        "default value"
    );
    assert!(
        apps.status
            .unwrap()
            .inventory
            .unwrap()
            .entries
            .iter()
            .any(|e| e.id == format!("{}_web_apps_Deployment", ns.name()))
    );

    // Drift: scale by hand, ask for a reconcile, the replicas come back.
    deploys
        .patch(
            "web",
            &PatchParams {
                field_manager: Some("kubectl".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    kss.patch(
        "apps",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now-1"}}}),
        ),
    )
    .await
    .unwrap();
    eventually("drift on web's replicas to be reverted", WAIT, || {
        let deploys = deploys.clone();
        async move { (deploys.get("web").await.ok()?.spec?.replicas == Some(2)).then_some(()) }
    })
    .await;

    // A file removed from Git: its object is pruned.
    server.remove("apps/extra.yaml");
    let second = server.push("remove extra");
    ready_at(&kss, "apps", &second).await;
    assert!(
        cms.get_opt("extra").await.unwrap().is_none(),
        "extra was pruned"
    );
    assert!(cms.get_opt("web-env").await.unwrap().is_some());

    // A broken manifest: Ready=False naming the file, nothing applied, nothing pruned.
    server.write(
        "apps/web.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n",
    );
    let third = server.push("break");
    let failed = eventually("apps to fail on the broken revision", WAIT, || {
        let kss = kss.clone();
        let third = third.clone();
        async move {
            let ks = kss.get("apps").await.ok()?;
            let status = ks.status?;
            let ready = condition::get(&status.conditions, "Ready")?.clone();
            // While infrastructure reconciles the same new revision, apps may report
            // DependencyNotReady first; wait for the build verdict itself.
            (status.last_attempted_revision.as_deref() == Some(third.as_str())
                && ready.status == "False"
                && ready.reason != "DependencyNotReady")
                .then_some(ready)
        }
    })
    .await;
    assert_eq!(failed.reason, "BuildFailed");
    assert!(
        failed.message.contains("web.yaml"),
        "the error names the file: {}",
        failed.message
    );
    assert!(
        !failed.message.contains("/tmp/"),
        "no controller temp paths in messages: {}",
        failed.message
    );
    assert!(
        cms.get_opt("web-env").await.unwrap().is_some(),
        "nothing pruned after a failed build"
    );
    assert_eq!(
        deploys.get("web").await.unwrap().spec.unwrap().replicas,
        Some(2)
    );

    controller.abort();
}

/// A Secret encrypted by the real `sops` with an age key is decrypted during the build with the
/// key from the Kustomization's decryption Secret; the plaintext reaches the cluster, the sops
/// metadata does not.
#[tokio::test]
async fn sops_encrypted_secret_is_decrypted_with_the_age_key_from_a_secret() {
    let ns = TestNamespace::create("ks-sops").await;
    let server = TestRepo::new();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("age.agekey");
    let out = Command::new(keelson_testsupport::tool("age-keygen"))
        .arg("-o")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    let recipient = key_text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let plain = keys.path().join("secret.yaml");
    std::fs::write(&plain, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: s3cr3t-value\n").unwrap();
    let encrypted = Command::new(keelson_testsupport::tool("sops"))
        .args([
            "--encrypt",
            "--age",
            &recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        encrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&encrypted.stderr)
    );
    let encrypted = String::from_utf8(encrypted.stdout).unwrap();
    assert!(!encrypted.contains("s3cr3t-value"));
    server.write("secrets/db.yaml", &encrypted);
    let commit = server.push("encrypted secret");

    let (controller, _storage) = start_controller(&ns).await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = ns.api();
    apply(&secrets, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-age"}, "stringData": {"age.agekey": key_text}})).await;
    let repos: Api<GitRepository> = ns.api();
    apply(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "repo"},
            "spec": {"url": server.url(), "interval": "1m", "ref": {"branch": "main"}}
        }),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    apply(
        &kss,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "secrets"},
            "spec": {"interval": "1m", "retryInterval": "1s", "path": "./secrets", "prune": true,
                     "targetNamespace": ns.name(),
                     "sourceRef": {"kind": "GitRepository", "name": "repo"},
                     "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}
        }),
    )
    .await;
    let ks = ready_at(&kss, "secrets", &commit).await;
    let db = secrets.get("db").await.unwrap();
    assert_eq!(db.data.unwrap()["password"].0, b"s3cr3t-value");
    let applied = serde_json::to_string(&secrets.get("db").await.unwrap()).unwrap();
    assert!(
        !applied.contains("\"sops\""),
        "sops metadata must not reach the cluster"
    );
    let status = serde_json::to_string(&ks.status).unwrap();
    assert!(!status.contains("s3cr3t-value"));
    controller.abort();
}
