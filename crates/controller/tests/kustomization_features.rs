//! The Kustomization reconciler's features, each on the real control plane with a real
//! `git daemon`: a CRD with its custom resources and CEL health checks in one Kustomization,
//! immutable fields with and without `force`, suspend, a controller restarted mid-way,
//! ServiceAccount impersonation and `dependsOn[].readyExpr`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{WAIT, install_crds, ready_at, spawn_controller, start_controller};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use keelson_api::{GitRepository, Kustomization, condition};
use keelson_testsupport::git::TestRepo;
use keelson_testsupport::{TestNamespace, apply, eventually};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

fn config_map(name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{data}\"\n"
    )
}

async fn git_repository(ns: &TestNamespace, server: &TestRepo) {
    apply(
        &ns.api::<GitRepository>(),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "repo"},
            "spec": {"url": server.url(), "interval": "1s", "ref": {"branch": "main"}}
        }),
    )
    .await;
}

/// A Kustomization `name` building `path` of the test repository, with `extra` spec fields.
async fn kustomization(ns: &TestNamespace, name: &str, path: &str, extra: serde_json::Value) {
    let mut spec = json!({
        "interval": "1m", "retryInterval": "1s", "path": path, "prune": true,
        "targetNamespace": ns.name(),
        "sourceRef": {"kind": "GitRepository", "name": "repo"}
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    apply(
        &ns.api::<Kustomization>(),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name}, "spec": spec
        }),
    )
    .await;
}

/// Waits until `name` has attempted `revision` and is not Ready, past any dependency wait.
async fn failed_at(api: &Api<Kustomization>, name: &str, revision: &str) -> Condition {
    eventually(&format!("{name} to fail at {revision}"), WAIT, || {
        let api = api.clone();
        let (name, revision) = (name.to_string(), revision.to_string());
        async move {
            let status = api.get(&name).await.ok()?.status?;
            let ready = condition::get(&status.conditions, "Ready")?.clone();
            (status.last_attempted_revision.as_deref() == Some(revision.as_str())
                && ready.status == "False"
                && ready.reason != "Progressing")
                .then_some(ready)
        }
    })
    .await
}

#[tokio::test]
async fn a_crd_and_its_custom_resources_in_one_kustomization_with_cel_health_checks() {
    let ns = TestNamespace::create("ks-crd").await;
    let group = format!("{}.keelson.test", ns.name());
    let crd_name = format!("widgets.{group}");
    let server = TestRepo::new();
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {crd_name}\nspec:\n  group: {group}\n  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n"
    );
    let widget = |size: i64| {
        format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: {size}\n"
        )
    };
    server.write("widgets/crd.yaml", &crd);
    server.write("widgets/widget.yaml", &widget(3));
    let first = server.push("crd and widget");

    let (controller, _storage) = start_controller(&ns).await;
    git_repository(&ns, &server).await;
    kustomization(
        &ns,
        "widgets",
        "./widgets",
        json!({"wait": true, "timeout": "20s", "healthCheckExprs": [{
            "apiVersion": format!("{group}/v1"), "kind": "Widget",
            "current": "spec.size > 0", "failed": "spec.size < 0"
        }]}),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    let ks = ready_at(&kss, "widgets", &first).await;
    let ids: Vec<String> = ks
        .status
        .unwrap()
        .inventory
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(ids.contains(&format!(
        "_{crd_name}_apiextensions.k8s.io_CustomResourceDefinition"
    )));
    assert!(ids.contains(&format!("{}_w1_{group}_Widget", ns.name())));

    // The failed expression decides at once, without waiting for the timeout.
    server.write("widgets/widget.yaml", &widget(-1));
    let second = server.push("negative size");
    let ready = failed_at(&kss, "widgets", &second).await;
    assert_eq!(ready.reason, "HealthCheckFailed", "{ready:?}");
    assert!(
        ready.message.contains("Widget") && ready.message.contains("failed expression"),
        "{}",
        ready.message
    );

    // A CEL expression that does not compile stalls the Kustomization with a located error.
    kss.patch(
        "widgets",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"healthCheckExprs": [{
            "apiVersion": format!("{group}/v1"), "kind": "Widget", "current": "spec.size >"
        }]}})),
    )
    .await
    .unwrap();
    let stalled = eventually("an invalid CEL expression to stall", WAIT, || {
        let kss = kss.clone();
        async move {
            let status = kss.get("widgets").await.ok()?.status?;
            condition::get(&status.conditions, "Stalled").cloned()
        }
    })
    .await;
    assert_eq!(stalled.reason, "InvalidCELExpression");
    assert!(
        stalled.message.contains("healthCheckExprs[0].current"),
        "{}",
        stalled.message
    );

    controller.abort();
    let crds: Api<CustomResourceDefinition> = Api::all(ns.client());
    let _ = crds.delete(&crd_name, &DeleteParams::default()).await;
}

