//! The values of a Flux HelmRelease, composed in Flux's order: each `valuesFrom` entry in turn
//! (a whole YAML document merged at the root, or one value set at `targetPath` with Helm's
//! `--set` rules), then `spec.values` on top. Maps merge recursively; anything else is
//! replaced. Shared by the HelmRelease reconciler (objects read from the cluster) and the
//! offline gate (objects found in a repository).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::value::{Map, Value};

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
    #[error("failed to parse values from {object} key '{key}': {message}")]
    Parse {
        /// The object: `<kind> '<namespace>/<name>'`.
        object: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `targetPath` could not be set.
    #[error("failed to set target path '{path}' for {object}: {message}")]
    TargetPath {
        /// The path.
        path: String,
        /// The object: `<kind> '<namespace>/<name>'`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// An unsupported kind.
    #[error("unsupported values reference kind '{0}' (ConfigMap or Secret)")]
    Kind(String),
}

/// One `valuesFrom` entry (`spec.valuesFrom[]` of a HelmRelease) with the data of the object
/// it names.
#[derive(Debug, Clone, Default)]
pub struct ValuesFrom<'a> {
    /// `ConfigMap` or `Secret`.
    pub kind: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// The data key (`valuesKey`, `values.yaml` by default).
    pub key: &'a str,
    /// `targetPath`: set the single value there instead of merging a document.
    pub target_path: Option<&'a str>,
    /// `literal`: the value is a string, verbatim.
    pub literal: bool,
    /// `optional`: a missing object is skipped.
    pub optional: bool,
    /// The object's data (Secret data decoded), `None` when the object does not exist.
    pub data: Option<BTreeMap<String, String>>,
}

/// Composes the values of a release from the fetched `valuesFrom` objects and `spec.values`.
pub fn compose(
    namespace: &str,
    sources: &[ValuesFrom<'_>],
    inline: Option<&Json>,
) -> Result<Map, ValuesError> {
    let mut result = Map::new();
    for source in sources {
        let r = source;
        let object = || format!("{} '{namespace}/{}'", r.kind, r.name);
        if r.kind != "ConfigMap" && r.kind != "Secret" {
            return Err(ValuesError::Kind(r.kind.to_string()));
        }
        let Some(data) = &source.data else {
            if r.optional {
                continue;
            }
            return Err(ValuesError::NotFound {
                kind: r.kind.to_string(),
                namespace: namespace.into(),
                name: r.name.to_string(),
            });
        };
        let key = r.key;
        let Some(text) = data.get(key) else {
            return Err(ValuesError::MissingKey {
                key: key.into(),
                kind: r.kind.to_string(),
                namespace: namespace.into(),
                name: r.name.to_string(),
            });
        };
        if let Some(path) = r.target_path.filter(|p| !p.is_empty()) {
            set_path(&mut result, path, text, r.literal).map_err(|message| {
                ValuesError::TargetPath {
                    path: path.into(),
                    object: object(),
                    message,
                }
            })?;
            continue;
        }
        let parsed = crate::yaml::parse(text).map_err(|e| ValuesError::Parse {
            object: object(),
            key: key.into(),
            message: e.to_string(),
        })?;
        match parsed {
            Value::Map(m) => {
                let m = m.borrow().clone();
                crate::values::merge_maps(&mut result, &m);
            }
            v if v.is_nil() => {}
            other => {
                return Err(ValuesError::Parse {
                    object: object(),
                    key: key.into(),
                    message: format!("expected a map, found {}", other.type_name()),
                });
            }
        }
    }
    if let Some(inline) = inline
        && let Value::Map(m) = crate::json::from_serde(inline)
    {
        let m = m.borrow().clone();
        crate::values::merge_maps(&mut result, &m);
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
    crate::values::parse_set(&format!("{path}={text}"), into, as_string).map_err(|e| e.to_string())
}

/// The values as JSON (what the release record stores as `config`).
pub fn to_json(values: &Map) -> serde_json::Map<String, Json> {
    match crate::json::to_serde(&Value::map(values.clone())) {
        Json::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The values from JSON.
pub fn from_json(values: &serde_json::Map<String, Json>) -> Map {
    match crate::json::from_serde(&Json::Object(values.clone())) {
        Value::Map(m) => m.borrow().clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn literal_sets_strings_verbatim() {
        let mut into = Map::new();
        set_path(&mut into, "config.file", "a=b,c", true).unwrap();
        let json = to_json(&into);
        assert_eq!(json["config"]["file"], "a=b,c");
    }
}
