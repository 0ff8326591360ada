//! keelson's generated CRDs are accepted by the real apiserver, and the Flux objects of real
//! repositories (`../shared/corpus/flux-repos`) are stored unchanged: no field is pruned, no
//! validation rejects what Flux accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use keelson_api::{GitRepository, HelmRelease, Kustomization, crds};
use keelson_testsupport::{TestNamespace, apply, eventually, shared_dir};
use kube::api::{Api, PostParams};
use serde_json::Value;

/// Applies keelson's CRDs and waits until they are Established.
async fn install_crds(client: kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap();
        apply(&api, serde_json::to_value(&crd).unwrap()).await;
        eventually(
            &format!("CRD {name} to be Established"),
            Duration::from_secs(30),
            || {
                let api = api.clone();
                let name = name.clone();
                async move {
                    let crd = api.get(&name).await.ok()?;
                    let established = crd
                        .status?
                        .conditions?
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True");
                    established.then_some(())
                }
            },
        )
        .await;
    }
}

/// Fields Flux's own CRDs require; documents without them (flux-local's test data has some) are
/// rejected by Flux too, so they are left out of the round trip.
fn flux_required(kind: &str) -> &'static [&'static str] {
    match kind {
        "GitRepository" => &["url", "interval"],
        "HelmRelease" => &["interval"],
        _ => &["interval", "prune", "sourceRef"],
    }
}

fn flux_documents(dir: &Path, api_version: &str, kind: &str, out: &mut Vec<(String, Value)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            flux_documents(&path, api_version, kind, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.contains(api_version) {
                continue;
            }
            // Files that are not plain YAML (templates, anchors our parser rejects) are skipped:
            // this test is about the CRD schema, not about YAML parsing.
            let Ok(docs) = serde_saphyr::from_multiple::<Value>(&text) else {
                continue;
            };
            for doc in docs {
                let complete = flux_required(kind)
                    .iter()
                    .all(|f| doc["spec"].get(f).is_some());
                if doc["apiVersion"] == api_version && doc["kind"] == kind && complete {
                    out.push((path.display().to_string(), doc));
                }
            }
        }
    }
}

async fn round_trip<K>(ns: &TestNamespace, api_version: &str, kind: &str) -> usize
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let mut docs = Vec::new();
    flux_documents(
        &shared_dir().join("corpus/flux-repos"),
        api_version,
        kind,
        &mut docs,
    );
    assert!(!docs.is_empty(), "no {kind} found in the corpus");
    let api: Api<K> = ns.api();
    for (i, (file, mut doc)) in docs.clone().into_iter().enumerate() {
        let name = format!("obj-{i}");
        doc["metadata"] = serde_json::json!({"name": name, "namespace": ns.name()});
        // The apiserver drops null fields whose schema is not nullable (Flux's CRDs mark none
        // nullable) and Go's decoder reads them as zero values, so `postBuild:` or `substitute:`
        // with nothing after it means absent: to Flux, to the apiserver and so to keelson.
        keelson_manifest::drop_nulls(&mut doc);
        let expected_spec = doc["spec"].clone();
        let object: K = serde_json::from_value(doc)
            .unwrap_or_else(|e| panic!("{file}: keelson's {kind} type rejects it: {e}"));
        api.create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("{file}: the apiserver rejects the {kind}: {e}"));
        let stored = api.get_opt(&name).await.unwrap().unwrap();
        let stored_spec = serde_json::to_value(&stored).unwrap()["spec"].clone();
        let (stored_spec, expected_spec) = (
            without_empty_lists(stored_spec),
            without_empty_lists(expected_spec),
        );
        if let Some(at) = first_difference(&stored_spec, &expected_spec, "spec") {
            panic!("{file}: the stored spec differs at {at}");
        }
    }
    docs.len()
}

/// `value` with empty lists and maps removed: Flux's Go types mark them `omitempty`, so
/// `dependsOn: []` and an absent `dependsOn` are one spec to Flux (it writes neither back), and
/// keelson's types follow that.
fn without_empty_lists(mut value: Value) -> Value {
    fn prune(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.values_mut().for_each(prune);
                map.retain(|_, v| !is_empty_collection(v));
            }
            Value::Array(items) => items.iter_mut().for_each(prune),
            _ => {}
        }
    }
    fn is_empty_collection(v: &Value) -> bool {
        matches!(v, Value::Array(a) if a.is_empty())
            || matches!(v, Value::Object(m) if m.is_empty())
    }
    prune(&mut value);
    value
}

/// Where `stored` and `expected` first differ, as a path with both values.
fn first_difference(stored: &Value, expected: &Value, path: &str) -> Option<String> {
    match (stored, expected) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (x, y) = (a.get(k), b.get(k));
                match (x, y) {
                    (Some(x), Some(y)) => first_difference(x, y, &format!("{path}.{k}")),
                    _ => Some(format!("{path}.{k}: stored {x:?}, expected {y:?}")),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        // JSON has one number type: the apiserver writes 775.0 back as 775.
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        _ if stored == expected => None,
        _ => Some(format!("{path}: stored {stored}, expected {expected}")),
    }
}

#[tokio::test]
async fn flux_objects_from_real_repositories_round_trip() {
    let ns = TestNamespace::create("api-crds").await;
    install_crds(ns.client()).await;
    let repos =
        round_trip::<GitRepository>(&ns, "source.toolkit.fluxcd.io/v1", "GitRepository").await;
    let kustomizations =
        round_trip::<Kustomization>(&ns, "kustomize.toolkit.fluxcd.io/v1", "Kustomization").await;
    let releases = round_trip::<HelmRelease>(&ns, "helm.toolkit.fluxcd.io/v2", "HelmRelease").await;
    eprintln!(
        "round-tripped {repos} GitRepositories, {kustomizations} Kustomizations and {releases} HelmReleases"
    );
    assert!(repos >= 5 && kustomizations >= 20 && releases >= 8);

    // What Flux's CRD rejects, ours rejects too: a Kustomization without an interval.
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        ns.client(),
        ns.name(),
        &kube::api::ApiResource::erase::<Kustomization>(&()),
    );
    let incomplete: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "no-interval"},
        "spec": {"prune": true, "sourceRef": {"kind": "GitRepository", "name": "x"}}
    }))
    .unwrap();
    let err = api
        .create(&PostParams::default(), &incomplete)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("spec.interval"),
        "unexpected error: {err}"
    );

    // sourceRef.kind is Flux's enum: ExternalArtifact (Flux 2.7) accepted, a HelmRepository not.
    let with_source = |name: &str, kind: &str| -> kube::api::DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name},
            "spec": {"interval": "10m", "prune": true, "sourceRef": {"kind": kind, "name": "x"}}
        }))
        .unwrap()
    };
    api.create(
        &PostParams::default(),
        &with_source("external", "ExternalArtifact"),
    )
    .await
    .expect("an ExternalArtifact source is accepted");
    let err = api
        .create(
            &PostParams::default(),
            &with_source("helm-repo", "HelmRepository"),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("spec.sourceRef.kind"),
        "unexpected error: {err}"
    );
}