#[tokio::test]
async fn an_immutable_field_change_fails_without_force_and_recreates_with_force() {
    let ns = TestNamespace::create("ks-force").await;
    let server = TestRepo::new();
    let immutable = |value: &str| format!("{}immutable: true\n", config_map("frozen", value));
    server.write("app/frozen.yaml", &immutable("one"));
    let first = server.push("one");
    let (controller, _storage) = start_controller(&ns).await;
    git_repository(&ns, &server).await;
    kustomization(&ns, "app", "./app", json!({})).await;
    let kss: Api<Kustomization> = ns.api();
    ready_at(&kss, "app", &first).await;
    let cms: Api<ConfigMap> = ns.api();
    let uid = cms.get("frozen").await.unwrap().metadata.uid.unwrap();

    server.write("app/frozen.yaml", &immutable("two"));
    let second = server.push("two");
    let ready = failed_at(&kss, "app", &second).await;
    assert!(
        ready.message.contains("frozen") && ready.message.contains("immutable"),
        "names the object and the cause: {}",
        ready.message
    );
    assert_eq!(
        cms.get("frozen").await.unwrap().data.unwrap()["value"],
        "one",
        "nothing changed without force"
    );

    kss.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"force": true}})),
    )
    .await
    .unwrap();
    ready_at(&kss, "app", &second).await;
    let frozen = cms.get("frozen").await.unwrap();
    assert_eq!(frozen.data.unwrap()["value"], "two");
    assert_ne!(frozen.metadata.uid.unwrap(), uid, "recreated");
    controller.abort();
}

#[tokio::test]
async fn suspend_stops_reconciles_and_resume_catches_up() {
    let ns = TestNamespace::create("ks-suspend").await;
    let server = TestRepo::new();
    server.write("app/cm.yaml", &config_map("settings", "one"));
    let first = server.push("one");
    let (controller, _storage) = start_controller(&ns).await;
    git_repository(&ns, &server).await;
    kustomization(&ns, "app", "./app", json!({"interval": "2s"})).await;
    let kss: Api<Kustomization> = ns.api();
    ready_at(&kss, "app", &first).await;

    kss.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await
    .unwrap();
    server.write("app/cm.yaml", &config_map("settings", "two"));
    let second = server.push("two");
    // The source moves on; the suspended Kustomization does not, for several intervals.
    let repos: Api<GitRepository> = ns.api();
    eventually("the source to fetch the new commit", WAIT, || {
        let repos = repos.clone();
        let second = second.clone();
        async move {
            let artifact = repos.get("repo").await.ok()?.status?.artifact?;
            artifact.revision.ends_with(&second).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let cms: Api<ConfigMap> = ns.api();
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["value"],
        "one"
    );
    let status = kss.get("app").await.unwrap().status.unwrap();
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(first.as_str())
    );

    kss.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    ready_at(&kss, "app", &second).await;
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["value"],
        "two"
    );
    controller.abort();
}

