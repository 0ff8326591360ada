//! OpenAPI schema knowledge for strategic merge: which lists merge, and on which keys.
//!
//! kustomize (kyaml) looks the schema of an object up by its exact `apiVersion` and `kind` in
//! the `x-kubernetes-group-version-kind` extensions of a swagger document's definitions, then
//! follows `properties`, `additionalProperties`, `items` and `$ref`s down to each field. A list
//! merges by key when its schema carries `x-kubernetes-patch-strategy: merge`; the keys are
//! `x-kubernetes-list-map-keys` if given, else `x-kubernetes-patch-merge-key`, else none (a
//! list of scalars merged as a set).
//!
//! The built-in document is the one kustomize v5 builds in: Kubernetes v1.21.2, reduced to the
//! fields above (`data/kubernetes-v1.21.2-openapi.txt`, written by `tools/openapi-gen`, one
//! definition per line so that only the definitions a build walks are ever parsed). A
//! kustomization's `openapi: {path: …}` replaces it with the user's document for the whole
//! build (kustomize then knows nothing of the built-in kinds), as kustomize does.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

const BUILTIN: &str = include_str!("../data/kubernetes-v1.21.2-openapi.txt");

/// The only built-in OpenAPI version kustomize v5 accepts in `openapi: {version: …}`.
pub(crate) const BUILTIN_VERSION: &str = "v1.21.2";

/// A definition: parsed on first use.
#[derive(Debug)]
struct Definition {
    /// The JSON text, for a built-in definition not parsed yet.
    raw: Option<&'static str>,
    value: OnceLock<Value>,
}

impl Definition {
    fn get(&self) -> &Value {
        self.value.get_or_init(|| {
            // The built-in text is generated (and checked by a unit test).
            self.raw
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or(Value::Null)
        })
    }
}

/// A swagger document's definitions, indexed by the resource types they describe.
#[derive(Debug, Default)]
pub(crate) struct OpenApi {
    definitions: HashMap<String, Definition>,
    /// `(apiVersion, kind)` to definition name.
    by_type: HashMap<(String, String), String>,
}

impl OpenApi {
    /// The built-in Kubernetes schema (indexed once per process, definitions parsed on use).
    pub(crate) fn builtin() -> &'static OpenApi {
        static CELL: OnceLock<OpenApi> = OnceLock::new();
        CELL.get_or_init(|| {
            let mut api = OpenApi::default();
            for line in BUILTIN.lines() {
                let mut parts = line.splitn(4, '\t');
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some("T"), Some(api_version), Some(kind), Some(name)) => {
                        api.by_type
                            .insert((api_version.into(), kind.into()), name.into());
                    }
                    (Some("D"), Some(name), Some(json), None) => {
                        let def = Definition {
                            raw: Some(json),
                            value: OnceLock::new(),
                        };
                        api.definitions.insert(name.into(), def);
                    }
                    _ => {}
                }
            }
            api
        })
    }

    /// Reads a user's swagger document (JSON or YAML) with a `definitions` map.
    pub(crate) fn parse(text: &str) -> Result<OpenApi, String> {
        let doc = keelson_manifest::parse_value(text).map_err(|e| e.to_string())?;
        let definitions = match doc {
            Value::Object(mut m) => match m.remove("definitions") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(d)) => d,
                Some(_) => return Err("`definitions` must be a map".into()),
            },
            Value::Null => Map::new(),
            _ => return Err("a swagger document must be a map".into()),
        };
        let mut by_type = HashMap::new();
        for (name, def) in &definitions {
            let Some(Value::Array(gvks)) = def.get("x-kubernetes-group-version-kind") else {
                continue;
            };
            for gvk in gvks {
                let s = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("");
                let api_version = match s("group") {
                    "" => s("version").to_string(),
                    g => format!("{g}/{}", s("version")),
                };
                by_type.insert((api_version, s("kind").to_string()), name.clone());
            }
        }
        let definitions = definitions
            .into_iter()
            .map(|(name, v)| {
                (
                    name,
                    Definition {
                        raw: None,
                        value: OnceLock::from(v),
                    },
                )
            })
            .collect();
        Ok(OpenApi {
            definitions,
            by_type,
        })
    }

    /// The schema of objects with this `apiVersion` and `kind` (exact match).
    pub(crate) fn for_type(&self, api_version: &str, kind: &str) -> Option<&Value> {
        let name = self
            .by_type
            .get(&(api_version.to_string(), kind.to_string()))?;
        self.definitions.get(name).map(Definition::get)
    }

    /// Follows `$ref`s (`#/definitions/NAME`) until a schema without one.
    fn resolve<'a>(&'a self, mut s: &'a Value) -> Option<&'a Value> {
        // A cycle of pure references cannot resolve; bound the chase.
        for _ in 0..64 {
            let Some(r) = s.get("$ref") else {
                return Some(s);
            };
            let name = r.as_str()?.strip_prefix("#/definitions/")?;
            s = self.definitions.get(name)?.get();
        }
        None
    }

    /// The schema of field `key` of an object with schema `s`: its property, else the
    /// `additionalProperties` schema.
    pub(crate) fn field<'a>(&'a self, s: &'a Value, key: &str) -> Option<&'a Value> {
        let child = match s.get("properties").and_then(|p| p.get(key)) {
            Some(c) => c,
            None => s.get("additionalProperties").filter(|a| a.is_object())?,
        };
        self.resolve(child)
    }

    /// The schema of the elements of a list with schema `s` (only for `type: array`).
    pub(crate) fn elements<'a>(&'a self, s: &'a Value) -> Option<&'a Value> {
        let is_array = match s.get("type") {
            Some(Value::String(t)) => t == "array",
            Some(Value::Array(t)) => t.len() == 1 && t[0] == "array",
            _ => false,
        };
        if !is_array {
            return None;
        }
        self.resolve(s.get("items").filter(|i| i.is_object())?)
    }
}

