//! Staged server-side apply, drift correction, dry-run gating, prune and health on the real
//! control plane.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_apply::{Action, Applier, ApplyError, ApplyOptions, Inventory};
use keelson_manifest::ObjectId;
use keelson_testsupport::TestNamespace;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const MANAGER: &str = "kustomize-controller";

fn deployment(ns: &str, name: &str, replicas: i64, app: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        }
    })
}

fn configmap(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": "v"}})
}

fn actions(changes: &[keelson_apply::Change]) -> BTreeMap<String, Action> {
    changes
        .iter()
        .map(|c| (format!("{}/{}", c.id.kind, c.id.name), c.action))
        .collect()
}

fn owner(ns: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "kustomize.toolkit.fluxcd.io/name".to_string(),
            "test".to_string(),
        ),
        (
            "kustomize.toolkit.fluxcd.io/namespace".to_string(),
            ns.to_string(),
        ),
    ])
}

#[tokio::test]
async fn crd_and_its_objects_apply_in_one_go_and_reapply_unchanged() {
    let ns = TestNamespace::create("apply-staged").await;
    let applier = Applier::new(ns.client(), MANAGER);
    let group = format!("{}.keelson.test", ns.name());
    let target_ns = format!("{}-app", ns.name());
    // Deliberately out of order: the custom resource and the Deployment come before their CRD
    // and Namespace.
    let objects = vec![
        json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "w1", "namespace": target_ns}, "spec": {"size": 3}}),
        deployment(&target_ns, "web", 1, "web"),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target_ns}}),
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("widgets.{group}")},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
        }),
    ];
    let options = ApplyOptions {
        owner_labels: owner(ns.name()),
        ..Default::default()
    };
    let first = applier
        .apply(objects.clone(), &options)
        .await
        .expect("first apply");
    let kinds: Vec<&str> = first.changes.iter().map(|c| c.id.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "Namespace",
            "Deployment",
            "Widget"
        ],
        "staged order"
    );
    assert!(
        first.changes.iter().all(|c| c.action == Action::Created),
        "{:?}",
        first.changes
    );
    assert_eq!(first.inventory.len(), 4);
    assert!(
        first
            .inventory
            .entries()
            .any(|(id, v)| id == format!("{target_ns}_web_apps_Deployment") && v == "v1")
    );

    let second = applier
        .apply(objects, &options)
        .await
        .expect("second apply");
    assert!(
        second.changes.iter().all(|c| c.action == Action::Unchanged),
        "{:?}",
        second.changes
    );

    // The owner labels are on the live objects, and health reaches Current on kwok.
    let deploy: Api<Deployment> = Api::namespaced(ns.client(), &target_ns);
    let live = deploy.get("web").await.unwrap();
    assert_eq!(
        live.metadata.labels.unwrap()["kustomize.toolkit.fluxcd.io/name"],
        "test"
    );
    let ids = [ObjectId::of(&deployment(&target_ns, "web", 1, "web"))];
    applier
        .wait_healthy(&ids, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("deployment becomes healthy");

    // Clean up the cluster-scoped objects this test made.
    let stale = first.inventory.missing_from(&Inventory::default());
    let pruned = applier.prune(stale, &owner(ns.name())).await.unwrap();
    assert_eq!(
        pruned
            .iter()
            .filter(|c| c.action == Action::Deleted)
            .count(),
        4
    );
}

#[tokio::test]
async fn drift_is_reverted_on_the_next_apply() {
    let ns = TestNamespace::create("apply-drift").await;
    let applier = Applier::new(ns.client(), MANAGER);
    let objects = vec![deployment(ns.name(), "web", 2, "web")];
    applier
        .apply(objects.clone(), &ApplyOptions::default())
        .await
        .unwrap();

    // `kubectl scale` in effect: another manager changes a field we manage.
    let deploy: Api<Deployment> = ns.api();
    deploy
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
    assert_eq!(
        deploy.get("web").await.unwrap().spec.unwrap().replicas,
        Some(5)
    );

    let result = applier
        .apply(objects, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(result.changes[0].action, Action::Configured);
    assert_eq!(
        deploy.get("web").await.unwrap().spec.unwrap().replicas,
        Some(2)
    );
}

#[tokio::test]
async fn an_invalid_object_stops_its_stage_before_anything_is_applied() {
    let ns = TestNamespace::create("apply-invalid").await;
    let applier = Applier::new(ns.client(), MANAGER);
    let mut bad = deployment(ns.name(), "bad", 1, "bad");
    bad["spec"]["replicas"] = json!("many");
    let objects = vec![configmap(ns.name(), "good"), bad];
    let err = applier
        .apply(objects, &ApplyOptions::default())
        .await
        .unwrap_err();
    let ApplyError::DryRun(failures) = &err else {
        panic!("expected a dry-run failure, got {err}")
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].id.name, "bad");
    assert!(
        err.to_string().contains("apps/v1/Deployment"),
        "the error names the object: {err}"
    );
    let cms: Api<ConfigMap> = ns.api();
    assert!(
        cms.get_opt("good").await.unwrap().is_none(),
        "nothing of the stage was applied"
    );
}

