//! The kustomization file.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// File names that make a directory a kustomization, in kustomize's order of preference.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A `Kustomization` or `Component`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Kustomization {
    pub api_version: String,
    pub kind: String,
    pub resources: Vec<String>,
    pub bases: Vec<String>,
    pub components: Vec<String>,
    pub crds: Vec<String>,
    #[serde(deserialize_with = "lenient")]
    pub namespace: String,
    #[serde(deserialize_with = "lenient")]
    pub name_prefix: String,
    #[serde(deserialize_with = "lenient")]
    pub name_suffix: String,
    #[serde(deserialize_with = "lenient_map")]
    pub common_labels: Vec<(String, String)>,
    pub labels: Vec<Label>,
    #[serde(deserialize_with = "lenient_map")]
    pub common_annotations: Vec<(String, String)>,
    pub patches: Vec<Patch>,
    pub patches_strategic_merge: Vec<Value>,
    pub patches_json6902: Vec<Patch>,
    pub config_map_generator: Vec<GeneratorArgs>,
    pub secret_generator: Vec<GeneratorArgs>,
    pub generator_options: Option<GeneratorOptions>,
    pub images: Vec<Image>,
    pub replicas: Vec<Replica>,
    pub replacements: Vec<Value>,
    pub configurations: Vec<String>,
    pub sort_options: Option<Value>,
    pub generators: Vec<String>,
    pub transformers: Vec<String>,
    pub validators: Vec<String>,
    pub vars: Vec<Value>,
    pub openapi: Option<Value>,
    pub helm_charts: Vec<Value>,
    pub build_metadata: Vec<String>,
}

/// One `labels:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Label {
    #[serde(deserialize_with = "lenient_map")]
    pub pairs: Vec<(String, String)>,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub fields: Vec<Value>,
}

/// One `patches:` / `patchesJson6902:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Patch {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    pub options: Option<Value>,
}

/// Selects objects by id, labels and annotations.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

/// A `configMapGenerator` / `secretGenerator` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct GeneratorArgs {
    #[serde(deserialize_with = "lenient")]
    pub name: String,
    #[serde(deserialize_with = "lenient")]
    pub namespace: String,
    pub behavior: String,
    pub literals: Vec<String>,
    pub files: Vec<String>,
    pub envs: Vec<String>,
    pub env: String,
    pub options: Option<GeneratorOptions>,
    #[serde(rename = "type")]
    pub type_: String,
}

/// `generatorOptions` (and a generator's own `options`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct GeneratorOptions {
    #[serde(deserialize_with = "lenient_map")]
    pub labels: Vec<(String, String)>,
    #[serde(deserialize_with = "lenient_map")]
    pub annotations: Vec<(String, String)>,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

/// An `images:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Image {
    #[serde(deserialize_with = "lenient")]
    pub name: String,
    #[serde(deserialize_with = "lenient")]
    pub new_name: String,
    #[serde(deserialize_with = "lenient")]
    pub new_tag: String,
    #[serde(deserialize_with = "lenient")]
    pub digest: String,
    #[serde(deserialize_with = "lenient")]
    pub tag_suffix: String,
}

/// A `replicas:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

/// Scalars as strings (YAML authors write `newTag: 1.2` or `app: 1`).
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    scalar_string(&v).ok_or_else(|| serde::de::Error::custom("expected a string"))
}

fn lenient_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                scalar_string(&v)
                    .map(|s| (k, s))
                    .ok_or_else(|| serde::de::Error::custom("expected a map of strings"))
            })
            .collect(),
        _ => Err(serde::de::Error::custom("expected a map of strings")),
    }
}
