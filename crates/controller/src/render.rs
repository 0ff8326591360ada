//! Rendering a Kustomization's objects from a directory as the reconciler does — overlay, build,
//! postBuild substitution, commonMetadata — for callers outside a reconcile (`keelson build
//! kustomization`, `keelson diff kustomization`).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use keelson_api::Kustomization;
use keelson_api::kustomization::SUBSTITUTE_ANNOTATION;
use keelson_manifest::ObjectId;
use kube::api::Api;
use kube::{Client, ResourceExt};
use serde_json::Value;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Preparing the kustomization file failed.
    #[error("failed to prepare the kustomization in {dir}")]
    Overlay {
        /// The directory.
        dir: String,
        /// The cause.
        #[source]
        source: crate::overlay::OverlayError,
    },
    /// The build failed.
    #[error("failed to build {dir}")]
    Build {
        /// The directory.
        dir: String,
        /// The cause.
        #[source]
        source: keelson_kustomize::Error,
    },
    /// A substituteFrom object could not be read or is missing.
    #[error("substitute from '{kind}/{name}' failed: {message}")]
    SubstituteFrom {
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A variable name is not valid.
    #[error("'{0}' is not a valid substitution variable name")]
    VariableName(String),
    /// Substitution failed in one object.
    #[error("{id}: {message}")]
    Substitute {
        /// The object.
        id: String,
        /// What went wrong.
        message: String,
    },
}

/// The postBuild variables of `ks`: its substituteFrom ConfigMaps and Secrets (in order), then
/// its inline values, which take precedence.
pub async fn variables(
    client: &Client,
    ks: &Kustomization,
) -> Result<BTreeMap<String, String>, RenderError> {
    let mut vars = BTreeMap::new();
    let Some(post) = &ks.spec.post_build else {
        return Ok(vars);
    };
    let ns = ks.namespace().unwrap_or_default();
    for from in &post.substitute_from {
        let failed = |message: String| RenderError::SubstituteFrom {
            kind: from.kind.clone(),
            name: from.name.clone(),
            message,
        };
        let data: Option<BTreeMap<String, String>> = match from.kind.as_str() {
            "ConfigMap" => Api::<ConfigMap>::namespaced(client.clone(), &ns)
                .get_opt(&from.name)
                .await
                .map_err(|e| failed(e.to_string()))?
                .map(|cm| cm.data.unwrap_or_default()),
            "Secret" => Api::<Secret>::namespaced(client.clone(), &ns)
                .get_opt(&from.name)
                .await
                .map_err(|e| failed(e.to_string()))?
                .map(|s| {
                    let mut data: BTreeMap<String, String> = s
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect();
                    data.extend(s.string_data.unwrap_or_default());
                    data
                }),
            _ => return Err(failed("the kind is not ConfigMap or Secret".into())),
        };
        match data {
            Some(data) => vars.extend(data),
            None if from.is_optional() => {}
            None => return Err(failed("not found".into())),
        }
    }
    vars.extend(post.substitute.clone());
    if let Some(name) = vars.keys().find(|n| !crate::substitute::valid_name(n)) {
        return Err(RenderError::VariableName(name.clone()));
    }
    Ok(vars)
}

/// Substitutes `vars` into every object that does not opt out with
/// `kustomize.toolkit.fluxcd.io/substitute: disabled`; strict like Flux.
pub fn substitute_objects(
    objects: &mut [Value],
    vars: &BTreeMap<String, String>,
) -> Result<(), RenderError> {
    for object in objects.iter_mut() {
        let meta = &object["metadata"];
        if meta["annotations"][SUBSTITUTE_ANNOTATION] == "disabled"
            || meta["labels"][SUBSTITUTE_ANNOTATION] == "disabled"
        {
            continue;
        }
        let id = ObjectId::of(object).to_string();
        let yaml = keelson_manifest::to_yaml(object);
        let replaced =
            crate::substitute::substitute(&yaml, vars).map_err(|e| RenderError::Substitute {
                id: id.clone(),
                message: e.to_string(),
            })?;
        if replaced != yaml {
            *object =
                keelson_manifest::parse_value(&replaced).map_err(|e| RenderError::Substitute {
                    id,
                    message: format!("invalid YAML after substitution: {e}"),
                })?;
        }
    }
    Ok(())
}

/// Renders `dir` (a local checkout of the Kustomization's path, inside the checkout `root`) with
/// `ks`'s settings: the kustomization file in `dir` is rewritten when the spec has build
/// settings, so callers pass a scratch copy. Nothing outside `root` is read.
pub async fn render(
    client: &Client,
    ks: &Kustomization,
    root: &Path,
    dir: &Path,
) -> Result<Vec<Value>, RenderError> {
    let display = dir.display().to_string();
    crate::overlay::prepare(dir, &ks.spec).map_err(|source| RenderError::Overlay {
        dir: display.clone(),
        source,
    })?;
    let options = keelson_kustomize::Options {
        load_restrictor: keelson_kustomize::LoadRestrictor::None,
    };
    let disk = keelson_kustomize::RealFs::new(root).map_err(|source| RenderError::Build {
        dir: display.clone(),
        source: keelson_kustomize::Error::Io {
            path: root.into(),
            source,
        },
    })?;
    let mut objects =
        keelson_kustomize::build(&disk, dir, &options).map_err(|source| RenderError::Build {
            dir: display,
            source,
        })?;
    let vars = variables(client, ks).await?;
    if ks.spec.post_build.is_some() {
        substitute_objects(&mut objects, &vars)?;
    }
    crate::overlay::common_metadata(&mut objects, &ks.spec);
    Ok(objects)
}

/// The labels the reconciler sets on everything a Kustomization applies.
pub fn owner_labels(ks: &Kustomization) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            keelson_api::kustomization::OWNER_NAME_LABEL.to_string(),
            ks.name_any(),
        ),
        (
            keelson_api::kustomization::OWNER_NAMESPACE_LABEL.to_string(),
            ks.namespace().unwrap_or_default(),
        ),
    ])
}