#[tokio::test]
async fn prune_deletes_only_what_left_the_inventory() {
    let ns = TestNamespace::create("apply-prune").await;
    let applier = Applier::new(ns.client(), MANAGER);
    let options = ApplyOptions {
        owner_labels: owner(ns.name()),
        ..Default::default()
    };
    let mut keep_me = configmap(ns.name(), "keep-me");
    keep_me["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    let v1 = vec![
        configmap(ns.name(), "a"),
        configmap(ns.name(), "b"),
        keep_me,
    ];
    let first = applier.apply(v1, &options).await.unwrap();

    // Somebody else's object with the same name as a stale entry but without our labels.
    let v2 = vec![configmap(ns.name(), "a")];
    let second = applier.apply(v2, &options).await.unwrap();
    let stale = first.inventory.missing_from(&second.inventory);
    assert_eq!(stale.len(), 2);
    let pruned = applier.prune(stale, &options.owner_labels).await.unwrap();
    let got = actions(&pruned);
    assert_eq!(got["ConfigMap/b"], Action::Deleted);
    assert_eq!(got["ConfigMap/keep-me"], Action::Skipped);

    let cms: Api<ConfigMap> = ns.api();
    assert!(cms.get_opt("a").await.unwrap().is_some());
    assert!(cms.get_opt("keep-me").await.unwrap().is_some());
    // Deletion is asynchronous for objects with finalizers; a ConfigMap goes at once.
    assert!(cms.get_opt("b").await.unwrap().is_none());
}

#[tokio::test]
async fn immutable_changes_need_force() {
    let ns = TestNamespace::create("apply-force").await;
    let applier = Applier::new(ns.client(), MANAGER);
    applier
        .apply(
            vec![deployment(ns.name(), "web", 1, "one")],
            &ApplyOptions::default(),
        )
        .await
        .unwrap();

    // A new selector is an immutable change.
    let changed = vec![deployment(ns.name(), "web", 1, "two")];
    let err = applier
        .apply(changed.clone(), &ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");

    let forced = ApplyOptions {
        force: true,
        ..Default::default()
    };
    let result = applier.apply(changed, &forced).await.unwrap();
    assert_eq!(result.changes[0].action, Action::Recreated);
    let deploy: Api<Deployment> = ns.api();
    let live = deploy.get("web").await.unwrap();
    assert_eq!(
        live.spec.unwrap().selector.match_labels.unwrap()["app"],
        "two"
    );
}

#[tokio::test]
async fn ssa_policies_are_honoured() {
    let ns = TestNamespace::create("apply-ssa").await;
    let applier = Applier::new(ns.client(), MANAGER);
    let mut once = configmap(ns.name(), "once");
    once["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"});
    let mut never = configmap(ns.name(), "never");
    never["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "Ignore"});
    let result = applier
        .apply(vec![once.clone(), never], &ApplyOptions::default())
        .await
        .unwrap();
    let got = actions(&result.changes);
    assert_eq!(got["ConfigMap/once"], Action::Created);
    assert_eq!(got["ConfigMap/never"], Action::Skipped);

    once["data"] = json!({"k": "changed"});
    let result = applier
        .apply(vec![once], &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(result.changes[0].action, Action::Skipped);
    let cms: Api<ConfigMap> = ns.api();
    assert_eq!(cms.get("once").await.unwrap().data.unwrap()["k"], "v");
    assert!(cms.get_opt("never").await.unwrap().is_none());
}