#[tokio::test]
async fn a_controller_restarted_mid_way_converges_without_duplicates_or_orphans() {
    let ns = TestNamespace::create("ks-restart").await;
    let server = TestRepo::new();
    for i in 0..15 {
        server.write(
            &format!("app/cm-{i}.yaml"),
            &config_map(&format!("cm-{i}"), "one"),
        );
    }
    server.push("fifteen");
    install_crds(ns.client()).await;
    let storage = tempfile::tempdir().unwrap();
    let controller = spawn_controller(&ns, storage.path()).await;
    git_repository(&ns, &server).await;
    // A health check that never passes keeps the reconcile busy after the apply, so the
    // controller is stopped between applying and reporting.
    kustomization(
        &ns,
        "app",
        "./app",
        json!({"timeout": "5m", "healthChecks": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "never-exists"}]}),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    let cms: Api<ConfigMap> = ns.api();
    eventually("all fifteen objects to be applied", WAIT, || {
        let cms = cms.clone();
        async move { cms.get_opt("cm-14").await.ok()?.map(|_| ()) }
    })
    .await;
    controller.abort();
    let _ = controller.await;
    let recorded = kss
        .get("app")
        .await
        .unwrap()
        .status
        .unwrap()
        .inventory
        .unwrap()
        .entries
        .len();
    assert_eq!(
        recorded, 15,
        "the planned objects were recorded before the apply"
    );

    // While it is down, Git moves on: five objects go, one changes; the health check is fixed.
    for i in 10..15 {
        server.remove(&format!("app/cm-{i}.yaml"));
    }
    server.write("app/cm-0.yaml", &config_map("cm-0", "two"));
    let second = server.push("ten");
    kss.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"healthChecks": null}})),
    )
    .await
    .unwrap();

    let controller = spawn_controller(&ns, storage.path()).await;
    let ks = ready_at(&kss, "app", &second).await;
    let mut ids: Vec<String> = ks
        .status
        .unwrap()
        .inventory
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    let before = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), before, "no duplicate inventory entries");
    let mut expected: Vec<String> = (0..10)
        .map(|i| format!("{}_cm-{i}__ConfigMap", ns.name()))
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    // No orphans: the objects of the interrupted revision that left Git were pruned.
    let owned = cms
        .list(&kube::api::ListParams::default().labels("kustomize.toolkit.fluxcd.io/name=app"))
        .await
        .unwrap();
    let mut names: Vec<String> = owned
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("cm-{i}")).collect();
    want.sort();
    assert_eq!(names, want, "no orphans of the interrupted revision");
    assert_eq!(cms.get("cm-0").await.unwrap().data.unwrap()["value"], "two");
    controller.abort();
}

#[tokio::test]
async fn service_account_impersonation_limits_what_a_kustomization_may_apply() {
    let ns = TestNamespace::create("ks-tenant").await;
    let server = TestRepo::new();
    let cluster_role = format!("{}-tenant-escalation", ns.name());
    server.write("allowed/cm.yaml", &config_map("tenant-settings", "one"));
    server.write(
        "denied/role.yaml",
        &format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {cluster_role}\nrules: []\n"),
    );
    let first = server.push("tenant");
    apply(
        &ns.api::<ServiceAccount>(),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "tenant"}}),
    )
    .await;
    apply(
        &ns.api::<RoleBinding>(),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "tenant-edit"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
               "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": ns.name()}]}),
    )
    .await;
    let (controller, _storage) = start_controller(&ns).await;
    git_repository(&ns, &server).await;
    kustomization(
        &ns,
        "allowed",
        "./allowed",
        json!({"serviceAccountName": "tenant"}),
    )
    .await;
    kustomization(
        &ns,
        "denied",
        "./denied",
        json!({"serviceAccountName": "tenant"}),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    let revision = first.clone();
    ready_at(&kss, "allowed", &revision).await;
    let ready = failed_at(&kss, "denied", &revision).await;
    assert!(
        ready.message.contains("forbidden")
            && ready
                .message
                .contains(&format!("system:serviceaccount:{}:tenant", ns.name())),
        "the apiserver refused the impersonated account: {}",
        ready.message
    );
    let roles: Api<ClusterRole> = Api::all(ns.client());
    assert!(roles.get_opt(&cluster_role).await.unwrap().is_none());
    let cm = ns.api::<ConfigMap>().get("tenant-settings").await.unwrap();
    let managers: Vec<String> = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kustomize-controller".to_string()),
        "{managers:?}"
    );
    controller.abort();
}

