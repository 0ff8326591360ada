//! Proves that the test environment is a real control plane: server-side apply, Deployments that
//! become Available on kwok nodes, garbage collection through ownerReferences and namespace
//! finalization are all done by the real Kubernetes components.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use keelson_testsupport::{FIELD_MANAGER, TestNamespace, apply, eventually};
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn control_plane_is_real() {
    let ns = TestNamespace::create("env-real").await;
    let client = ns.client();

    // A Namespace of its own, created by server-side apply (the TestNamespace only hosts the rest).
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let own_ns = format!("{}-applied", ns.name());
    let applied = apply(
        &namespaces,
        // With at least one field of its own: SSA drops a manager whose field set is empty.
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": own_ns, "labels": {keelson_testsupport::TEST_LABEL: "true"}}}),
    )
    .await;
    let managers: Vec<_> = applied
        .managed_fields()
        .iter()
        .map(|m| (m.manager.clone(), m.operation.clone()))
        .collect();
    assert!(
        managers.contains(&(Some(FIELD_MANAGER.into()), Some("Apply".into()))),
        "server-side apply must record managedFields, got {managers:?}"
    );

    // A 2-replica Deployment and a Service, applied server-side.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &own_ns);
    apply(
        &deployments,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}
                }
            }
        }),
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), &own_ns);
    let svc = apply(
        &services,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}
        }),
    )
    .await;
    let cluster_ip = svc.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
    assert!(
        cluster_ip.starts_with("10.0.0."),
        "the apiserver allocates a ClusterIP from its service range, got {cluster_ip:?}"
    );

    // The Deployment controller makes a ReplicaSet, the scheduler binds the pods to kwok nodes and
    // kwok reports them Ready: the Deployment becomes Available.
    let deployment = eventually(
        "Deployment web to become Available with 2 ready replicas",
        WAIT,
        || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get("web").await.ok()?;
                let status = d.status.clone()?;
                let available = status
                    .conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Available" && c.status == "True");
                (available && status.ready_replicas == Some(2)).then_some(d)
            }
        },
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &own_ns);
    let pod_list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list pods");
    assert_eq!(pod_list.items.len(), 2);
    for pod in &pod_list.items {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(
            node.starts_with("kwok-node-"),
            "pod {} scheduled on {node:?}",
            pod.name_any()
        );
    }

    // A ConfigMap owned by the Deployment is garbage-collected once the Deployment is deleted.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &own_ns);
    let owner = deployment
        .controller_owner_ref(&())
        .expect("deployment has a uid");
    apply(
        &configmaps,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "owned", "ownerReferences": [owner]},
            "data": {"k": "v"}
        }),
    )
    .await;
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .expect("delete deployment");
    eventually(
        "the garbage collector to delete the owned ConfigMap",
        WAIT,
        || {
            let configmaps = configmaps.clone();
            async move {
                match configmaps.get_opt("owned").await {
                    Ok(None) => Some(()),
                    _ => None,
                }
            }
        },
    )
    .await;

    // Deleting the namespace runs the namespace finalizer, which empties and removes it.
    namespaces
        .delete(&own_ns, &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually("the namespace to be finalized and removed", WAIT, || {
        let namespaces = namespaces.clone();
        let own_ns = own_ns.clone();
        async move {
            match namespaces.get_opt(&own_ns).await {
                Ok(None) => Some(()),
                _ => None,
            }
        }
    })
    .await;
    let leftover = services.get_opt("web").await.expect("get service");
    assert!(leftover.is_none(), "the Service went with its namespace");
}
