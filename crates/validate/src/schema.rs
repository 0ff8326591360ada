//! Schema validation of rendered objects: built-in kinds against the Kubernetes OpenAPI v3
//! schemas of a chosen version (a [`Bundle`], generated from a live apiserver's `/openapi/v3`
//! by `keelson schemas`; one is compiled into the binary), custom resources against the
//! `openAPIV3Schema` of the CustomResourceDefinitions found in the repository.
//!
//! OpenAPI v3 is not quite JSON Schema; [`to_json_schema`] converts what Kubernetes uses:
//! `nullable`, `x-kubernetes-int-or-string` (and the `int-or-string` format), quantities that
//! may be numbers, `x-kubernetes-preserve-unknown-fields` and `x-kubernetes-embedded-resource`.
//! In strict mode objects with declared properties refuse unknown fields (as the apiserver's
//! strict field validation and `kubeconform -strict` do) and kinds without a schema are errors.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Built-in schemas of one Kubernetes version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bundle {
    /// The Kubernetes version they describe (`v1.36.3`).
    #[serde(rename = "kubernetesVersion")]
    pub kubernetes_version: String,
    /// `group/version/Kind` (`/v1/Pod` for the core group) → definition name.
    pub kinds: BTreeMap<String, String>,
    /// Definition name → OpenAPI v3 schema (references as `#/components/schemas/<name>`).
    pub definitions: Map<String, Value>,
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not gzip or not the bundle's JSON.
    #[error("failed to read the schema bundle: {0}")]
    Decode(String),
}

/// The bundle compiled into the binary.
const BUILTIN: &[u8] = include_bytes!("../schemas/kubernetes-v1.36.json.gz");

impl Bundle {
    /// The Kubernetes version of the built-in bundle (`1.36`).
    pub const BUILTIN_VERSION: &'static str = "1.36";

    /// The bundle compiled into the binary.
    ///
    /// # Errors
    /// [`BundleError`] if it does not decode (a build problem).
    pub fn builtin() -> Result<Bundle, BundleError> {
        Bundle::from_gzip(BUILTIN)
    }

    /// Reads a gzip-compressed bundle (what `keelson schemas` writes).
    ///
    /// # Errors
    /// [`BundleError`] if the bytes are not a gzip-compressed bundle.
    pub fn from_gzip(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| BundleError::Decode(e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| BundleError::Decode(e.to_string()))
    }

    /// Builds a bundle from the documents of an apiserver's `/openapi/v3/<group-version>`
    /// endpoints: every component schema, and the kinds their
    /// `x-kubernetes-group-version-kind` names.
    pub fn from_openapi(kubernetes_version: &str, documents: &[Value]) -> Bundle {
        let mut bundle = Bundle {
            kubernetes_version: kubernetes_version.to_string(),
            ..Default::default()
        };
        for doc in documents {
            let Some(schemas) = doc
                .pointer("/components/schemas")
                .and_then(Value::as_object)
            else {
                continue;
            };
            for (name, schema) in schemas {
                if let Some(gvks) = schema
                    .get("x-kubernetes-group-version-kind")
                    .and_then(Value::as_array)
                {
                    // Shared types (DeleteOptions, WatchEvent) list every group: skip those.
                    if gvks.len() == 1 {
                        let g = |k: &str| gvks[0].get(k).and_then(Value::as_str).unwrap_or("");
                        bundle.kinds.insert(
                            format!("{}/{}/{}", g("group"), g("version"), g("kind")),
                            name.clone(),
                        );
                    }
                }
                let mut schema = schema.clone();
                strip_docs(&mut schema);
                bundle.definitions.insert(name.clone(), schema);
            }
        }
        bundle
    }

    /// The bundle as gzip-compressed JSON.
    ///
    /// # Errors
    /// An I/O error from the compressor (not expected for in-memory output).
    pub fn to_gzip(&self) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&json)?;
        enc.finish()
    }
}

/// Removes descriptions (most of the size, no use for validation).
fn strip_docs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("description");
            for child in map.values_mut() {
                strip_docs(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_docs),
        _ => {}
    }
}

/// Converts an OpenAPI v3 schema (Kubernetes dialect) into JSON Schema (draft 4).
pub fn to_json_schema(v: &Value, strict: bool) -> Value {
    let mut v = v.clone();
    convert(&mut v, strict);
    v
}