#[tokio::test]
async fn depends_on_ready_expr_replaces_the_built_in_check() {
    let ns = TestNamespace::create("ks-readyexpr").await;
    let server = TestRepo::new();
    server.write("backend/cm.yaml", &config_map("backend", "one"));
    server.write("frontend/cm.yaml", &config_map("frontend", "one"));
    let first = server.push("both");
    let (controller, _storage) = start_controller(&ns).await;
    git_repository(&ns, &server).await;
    let kss: Api<Kustomization> = ns.api();
    let with_version = |name: &str, version: &str, extra: serde_json::Value| {
        let mut spec = json!({
            "interval": "1m", "retryInterval": "1s", "path": format!("./{name}"), "prune": true,
            "targetNamespace": ns.name(),
            "sourceRef": {"kind": "GitRepository", "name": "repo"}
        });
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "labels": {"app/version": version}}, "spec": spec
        })
    };
    apply(&kss, with_version("backend", "v1", json!({}))).await;
    let expr = "dep.metadata.labels['app/version'] == self.metadata.labels['app/version']";
    apply(
        &kss,
        with_version(
            "frontend",
            "v2",
            json!({"dependsOn": [{"name": "backend", "readyExpr": expr}]}),
        ),
    )
    .await;
    let revision = first.clone();
    ready_at(&kss, "backend", &revision).await;
    let waiting = eventually("frontend to wait on readyExpr", WAIT, || {
        let kss = kss.clone();
        async move {
            let status = kss.get("frontend").await.ok()?.status?;
            let ready = condition::get(&status.conditions, "Ready")?.clone();
            ready.message.contains("readyExpr").then_some(ready)
        }
    })
    .await;
    assert_eq!(waiting.reason, "DependencyNotReady");
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("frontend")
            .await
            .unwrap()
            .is_none()
    );

    apply(&kss, with_version("backend", "v2", json!({}))).await;
    ready_at(&kss, "frontend", &revision).await;
    controller.abort();
}

/// Copies `src` into `dst`, passing each file's text through `edit`.
fn copy_tree(src: &std::path::Path, dst: &std::path::Path, edit: &dyn Fn(&str) -> String) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_tree(&entry.path(), &to, edit);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(to, edit(&text)).unwrap();
        }
    }
}

