//! `keelson export`: keelson's objects as YAML without their status and the server's
//! bookkeeping, ready to commit to Git or apply elsewhere.

use anyhow::Context as _;
use kube::api::ListParams;
use serde_json::{Map, Value, json};

use super::reconcile::{ReconcileArgs, resolve};
use super::runtime::block_on;
use crate::Exit;

/// Annotations the server or tools set, never part of the desired state.
const DROPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    keelson_api::RECONCILE_REQUESTED_AT,
];

/// The desired state of a live object: apiVersion, kind, name, namespace, labels, annotations
/// (less bookkeeping) and spec.
pub fn clean(object: &Value) -> Value {
    let meta = &object["metadata"];
    let mut out_meta = Map::new();
    out_meta.insert("name".into(), meta["name"].clone());
    if let Some(ns) = meta["namespace"].as_str() {
        out_meta.insert("namespace".into(), json!(ns));
    }
    if let Some(labels) = meta["labels"].as_object().filter(|l| !l.is_empty()) {
        out_meta.insert("labels".into(), Value::Object(labels.clone()));
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        let kept: Map<String, Value> = annotations
            .iter()
            .filter(|(k, _)| !DROPPED_ANNOTATIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out_meta.insert("annotations".into(), Value::Object(kept));
        }
    }
    json!({
        "apiVersion": object["apiVersion"],
        "kind": object["kind"],
        "metadata": out_meta,
        "spec": object["spec"],
    })
}

/// Prints the objects.
pub fn run(args: &ReconcileArgs) -> anyhow::Result<Exit> {
    let (kind, target) = resolve(&args.target);
    anyhow::ensure!(target.name.is_some() != target.all, "give a name or --all");
    block_on(async {
        let client = target.cluster.client().await?;
        let api = kind.api(&client, &target.cluster.namespace);
        let objects = match &target.name {
            Some(name) => vec![api.get(name).await.with_context(|| {
                format!(
                    "failed to read {} {}/{name}",
                    kind.kind, target.cluster.namespace
                )
            })?],
            None => {
                api.list(&ListParams::default())
                    .await
                    .with_context(|| {
                        format!(
                            "failed to list {} in {}",
                            kind.kind, target.cluster.namespace
                        )
                    })?
                    .items
            }
        };
        let cleaned: Vec<Value> = objects
            .iter()
            .map(|o| {
                let mut value = serde_json::to_value(o).unwrap_or(Value::Null);
                value["apiVersion"] = json!(kind.resource.api_version);
                value["kind"] = json!(kind.kind);
                clean(&value)
            })
            .collect();
        print!("{}", keelson_manifest::to_yaml_stream(&cleaned));
        Ok(Exit::Success)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_bookkeeping_are_dropped() {
        let live = json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system", "uid": "x", "resourceVersion": "1",
                         "managedFields": [], "annotations": {"reconcile.fluxcd.io/requestedAt": "now", "team": "a"}},
            "spec": {"interval": "5m"},
            "status": {"conditions": []}
        });
        assert_eq!(
            clean(&live),
            json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": "flux-system", "annotations": {"team": "a"}},
                "spec": {"interval": "5m"}
            })
        );
    }
}