fn convert(v: &mut Value, strict: bool) {
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            for item in items {
                convert(item, strict);
            }
        }
        return;
    };
    for (k, child) in map.iter_mut() {
        // Property names and enum values are data, not schemas.
        if k == "properties" || k == "patternProperties" || k == "definitions" {
            if let Value::Object(props) = child {
                for p in props.values_mut() {
                    convert(p, strict);
                }
            }
        } else if k != "enum" && k != "default" && k != "example" {
            convert(child, strict);
        }
    }
    let int_or_string = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || map.get("format").and_then(Value::as_str) == Some("int-or-string");
    if int_or_string {
        map.remove("type");
        map.remove("format");
        map.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let embedded = map.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    if embedded && let Some(Value::Object(props)) = map.get_mut("properties") {
        for k in ["apiVersion", "kind"] {
            props.entry(k).or_insert_with(|| json!({"type": "string"}));
        }
        props
            .entry("metadata")
            .or_insert_with(|| json!({"type": "object"}));
    }
    if map.get("nullable") == Some(&Value::Bool(true))
        && let Some(Value::String(t)) = map.get("type").cloned()
    {
        map.insert("type".into(), json!([t, "null"]));
    }
    // OpenAPI 3.0 has boolean exclusiveMinimum/Maximum like draft 4: nothing to do.
    if strict
        && !preserve
        && map.contains_key("properties")
        && !map.contains_key("additionalProperties")
    {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// The JSON Schema of a CRD version's `openAPIV3Schema`: metadata, apiVersion and kind are
/// always allowed at the root, as the apiserver allows them.
pub fn crd_root_schema(schema: &Value, strict: bool) -> Value {
    let mut s = to_json_schema(schema, strict);
    if let Some(map) = s.as_object_mut() {
        let props = map.entry("properties").or_insert_with(|| json!({}));
        if let Some(props) = props.as_object_mut() {
            props.insert("apiVersion".into(), json!({"type": "string"}));
            props.insert("kind".into(), json!({"type": "string"}));
            props.insert("metadata".into(), json!({"type": "object"}));
        }
    }
    s
}

/// One problem with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending field.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// What validating one object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Valid.
    Valid,
    /// Invalid for these reasons.
    Invalid(Vec<Violation>),
    /// No schema knows this kind.
    UnknownKind,
}

/// Compiled validators by kind, built on first use.
pub struct Validators {
    bundle: Option<Bundle>,
    /// `group/version/Kind` → converted CRD schema.
    crds: HashMap<String, Value>,
    /// CRDs that apply to one scope only (a cluster's rendered CRDs), over `crds`.
    scoped: HashMap<usize, HashMap<String, Value>>,
    strict: bool,
    cache: HashMap<String, Option<jsonschema::Validator>>,
}

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validators")
            .field("crds", &self.crds.len())
            .field("strict", &self.strict)
            .finish()
    }
}

impl Validators {
    /// Validators for the built-in kinds of `bundle` (none if `None`) and the given CRDs.
    pub fn new(bundle: Option<Bundle>, crds: &[Value], strict: bool) -> Validators {
        Validators {
            bundle,
            crds: crd_schemas(crds, strict),
            scoped: HashMap::new(),
            strict,
            cache: HashMap::new(),
        }
    }

    /// Adds CRDs that apply only to objects validated in `scope` ([`Validators::validate_in`]),
    /// taking precedence over the built-in and global ones there: the CRDs one cluster
    /// installs (an older Flux's `gotk-components.yaml`) say nothing about another cluster
    /// of the same repository.
    pub fn add_scoped(&mut self, scope: usize, crds: &[Value]) {
        let schemas = crd_schemas(crds, self.strict);
        self.scoped.entry(scope).or_default().extend(schemas);
    }

    /// Whether unknown kinds are errors and unknown fields refused.
    pub fn strict(&self) -> bool {
        self.strict
    }

    fn validator(&mut self, key: &str, scope: Option<usize>) -> Option<&jsonschema::Validator> {
        let scoped = scope.and_then(|s| Some((s, self.scoped.get(&s)?.get(key)?)));
        let cache_key = match scoped {
            Some((s, _)) => format!("{s}#{key}"),
            None => key.to_string(),
        };
        if !self.cache.contains_key(&cache_key) {
            let schema = if let Some((_, s)) = scoped {
                Some(s.clone())
            } else if let Some(s) = self.crds.get(key) {
                Some(s.clone())
            } else {
                self.bundle.as_ref().and_then(|b| {
                    b.kinds
                        .get(key)
                        .map(|name| standalone(b, name, self.strict))
                })
            };
            let compiled = schema.and_then(|s| {
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .should_validate_formats(false)
                    .build(&s)
                    .ok()
            });
            self.cache.insert(cache_key.clone(), compiled);
        }
        self.cache.get(&cache_key).and_then(Option::as_ref)
    }

    /// Validates one object against the built-in and global schemas.
    pub fn validate(&mut self, object: &Value) -> Outcome {
        self.validate_in(object, None)
    }

    /// Validates one object, the CRDs added for `scope` first. Values are not echoed in
    /// messages for Secrets.
    pub fn validate_in(&mut self, object: &Value, scope: Option<usize>) -> Outcome {
        let api_version = keelson_manifest::str_at(object, &["apiVersion"]);
        let kind = keelson_manifest::str_at(object, &["kind"]);
        let (group, version) = keelson_manifest::split_api_version(api_version);
        let key = format!("{group}/{version}/{kind}");
        let secret = kind == "Secret";
        let mut instance = object.clone();
        // SOPS metadata is removed by decryption before apply.
        if let Some(map) = instance.as_object_mut() {
            map.remove("sops");
        }
        let Some(validator) = self.validator(&key, scope) else {
            return Outcome::UnknownKind;
        };
        let violations: Vec<Violation> = validator
            .iter_errors(&instance)
            .map(|e| Violation {
                pointer: e.instance_path().as_str().to_string(),
                message: if secret {
                    e.masked().to_string()
                } else {
                    e.to_string()
                },
            })
            .collect();
        if violations.is_empty() {
            Outcome::Valid
        } else {
            Outcome::Invalid(violations)
        }
    }
}