/// The example repository of the README's demo (`examples/seed-004`, the seed 004 layout):
/// bootstrapped by applying its self-referencing sync file, flux-system → infrastructure → apps
/// become Ready in order and the workloads Available.
#[tokio::test]
async fn the_seed_004_example_layout_converges_from_its_sync_file() {
    let ns = TestNamespace::create("ks-seed004").await;
    let server = TestRepo::new();
    let (ingress_ns, apps_ns) = (
        format!("{}-ingress", ns.name()),
        format!("{}-podinfo", ns.name()),
    );
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-004");
    let name = ns.name().to_string();
    let url = server.url();
    let (ing, app) = (ingress_ns.clone(), apps_ns.clone());
    // Unique namespaces so that the test never meets the demo's objects on a shared cluster.
    copy_tree(&example, server.work(), &move |text: &str| {
        text.replace("namespace: flux-system", &format!("namespace: {name}"))
            .replace("namespace: ingress-nginx", &format!("namespace: {ing}"))
            .replace("  name: ingress-nginx\n", &format!("  name: {ing}\n"))
            .replace("namespace: podinfo", &format!("namespace: {app}"))
            .replace(
                "kind: Namespace\nmetadata:\n  name: podinfo\n",
                &format!("kind: Namespace\nmetadata:\n  name: {app}\n"),
            )
            .replace("${GIT_URL}", &url)
    });
    let commit = server.push("cluster layout");
    let (controller, _storage) = start_controller(&ns).await;

    // Bootstrap: apply the sync file, as `flux bootstrap` does; the rest comes from Git.
    let sync = std::fs::read_to_string(server.work().join("kubernetes/flux-system/gotk-sync.yaml"))
        .unwrap();
    let mut docs = keelson_manifest::parse_documents(&sync)
        .unwrap()
        .into_iter();
    apply(&ns.api::<GitRepository>(), docs.next().unwrap()).await;
    apply(&ns.api::<Kustomization>(), docs.next().unwrap()).await;

    let kss: Api<Kustomization> = ns.api();
    let revision = commit.clone();
    let sync = ready_at(&kss, "flux-system", &revision).await;
    let infra = ready_at(&kss, "infrastructure", &revision).await;
    let apps = ready_at(&kss, "apps", &revision).await;
    let ready_time = |ks: &Kustomization| {
        condition::get(&ks.status.as_ref().unwrap().conditions, "Ready")
            .unwrap()
            .last_transition_time
            .0
    };
    assert!(ready_time(&sync) <= ready_time(&infra) && ready_time(&infra) <= ready_time(&apps));
    for (namespace, deployment) in [
        (&ingress_ns, "ingress-nginx-controller"),
        (&apps_ns, "podinfo"),
    ] {
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(ns.client(), namespace);
        let status = deployments.get(deployment).await.unwrap().status.unwrap();
        assert!(
            status
                .conditions
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True"),
            "{namespace}/{deployment} Available"
        );
    }
    let generated = Api::<ConfigMap>::namespaced(ns.client(), &apps_ns)
        .list(&Default::default())
        .await
        .unwrap();
    assert!(
        generated.items.iter().any(|c| c
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("podinfo-config-")),
        "the generated ConfigMap carries kustomize's hash suffix"
    );

    controller.abort();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(ns.client());
    for extra in [&ingress_ns, &apps_ns] {
        let _ = namespaces.delete(extra, &DeleteParams::default()).await;
    }
}

/// Deleting a Kustomization prunes what it applied (`prune: true`, Flux's default deletion
/// policy `MirrorPrune`); `deletionPolicy: Orphan` leaves the objects; both objects go.
#[tokio::test]
async fn deleting_a_kustomization_prunes_its_objects_unless_orphaned() {
    let ns = TestNamespace::create("ks-delete").await;
    let server = TestRepo::new();
    server.write("pruned/cm.yaml", &config_map("pruned", "p"));
    server.write("orphaned/cm.yaml", &config_map("orphaned", "o"));
    let revision = server.push("two apps");
    let (controller, _storage) = start_controller(&ns).await;
    git_repository(&ns, &server).await;
    kustomization(&ns, "pruned", "./pruned", json!({})).await;
    kustomization(
        &ns,
        "orphaned",
        "./orphaned",
        json!({"deletionPolicy": "Orphan"}),
    )
    .await;
    let kss: Api<Kustomization> = ns.api();
    ready_at(&kss, "pruned", &revision).await;
    ready_at(&kss, "orphaned", &revision).await;
    let cms: Api<ConfigMap> = ns.api();
    for name in ["pruned", "orphaned"] {
        assert!(
            kss.get(name)
                .await
                .unwrap()
                .metadata
                .finalizers
                .unwrap_or_default()
                .contains(&"finalizers.fluxcd.io".to_string()),
            "{name} carries Flux's finalizer"
        );
        kss.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually("both Kustomizations to be gone", WAIT, || {
        let kss = kss.clone();
        async move {
            let pruned = kss.get_opt("pruned").await.ok()?;
            let orphaned = kss.get_opt("orphaned").await.ok()?;
            (pruned.is_none() && orphaned.is_none()).then_some(())
        }
    })
    .await;
    assert!(cms.get_opt("pruned").await.unwrap().is_none(), "pruned");
    assert!(cms.get_opt("orphaned").await.unwrap().is_some(), "orphaned");
    controller.abort();
}
