//! HelmRepository, OCIRepository and HelmChart objects of the corpus' Flux repositories (v1 and
//! v1beta2 manifests; the fields are the same) deserialise into keelson's types and serialise
//! back to the same fields.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use keelson_api::{HelmChart, HelmRepository, OCIRepository};

fn walk(dir: &Path, out: &mut Vec<serde_json::Value>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if !text.contains("source.toolkit.fluxcd.io") {
                continue;
            }
            if let Ok(docs) = serde_saphyr::from_multiple::<serde_json::Value>(&text) {
                out.extend(docs);
            }
        }
    }
}

fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &serde_json::Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back["spec"], doc["spec"], "spec round trip");
}

#[test]
fn corpus_helm_sources_round_trip() {
    let mut docs = Vec::new();
    walk(
        &keelson_testsupport::shared_dir().join("corpus/flux-repos"),
        &mut docs,
    );
    let mut counts = [0usize; 3];
    for d in &docs {
        let api = d["apiVersion"].as_str().unwrap_or("");
        if !api.starts_with("source.toolkit.fluxcd.io/") {
            continue;
        }
        match d["kind"].as_str() {
            Some("HelmRepository") => {
                round_trips::<HelmRepository>(d);
                counts[0] += 1;
            }
            Some("OCIRepository") => {
                round_trips::<OCIRepository>(d);
                counts[1] += 1;
            }
            // Flux's CRD requires spec.interval on a HelmChart; the corpus has test objects
            // without it that the API server would refuse.
            Some("HelmChart") if d["spec"]["interval"].is_null() => {}
            Some("HelmChart") => {
                round_trips::<HelmChart>(d);
                counts[2] += 1;
            }
            _ => {}
        }
    }
    assert!(counts[0] > 0, "no HelmRepository in the corpus");
    println!(
        "HelmRepository {} OCIRepository {} HelmChart {}",
        counts[0], counts[1], counts[2]
    );
}

#[test]
fn defaults_follow_flux() {
    let r: HelmRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "r"},
        "spec": {"url": "oci://ghcr.io/x", "type": "oci"}
    }))
    .unwrap();
    assert!(r.spec.is_oci());
    assert_eq!(r.spec.interval().as_std().as_secs(), 60);
    let c: HelmChart = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "c"},
        "spec": {"chart": "podinfo", "interval": "5m",
                 "sourceRef": {"kind": "HelmRepository", "name": "r"}}
    }))
    .unwrap();
    assert_eq!(c.spec.version(), "*");
    let o: OCIRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "o"},
        "spec": {"url": "oci://ghcr.io/stefanprodan/charts/podinfo", "interval": "10m",
                 "ref": {"semver": ">=6.0.0"},
                 "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"}}
    }))
    .unwrap();
    assert_eq!(o.spec.reference.unwrap().semver.as_deref(), Some(">=6.0.0"));
}
