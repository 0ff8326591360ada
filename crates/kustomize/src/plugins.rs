//! `generators:` and `transformers:` entries that configure kustomize's built-in plugins
//! (`apiVersion: builtin`). External plugins (exec, Go, KRM functions) are refused, as kustomize
//! refuses them without `--enable-alpha-plugins`.

use std::path::Path;

use serde_json::Value;

use crate::build::{Accumulator, Builder, add_generated};
use crate::error::Error;
use crate::fieldspec::{FieldSpec, TransformerConfig};
use crate::kustomization::{GeneratorArgs, Image, Replica, Selector, scalar_string};

/// Loads the plugin configuration objects named by a `generators:`/`transformers:` list.
fn configs(
    b: &mut Builder<'_>,
    dir: &Path,
    kfile: &Path,
    entries: &[String],
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for entry in entries {
        if entry.contains('\n') || entry.trim_start().starts_with("apiVersion") {
            let docs = keelson_manifest::parse_documents(entry).map_err(|source| Error::Yaml {
                path: kfile.into(),
                source,
            })?;
            out.extend(docs);
            continue;
        }
        let path = crate::fs::join_clean(dir, entry);
        if b.fs.is_dir(&path) {
            let resources = b.build_root(&path, None)?;
            out.extend(resources.into_iter().map(|r| r.obj));
            continue;
        }
        let path = b.file_path(dir, entry)?;
        out.extend(b.load_objects(&path)?);
    }
    Ok(out)
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| scalar_string(v).map(|s| (k.clone(), s)))
            .collect(),
        _ => Vec::new(),
    }
}

fn field_specs(v: &Value, default: &[FieldSpec]) -> Result<Vec<FieldSpec>, String> {
    match v.get("fieldSpecs") {
        Some(Value::Array(items)) => items.iter().map(FieldSpec::from_value).collect(),
        _ => Ok(default.to_vec()),
    }
}

fn external(kfile: &Path, kind: &str) -> Error {
    Error::invalid(
        kfile,
        format!("external plugins disabled; unable to load external plugin '{kind}'"),
    )
}

pub(crate) fn run_generators(
    b: &mut Builder<'_>,
    acc: &mut Accumulator,
    dir: &Path,
    kfile: &Path,
    entries: &[String],
) -> Result<(), Error> {
    if entries.is_empty() {
        return Ok(());
    }
    for conf in configs(b, dir, kfile, entries)? {
        let kind = conf
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let builtin = conf.get("apiVersion").and_then(Value::as_str) == Some("builtin");
        if !builtin || !matches!(kind.as_str(), "ConfigMapGenerator" | "SecretGenerator") {
            return Err(external(kfile, &kind));
        }
        let mut args: GeneratorArgs = serde_json::from_value(conf.clone())
            .map_err(|e| Error::invalid(kfile, format!("invalid {kind} config: {e}")))?;
        args.name = conf
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .into();
        args.namespace = crate::resource::ns_of(&conf).into();
        let mut k = crate::kustomization::Kustomization::default();
        if kind == "ConfigMapGenerator" {
            k.config_map_generator.push(args);
        } else {
            k.secret_generator.push(args);
        }
        crate::generate::run(b, acc, dir, kfile, &k)?;
    }
    let _ = add_generated;
    Ok(())
}

