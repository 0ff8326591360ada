//! Field specs: which fields of which kinds a transformer touches (kustomize's "transformer
//! configuration"), and walking an object along such a path.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::resource::Gvk;

/// One field spec: a path (segments separated by `/`) in objects of a kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSpec {
    /// Selects objects by group, version and kind (empty parts match anything).
    pub gvk: Gvk,
    /// Path segments; `name[]` marks a list, lists are also crossed implicitly.
    pub path: Vec<String>,
    /// Whether missing fields are created.
    pub create: bool,
}

/// A name-reference rule: fields that hold the name of an object of kind `gvk`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NameBackRef {
    /// The kind referred to.
    pub gvk: Gvk,
    /// The referring fields.
    pub field_specs: Vec<FieldSpec>,
}

/// The field specs of every built-in transformer.
#[derive(Debug, Clone, Default)]
pub struct TransformerConfig {
    /// `namePrefix`.
    pub name_prefix: Vec<FieldSpec>,
    /// `nameSuffix`.
    pub name_suffix: Vec<FieldSpec>,
    /// `commonLabels` (metadata, selectors and templates).
    pub common_labels: Vec<FieldSpec>,
    /// Template labels (`labels` with `includeTemplates`).
    pub template_labels: Vec<FieldSpec>,
    /// `commonAnnotations`.
    pub common_annotations: Vec<FieldSpec>,
    /// `namespace`.
    pub namespace: Vec<FieldSpec>,
    /// Fields where `$(VAR)` references are expanded.
    pub var_reference: Vec<FieldSpec>,
    /// Name references.
    pub name_reference: Vec<NameBackRef>,
    /// `images`.
    pub images: Vec<FieldSpec>,
    /// `replicas`.
    pub replicas: Vec<FieldSpec>,
}

/// kustomize v5's default transformer configuration (its built-in field specs, Apache-2.0) as
/// JSON, one field spec per line: JSON reads in a fraction of the time YAML takes, and this is
/// read on every build.
const DEFAULTS: &str = include_str!("defaults.json");

impl TransformerConfig {
    /// kustomize's built-in configuration.
    pub fn defaults() -> &'static TransformerConfig {
        static CONFIG: OnceLock<TransformerConfig> = OnceLock::new();
        CONFIG.get_or_init(|| {
            let value: Value = serde_json::from_str(DEFAULTS).unwrap_or(Value::Null);
            TransformerConfig::from_value(&value).unwrap_or_default()
        })
    }

    /// Reads a configuration (the format of a kustomization's `configurations:` files).
    pub fn from_value(value: &Value) -> Result<TransformerConfig, String> {
        let list = |key: &str| -> Result<Vec<FieldSpec>, String> {
            match value.get(key) {
                Some(Value::Array(items)) => items.iter().map(FieldSpec::from_value).collect(),
                Some(Value::Null) | None => Ok(Vec::new()),
                Some(_) => Err(format!("{key} must be a list of field specs")),
            }
        };
        let mut name_reference = Vec::new();
        if let Some(Value::Array(items)) = value.get("nameReference") {
            for item in items {
                let mut field_specs = Vec::new();
                if let Some(Value::Array(specs)) = item.get("fieldSpecs") {
                    for spec in specs {
                        field_specs.push(FieldSpec::from_value(spec)?);
                    }
                }
                name_reference.push(NameBackRef {
                    gvk: Gvk::from_spec(item),
                    field_specs,
                });
            }
        }
        Ok(TransformerConfig {
            name_prefix: list("namePrefix")?,
            name_suffix: list("nameSuffix")?,
            common_labels: list("commonLabels")?,
            template_labels: list("templateLabels")?,
            common_annotations: list("commonAnnotations")?,
            namespace: list("namespace")?,
            var_reference: list("varReference")?,
            name_reference,
            images: list("images")?,
            replicas: list("replicas")?,
        })
    }

    /// Adds the specs of `other` not already present.
    pub fn merge(&mut self, other: &TransformerConfig) {
        fn add(to: &mut Vec<FieldSpec>, from: &[FieldSpec]) {
            for spec in from {
                if !to.contains(spec) {
                    to.push(spec.clone());
                }
            }
        }
        add(&mut self.name_prefix, &other.name_prefix);
        add(&mut self.name_suffix, &other.name_suffix);
        add(&mut self.common_labels, &other.common_labels);
        add(&mut self.template_labels, &other.template_labels);
        add(&mut self.common_annotations, &other.common_annotations);
        add(&mut self.namespace, &other.namespace);
        add(&mut self.var_reference, &other.var_reference);
        add(&mut self.images, &other.images);
        add(&mut self.replicas, &other.replicas);
        for backref in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|b| b.gvk == backref.gvk)
            {
                Some(existing) => add(&mut existing.field_specs, &backref.field_specs),
                None => self.name_reference.push(backref.clone()),
            }
        }
    }
}

impl FieldSpec {
    /// Reads `{path, group, version, kind, create}`.
    pub fn from_value(value: &Value) -> Result<FieldSpec, String> {
        let path = value
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| "field spec without a path".to_string())?;
        Ok(FieldSpec {
            gvk: Gvk::from_spec(value),
            path: split_path(path),
            create: value
                .get("create")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// A spec for `path` in every kind.
    pub fn any(path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            gvk: Gvk::default(),
            path: split_path(path),
            create,
        }
    }
}

/// Splits a field-spec path at `/` (a `\/` stays inside a segment).
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'/') {
            cur.push('/');
            chars.next();
        } else if c == '/' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// The callback of [`walk`]: receives the map holding the field and the field's key.
pub type FieldFn<'a, E> = dyn FnMut(&mut Map<String, Value>, &str) -> Result<(), E> + 'a;

/// Calls `f(map, key)` for the last segment of `path` in every map reached in `value` (crossing
/// lists), creating intermediate maps when `create` is set. `f` decides what to do with a
/// missing key.
pub fn walk<E>(
    value: &mut Value,
    path: &[String],
    create: bool,
    f: &mut FieldFn<'_, E>,
) -> Result<(), E> {
    if let Value::Array(items) = value {
        for item in items {
            walk(item, path, create, f)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    let key = first.strip_suffix("[]").unwrap_or(first);
    let Value::Object(map) = value else {
        return Ok(());
    };
    if rest.is_empty() {
        return f(map, key);
    }
    match map.get_mut(key) {
        Some(child) if !child.is_null() => walk(child, rest, create, f),
        _ if create => {
            let child = if first.ends_with("[]") {
                return Ok(());
            } else {
                Value::Object(Map::new())
            };
            map.insert(key.to_string(), child);
            match map.get_mut(key) {
                Some(child) => walk(child, rest, create, f),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
