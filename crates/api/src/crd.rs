//! CustomResourceDefinitions generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{GitRepository, HelmChart, HelmRelease, HelmRepository, Kustomization, OCIRepository};

/// The CRDs of every kind keelson serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        GitRepository::crd(),
        Kustomization::crd(),
        HelmRelease::crd(),
        HelmRepository::crd(),
        OCIRepository::crd(),
        HelmChart::crd(),
    ]
}

/// The CRDs as one multi-document YAML string, ready for `kubectl apply --server-side`.
pub fn crd_yaml() -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for crd in crds() {
        let value = serde_json::to_value(&crd)?;
        out.push_str("---\n");
        out.push_str(&to_yaml(&value));
    }
    Ok(out)
}

/// A small YAML writer for JSON values: block style, keys in order, strings quoted when needed.
fn to_yaml(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, false);
    out
}

fn write_value(out: &mut String, value: &serde_json::Value, indent: usize, in_seq: bool) {
    use serde_json::Value;
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut first = true;
            for (key, val) in map {
                if !(first && in_seq) {
                    out.push_str(&" ".repeat(indent));
                }
                first = false;
                out.push_str(&scalar(&Value::String(key.clone())));
                out.push(':');
                write_child(out, val, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => write_value(out, item, indent + 2, true),
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        write_value(out, item, indent + 2, false);
                    }
                    _ => {
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&scalar(value));
            out.push('\n');
        }
    }
}

fn write_child(out: &mut String, value: &serde_json::Value, indent: usize) {
    use serde_json::Value;
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_value(out, value, indent + 2, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_value(out, value, indent, false);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar(value));
            out.push('\n');
        }
    }
}

fn scalar(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
                && !s.starts_with(['-', '.'])
                && s.parse::<f64>().is_err()
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
                );
            if plain {
                s.clone()
            } else {
                // JSON strings are valid YAML double-quoted scalars.
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn crds_have_flux_names() {
        let names: Vec<_> = crds().into_iter().filter_map(|c| c.metadata.name).collect();
        assert_eq!(
            names,
            [
                "gitrepositories.source.toolkit.fluxcd.io",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "helmreleases.helm.toolkit.fluxcd.io",
                "helmrepositories.source.toolkit.fluxcd.io",
                "ocirepositories.source.toolkit.fluxcd.io",
                "helmcharts.source.toolkit.fluxcd.io"
            ]
        );
    }

    #[test]
    fn yaml_round_trips_to_the_same_objects() {
        let yaml = crd_yaml().unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        let expected: Vec<serde_json::Value> = crds()
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(docs, expected);
    }
}
