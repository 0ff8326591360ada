//! The values of a release, composed in Flux's order: each `valuesFrom` entry in turn (a whole
//! YAML document merged at the root, or one value set at `targetPath` with Helm's `--set`
//! rules), then `spec.values` on top. Maps merge recursively; anything else is replaced.

use std::collections::BTreeMap;

use keelson_api::helmrelease::ValuesReference;
use keelson_helm::value::{Map, Value};
use serde_json::Value as Json;

/// Values that could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// A referenced ConfigMap or Secret does not exist and is not optional.
    #[error("could not find {kind} '{namespace}/{name}'")]
    NotFound {
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The key is missing from the object.
    #[error("missing key '{key}' in {kind} '{namespace}/{name}'")]
    MissingKey {
        /// The key.
        key: String,
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The data under the key is not a YAML map.
    #[error("failed to parse values from {kind} '{namespace}/{name}' key '{key}': {message}")]
    Parse {
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `targetPath` could not be set.
    #[error("failed to set target path '{path}' for {kind} '{namespace}/{name}': {message}")]
    TargetPath {
        /// The path.
        path: String,
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// An unsupported kind.
    #[error("unsupported values reference kind '{0}' (ConfigMap or Secret)")]
    Kind(String),
}

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
    let mut result = Map::new();
    for source in sources {
        let r = source.reference;
        if r.kind != "ConfigMap" && r.kind != "Secret" {
            return Err(ValuesError::Kind(r.kind.clone()));
        }
        let Some(data) = &source.data else {
            if r.is_optional() {
                continue;
            }
            return Err(ValuesError::NotFound {
                kind: r.kind.clone(),
                namespace: namespace.into(),
                name: r.name.clone(),
            });
        };
        let key = r.key();
        let Some(text) = data.get(key) else {
            return Err(ValuesError::MissingKey {
                key: key.into(),
                kind: r.kind.clone(),
                namespace: namespace.into(),
                name: r.name.clone(),
            });
        };
        if let Some(path) = r.target_path.as_deref().filter(|p| !p.is_empty()) {
            set_path(&mut result, path, text, r.literal.unwrap_or(false)).map_err(|message| {
                ValuesError::TargetPath {
                    path: path.into(),
                    kind: r.kind.clone(),
                    namespace: namespace.into(),
                    name: r.name.clone(),
                    message,
                }
            })?;
            continue;
        }
        let parsed = keelson_helm::yaml::parse(text).map_err(|e| ValuesError::Parse {
            kind: r.kind.clone(),
            namespace: namespace.into(),
            name: r.name.clone(),
            key: key.into(),
            message: e.to_string(),
        })?;
        match parsed {
            Value::Map(m) => {
                let m = m.borrow().clone();
                keelson_helm::values::merge_maps(&mut result, &m);
            }
            v if v.is_nil() => {}
            other => {
                return Err(ValuesError::Parse {
                    kind: r.kind.clone(),
                    namespace: namespace.into(),
                    name: r.name.clone(),
                    key: key.into(),
                    message: format!("expected a map, found {}", other.type_name()),
                });
            }
        }
    }
    if let Some(inline) = inline
        && let Value::Map(m) = keelson_helm::json::from_serde(inline)
    {
        let m = m.borrow().clone();
        keelson_helm::values::merge_maps(&mut result, &m);
    }
    Ok(result)
}

/// Sets one value at a `--set` path: quoted values (and `literal`) as strings, others typed.
fn set_path(into: &mut Map, path: &str, value: &str, literal: bool) -> Result<(), String> {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    if literal {
        let mut json = Json::Object(to_json(into));
        let mut cursor = &mut json;
        for segment in path.split('.') {
            if !cursor.is_object() {
                *cursor = Json::Object(serde_json::Map::new());
            }
            let Json::Object(map) = cursor else {
                return Err("not a map".into());
            };
            cursor = map.entry(segment.to_string()).or_insert(Json::Null);
        }
        *cursor = Json::String(value.to_string());
        if let Json::Object(m) = &json {
            *into = from_json(m);
        }
        return Ok(());
    }
    let (text, as_string) = if quoted {
        (value.trim_matches(['"', '\'']), true)
    } else {
        (value, false)
    };
    keelson_helm::values::parse_set(&format!("{path}={text}"), into, as_string)
        .map_err(|e| e.to_string())
}

/// The values as JSON (what the release record stores as `config`).
pub fn to_json(values: &Map) -> serde_json::Map<String, Json> {
    match keelson_helm::json::to_serde(&Value::map(values.clone())) {
        Json::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The values from JSON.
pub fn from_json(values: &serde_json::Map<String, Json>) -> Map {
    match keelson_helm::json::from_serde(&Json::Object(values.clone())) {
        Value::Map(m) => m.borrow().clone(),
        _ => Map::new(),
    }
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

    #[test]
    fn literal_sets_strings_verbatim() {
        let mut into = Map::new();
        set_path(&mut into, "config.file", "a=b,c", true).unwrap();
        let json = to_json(&into);
        assert_eq!(json["config"]["file"], "a=b,c");
    }
}
