//! Applies a Kustomization's build settings (targetNamespace, namePrefix/Suffix, patches,
//! images, components) to the kustomization file of the path it builds, as Flux's
//! kustomize-controller does, generating the file first when the path has none.

use std::path::Path;

use keelson_api::kustomization::KustomizationSpec;
use keelson_kustomize::{KUSTOMIZATION_FILE_NAMES, RealFs};
use serde_json::{Value, json};

/// Why the kustomization file could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// Reading or writing the file failed.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The existing kustomization file is not valid YAML.
    #[error("failed to parse {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// Generating the implicit kustomization failed.
    #[error(transparent)]
    Generate(#[from] keelson_kustomize::Error),
}

/// Writes the spec's build settings into the kustomization file in `dir`.
pub fn prepare(dir: &Path, spec: &KustomizationSpec) -> Result<(), OverlayError> {
    let existing = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let needs_changes = spec.has_build_settings();
    let (path, mut doc) = match existing {
        Some(path) if !needs_changes => {
            let _ = path;
            return Ok(());
        }
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|source| OverlayError::Io {
                action: "read",
                path: path.display().to_string(),
                source,
            })?;
            let doc = keelson_manifest::parse_value(&text).map_err(|e| OverlayError::Parse {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            (path, if doc.is_object() { doc } else { json!({}) })
        }
        None => {
            let resources: Vec<Value> = keelson_kustomize::implicit_kustomization(
                &RealFs::new(dir).map_err(|source| OverlayError::Io {
                    action: "read",
                    path: dir.display().to_string(),
                    source,
                })?,
                dir,
            )?
            .iter()
            .map(|p| {
                Value::String(
                    p.strip_prefix(dir)
                        .unwrap_or(p)
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .collect();
            let doc = json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            });
            (dir.join("kustomization.yaml"), doc)
        }
    };
    spec.apply_build_settings(&mut doc);
    std::fs::write(&path, keelson_manifest::to_yaml(&doc)).map_err(|source| OverlayError::Io {
        action: "write",
        path: path.display().to_string(),
        source,
    })
}

/// Adds `commonMetadata` labels and annotations to every object.
pub fn common_metadata(objects: &mut [Value], spec: &KustomizationSpec) {
    let Some(meta) = &spec.common_metadata else {
        return;
    };
    for object in objects {
        for (field, entries) in [("labels", &meta.labels), ("annotations", &meta.annotations)] {
            if entries.is_empty() {
                continue;
            }
            let map = &mut object["metadata"][field];
            if !map.is_object() {
                *map = json!({});
            }
            for (k, v) in entries {
                map[k] = json!(v);
            }
        }
    }
}