/// `group/version/Kind` → the converted root schema of every version of `crds` (a later CRD
/// of the same kind wins).
fn crd_schemas(crds: &[Value], strict: bool) -> HashMap<String, Value> {
    let mut by_kind = HashMap::new();
    for crd in crds {
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = crd
            .pointer("/spec/names/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        for version in crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = version.get("name").and_then(Value::as_str).unwrap_or("");
            let schema = version
                .pointer("/schema/openAPIV3Schema")
                .cloned()
                .unwrap_or_else(
                    || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                );
            by_kind.insert(
                format!("{group}/{name}/{kind}"),
                crd_root_schema(&schema, strict),
            );
        }
    }
    by_kind
}

/// The CustomResourceDefinitions of the Flux kinds keelson serves (GitRepository,
/// Kustomization, HelmRelease), as JSON: built-in schemas for them, so a repository need not
/// carry Flux's CRDs (`gotk-components.yaml`) for its Flux objects to be validated. CRDs found
/// in the repository come after and take precedence.
pub fn flux_crds() -> Vec<Value> {
    keelson_api::crds()
        .iter()
        .filter_map(|crd| serde_json::to_value(crd).ok())
        .collect()
}

/// Standalone JSON Schema files in the layout `kubeconform -schema-location
/// 'DIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'` reads (`.Group` being
/// what precedes the slash of the apiVersion: `v1` for the core group), holding the
/// same converted schemas keelson validates with (so a differential run compares engines, not
/// schema sources): one file per built-in kind of `bundle`, with the definitions it reaches,
/// and one per CRD version ([`flux_crds`], then `crds`).
pub fn kubeconform_files(
    bundle: Option<&Bundle>,
    crds: &[Value],
    strict: bool,
) -> Vec<(std::path::PathBuf, Value)> {
    let mut out = Vec::new();
    let file = |key: &str| {
        let mut parts = key.splitn(3, '/');
        let group = parts.next().unwrap_or("");
        let version = parts.next().unwrap_or("");
        let kind = parts.next().unwrap_or("").to_lowercase();
        // kubeconform's `.Group` is the part of apiVersion before the slash: the version
        // itself for the core group (`v1/configmap_v1.json`).
        let dir = if group.is_empty() { version } else { group };
        std::path::PathBuf::from(dir).join(format!("{kind}_{version}.json"))
    };
    if let Some(b) = bundle {
        for (key, name) in &b.kinds {
            out.push((file(key), standalone(b, name, strict)));
        }
    }
    let mut all = flux_crds();
    all.extend(crds.iter().cloned());
    let v = Validators::new(None, &all, strict);
    for (key, schema) in v.crds {
        out.push((file(&key), schema));
    }
    out
}

/// The JSON Schema of definition `name` with every definition it reaches, converted.
fn standalone(b: &Bundle, name: &str, strict: bool) -> Value {
    let mut defs = Map::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        if defs.contains_key(&n) {
            continue;
        }
        let Some(schema) = b.definitions.get(&n) else {
            continue;
        };
        // Quantities are written as strings or numbers (`cpu: 1`).
        let converted = if n.ends_with("api.resource.Quantity") {
            json!({"anyOf": [{"type": "string"}, {"type": "number"}]})
        } else {
            to_json_schema(schema, strict)
        };
        collect_refs(&converted, &mut todo);
        defs.insert(n, converted);
    }
    json!({
        "allOf": [{"$ref": format!("#/components/schemas/{name}")}],
        "components": {"schemas": defs},
    })
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_string());
            }
            map.values().for_each(|c| collect_refs(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_kubernetes_extensions() {
        let s = json!({
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": true},
                "name": {"type": "string", "nullable": true},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}},
            }
        });
        let mut v = Validators::new(
            None,
            &[json!({
                "spec": {"group": "example.com", "names": {"kind": "Thing"},
                         "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": s}}}}]}
            })],
            true,
        );
        let ok = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"},
                        "spec": {"port": "http", "name": null, "raw": {"b": 1}}});
        assert_eq!(v.validate(&ok), Outcome::Valid);
        let bad = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"},
                         "spec": {"port": 1.5, "extra": true}});
        match v.validate(&bad) {
            Outcome::Invalid(errors) => {
                let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
                assert!(pointers.contains(&"/spec/port"), "{errors:?}");
                assert!(pointers.contains(&"/spec"), "{errors:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            v.validate(&json!({"apiVersion": "example.com/v2", "kind": "Thing"})),
            Outcome::UnknownKind
        );
    }
}