/// Whether a list with schema `s` merges by key (its patch strategy includes `merge`).
pub(crate) fn merges(s: &Value) -> bool {
    s.get("x-kubernetes-patch-strategy")
        .and_then(Value::as_str)
        .is_some_and(|p| p.split(',').any(|x| x == "merge"))
}

/// The merge keys of a list with schema `s`: `x-kubernetes-list-map-keys`, else the
/// `x-kubernetes-patch-merge-key`, else none (only read when a patch strategy is set).
pub(crate) fn merge_keys(s: &Value) -> Vec<String> {
    if s.get("x-kubernetes-patch-strategy").is_none() {
        return Vec::new();
    }
    if let Some(Value::Array(keys)) = s.get("x-kubernetes-list-map-keys") {
        return keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
    }
    match s
        .get("x-kubernetes-patch-merge-key")
        .and_then(Value::as_str)
    {
        Some(k) => vec![k.to_string()],
        None => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_definitions_all_parse() {
        let api = OpenApi::builtin();
        assert!(api.definitions.len() > 500, "{}", api.definitions.len());
        assert!(api.by_type.len() > 200, "{}", api.by_type.len());
        for (name, def) in &api.definitions {
            assert!(def.get().is_object(), "{name}");
        }
        for name in api.by_type.values() {
            assert!(api.definitions.contains_key(name), "{name}");
        }
    }

    #[test]
    fn builtin_schema_knows_pod_templates() {
        let api = OpenApi::builtin();
        let deploy = api.for_type("apps/v1", "Deployment").unwrap();
        let spec = api.field(deploy, "spec").unwrap();
        let pod = api
            .field(api.field(spec, "template").unwrap(), "spec")
            .unwrap();
        let containers = api.field(pod, "containers").unwrap();
        assert!(merges(containers));
        assert_eq!(merge_keys(containers), ["name"]);
        let container = api.elements(containers).unwrap();
        let ports = api.field(container, "ports").unwrap();
        assert_eq!(merge_keys(ports), ["containerPort", "protocol"]);
        // args is a plain list: replaced.
        assert!(!merges(api.field(container, "args").unwrap()));
        // A custom apiVersion is unknown.
        assert!(api.for_type("custom", "Deployment").is_none());
        // Label maps: additionalProperties.
        let meta = api.field(deploy, "metadata").unwrap();
        assert!(
            api.field(api.field(meta, "labels").unwrap(), "app")
                .is_some()
        );
        assert!(merges(api.field(meta, "finalizers").unwrap()));
        assert!(merge_keys(api.field(meta, "finalizers").unwrap()).is_empty());
    }

    #[test]
    fn custom_schema_from_yaml() {
        let api = OpenApi::parse(
            "definitions:\n  v1.Foo:\n    x-kubernetes-group-version-kind: [{group: ex.com, version: v1, kind: Foo}]\n    properties:\n      items:\n        type: array\n        x-kubernetes-patch-strategy: merge\n        x-kubernetes-patch-merge-key: id\n        items: {$ref: '#/definitions/v1.Item'}\n  v1.Item: {properties: {id: {type: string}}}\n",
        )
        .unwrap();
        let foo = api.for_type("ex.com/v1", "Foo").unwrap();
        let items = api.field(foo, "items").unwrap();
        assert_eq!(merge_keys(items), ["id"]);
        assert!(api.elements(items).unwrap().get("properties").is_some());
        assert!(api.for_type("apps/v1", "Deployment").is_none());
    }
}