pub(crate) fn run_transformers(
    b: &mut Builder<'_>,
    acc: &mut Accumulator,
    dir: &Path,
    kfile: &Path,
    entries: &[String],
) -> Result<(), Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let err = |m: String| Error::invalid(kfile, m);
    for conf in configs(b, dir, kfile, entries)? {
        let kind = conf
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if conf.get("apiVersion").and_then(Value::as_str) != Some("builtin") {
            return Err(external(kfile, &kind));
        }
        let defaults = TransformerConfig::defaults();
        let mut config = acc.config.clone();
        match kind.as_str() {
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let specs = field_specs(&conf, &defaults.name_prefix).map_err(err)?;
                config.name_prefix = specs.clone();
                config.name_suffix = specs;
                if let Some(p) = conf.get("prefix").and_then(scalar_string_ref) {
                    crate::transform::prefix_suffix(&mut acc.resources, &p, true, &config);
                }
                if let Some(s) = conf.get("suffix").and_then(scalar_string_ref) {
                    crate::transform::prefix_suffix(&mut acc.resources, &s, false, &config);
                }
            }
            "LabelTransformer" => {
                let specs = field_specs(&conf, &defaults.common_labels).map_err(err)?;
                crate::transform::set_map(&mut acc.resources, &pairs(conf.get("labels")), &specs)
                    .map_err(err)?;
            }
            "AnnotationsTransformer" => {
                let specs = field_specs(&conf, &defaults.common_annotations).map_err(err)?;
                crate::transform::set_map(
                    &mut acc.resources,
                    &pairs(conf.get("annotations")),
                    &specs,
                )
                .map_err(err)?;
            }
            "NamespaceTransformer" => {
                config.namespace = field_specs(&conf, &defaults.namespace).map_err(err)?;
                let ns = crate::resource::ns_of(&conf).to_string();
                if !ns.is_empty() {
                    crate::transform::namespace(&mut acc.resources, &ns, &config).map_err(err)?;
                }
            }
            "ImageTagTransformer" => {
                config.images = field_specs(&conf, &defaults.images).map_err(err)?;
                let image: Image =
                    serde_json::from_value(conf.get("imageTag").cloned().unwrap_or(Value::Null))
                        .map_err(|e| err(format!("invalid imageTag: {e}")))?;
                crate::transform::image(&mut acc.resources, &image, &config);
            }
            "ReplicaCountTransformer" => {
                config.replicas = field_specs(&conf, &defaults.replicas).map_err(err)?;
                let replica: Replica =
                    serde_json::from_value(conf.get("replica").cloned().unwrap_or(Value::Null))
                        .map_err(|e| err(format!("invalid replica: {e}")))?;
                crate::transform::replicas(&mut acc.resources, &replica, &config);
            }
            "PatchTransformer" | "PatchJson6902Transformer" => {
                let text = match (
                    conf.get("path").and_then(Value::as_str),
                    conf.get("patch").and_then(Value::as_str),
                ) {
                    (Some(p), _) => {
                        let path = b.file_path(dir, p)?;
                        b.read_text(&path)?
                    }
                    (None, Some(t)) => t.to_string(),
                    _ => return Err(err(format!("{kind} needs a path or a patch"))),
                };
                let target: Option<Selector> = match conf.get("target") {
                    Some(t) => Some(
                        serde_json::from_value(t.clone())
                            .map_err(|e| err(format!("invalid target: {e}")))?,
                    ),
                    None => None,
                };
                crate::patch::apply_patch(
                    b.openapi(),
                    &mut acc.resources,
                    &text,
                    target.as_ref(),
                    conf.get("options"),
                )
                .map_err(err)?;
            }
            "PatchStrategicMergeTransformer" => {
                for p in conf
                    .get("paths")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    if let Some(p) = p.as_str() {
                        let path = b.file_path(dir, p)?;
                        let text = b.read_text(&path)?;
                        crate::patch::apply_patch(
                            b.openapi(),
                            &mut acc.resources,
                            &text,
                            None,
                            None,
                        )
                        .map_err(err)?;
                    }
                }
                if let Some(t) = conf.get("patches").and_then(Value::as_str) {
                    crate::patch::apply_patch(b.openapi(), &mut acc.resources, t, None, None)
                        .map_err(err)?;
                }
            }
            "ReplacementTransformer" => {
                let list = conf
                    .get("replacements")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                crate::replacements::apply(&mut acc.resources, &list).map_err(err)?;
            }
            _ => return Err(external(kfile, &kind)),
        }
    }
    Ok(())
}

fn scalar_string_ref(v: &Value) -> Option<String> {
    scalar_string(v).filter(|s| !s.is_empty())
}
