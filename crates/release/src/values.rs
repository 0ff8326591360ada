//! The values of a release, composed in Flux's order ([`keelson_helm::valuesfrom`], shared with
//! the offline gate): each `valuesFrom` entry in turn, then `spec.values` on top.

use std::collections::BTreeMap;

use keelson_api::helmrelease::ValuesReference;
use keelson_helm::value::Map;
use keelson_helm::valuesfrom::ValuesFrom;
use serde_json::Value as Json;

pub use keelson_helm::valuesfrom::{ValuesError, from_json, to_json};

/// One `valuesFrom` entry with the data of the object it names (`None`: the object is missing).
pub struct Source<'a> {
    /// The reference.
    pub reference: &'a ValuesReference,
    /// The object's data (Secret data decoded), if the object exists.
    pub data: Option<BTreeMap<String, String>>,
}

/// Composes the values of a release from the fetched `valuesFrom` objects and `spec.values`.
pub fn compose(
    namespace: &str,
    sources: &[Source<'_>],
    inline: Option<&Json>,
) -> Result<Map, ValuesError> {
    let entries: Vec<ValuesFrom<'_>> = sources
        .iter()
        .map(|s| ValuesFrom {
            kind: &s.reference.kind,
            name: &s.reference.name,
            key: s.reference.key(),
            target_path: s.reference.target_path.as_deref(),
            literal: s.reference.literal.unwrap_or(false),
            optional: s.reference.is_optional(),
            data: s.data.clone(),
        })
        .collect();
    keelson_helm::valuesfrom::compose(namespace, &entries, inline)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reference(kind: &str, name: &str) -> ValuesReference {
        ValuesReference {
            kind: kind.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn merges_in_flux_order() {
        let a = reference("ConfigMap", "a");
        let mut b = reference("Secret", "b");
        b.values_key = Some("image".into());
        b.target_path = Some("image.tag".into());
        let mut c = reference("ConfigMap", "missing");
        c.optional = Some(true);
        let sources = [
            Source {
                reference: &a,
                data: Some(BTreeMap::from([(
                    "values.yaml".into(),
                    "replicas: 2\nimage: {repo: x, tag: old}\nport: 80\n".into(),
                )])),
            },
            Source {
                reference: &b,
                data: Some(BTreeMap::from([("image".into(), "\"1.0\"".into())])),
            },
            Source {
                reference: &c,
                data: None,
            },
        ];
        let inline = serde_json::json!({"replicas": 3});
        let values = to_json(&compose("ns", &sources, Some(&inline)).unwrap());
        assert_eq!(
            Json::Object(values),
            serde_json::json!({"replicas": 3, "image": {"repo": "x", "tag": "1.0"}, "port": 80})
        );
    }

    #[test]
    fn missing_objects_and_keys() {
        let a = reference("ConfigMap", "a");
        let err = compose(
            "ns",
            &[Source {
                reference: &a,
                data: None,
            }],
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "could not find ConfigMap 'ns/a'");
        let mut opt = reference("Secret", "s");
        opt.optional = Some(true);
        let err = compose(
            "ns",
            &[Source {
                reference: &opt,
                data: Some(BTreeMap::new()),
            }],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing key 'values.yaml'"));
    }
}
