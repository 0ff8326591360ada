//! Flux's `valuesFrom` composition (`keelson_helm::valuesfrom`): documents merged at the root in
//! order, single values set at `targetPath` with Helm's `--set` rules, optional objects skipped,
//! `spec.values` last.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use keelson_helm::valuesfrom::{ValuesFrom, compose, to_json};
use serde_json::json;

fn entry<'a>(kind: &'a str, name: &'a str, data: Option<&[(&str, &str)]>) -> ValuesFrom<'a> {
    ValuesFrom {
        kind,
        name,
        key: "values.yaml",
        data: data.map(|d| {
            d.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        }),
        ..ValuesFrom::default()
    }
}

#[test]
fn merges_in_flux_order() {
    let a = entry(
        "ConfigMap",
        "a",
        Some(&[(
            "values.yaml",
            "replicas: 2\nimage: {repo: x, tag: old}\nport: 80\n",
        )]),
    );
    let mut b = entry("Secret", "b", Some(&[("image", "\"1.0\"")]));
    b.key = "image";
    b.target_path = Some("image.tag");
    let mut c = entry("ConfigMap", "missing", None);
    c.optional = true;
    let inline = json!({"replicas": 3});
    let values = compose("ns", &[a, b, c], Some(&inline)).expect("composes");
    assert_eq!(
        serde_json::Value::Object(to_json(&values)),
        json!({"replicas": 3, "image": {"repo": "x", "tag": "1.0"}, "port": 80})
    );
}

#[test]
fn missing_objects_keys_and_literals() {
    let err = compose("ns", &[entry("ConfigMap", "a", None)], None).unwrap_err();
    assert_eq!(err.to_string(), "could not find ConfigMap 'ns/a'");
    let mut optional = entry("Secret", "s", Some(&[]));
    optional.optional = true;
    let err = compose("ns", &[optional], None).unwrap_err();
    assert!(
        err.to_string().contains("missing key 'values.yaml'"),
        "{err}"
    );
    let mut literal = entry("ConfigMap", "l", Some(&[("f", "a=b,c")]));
    literal.key = "f";
    literal.target_path = Some("config.file");
    literal.literal = true;
    let values = compose("ns", &[literal], None).expect("composes");
    assert_eq!(to_json(&values)["config"]["file"], "a=b,c");
    let err = compose("ns", &[entry("Bucket", "x", Some(&[]))], None).unwrap_err();
    assert!(err.to_string().contains("unsupported"), "{err}");
}
