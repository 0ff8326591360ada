//! Rendering a chart archive for a release: the manifest text Helm stores, the objects to apply,
//! the hooks with their events, weights and delete policies, and the chart's CRDs.

use keelson_helm::postrender::PostRenderError;
pub use keelson_helm::postrender::Strategy;
use keelson_helm::render::{RenderError as HelmRenderError, RenderOptions};
use serde_json::{Map, Value};

use crate::chart::{self, ChartError};
use crate::model::{Hook, HookExecution};

/// Hook annotations (Helm's names).
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// Hook weight annotation.
pub const HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// Hook delete policy annotation.
pub const HOOK_DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";

/// A chart that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The archive could not be loaded.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// The templates failed.
    #[error("failed to render chart {chart}")]
    Render {
        /// `name@version`.
        chart: String,
        /// The cause.
        #[source]
        source: HelmRenderError,
    },
    /// A kustomize post-renderer failed.
    #[error(transparent)]
    PostRender(#[from] PostRenderError),
    /// A rendered document is not a YAML object.
    #[error("failed to parse rendered manifest {source_path}: {message}")]
    Manifest {
        /// The template it came from.
        source_path: String,
        /// What is wrong.
        message: String,
    },
}

/// Settings of a render.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Release name.
    pub release_name: String,
    /// Release namespace.
    pub namespace: String,
    /// The cluster's version (`v1.36.1`), for `.Capabilities.KubeVersion`.
    pub kube_version: Option<String>,
    /// Skip `values.schema.json` validation.
    pub skip_schema_validation: bool,
}

/// A rendered release.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Chart name.
    pub chart_name: String,
    /// Chart version.
    pub chart_version: String,
    /// Helm's JSON form of the chart, for the release record.
    pub chart_json: Value,
    /// The manifest text Helm stores (`---\n# Source: …\n…`), hooks and CRDs excluded.
    pub manifest: String,
    /// The manifest's objects, in Helm's install order.
    pub objects: Vec<Value>,
    /// The template each object of `objects` came from (same index).
    pub sources: Vec<String>,
    /// The hooks.
    pub hooks: Vec<Hook>,
    /// The chart's CRDs (from `crds/`).
    pub crds: Vec<Value>,
    /// The rendered NOTES.txt.
    pub notes: String,
}

/// Loads the archive and renders it with `values` (the user-supplied values).
pub fn render(
    origin: &str,
    archive: &[u8],
    values: &Map<String, Value>,
    settings: &Settings,
) -> Result<Rendered, RenderError> {
    let loaded = chart::load(origin, archive)?;
    let chart_name = loaded.name();
    let chart_version = loaded.version();
    let options = RenderOptions {
        release_name: settings.release_name.clone(),
        namespace: settings.namespace.clone(),
        kube_version: settings.kube_version.clone(),
        include_crds: true,
        skip_schema_validation: settings.skip_schema_validation,
        ..Default::default()
    };
    let vals = crate::values::from_json(values);
    let out = keelson_helm::render::render(loaded.chart, &vals, &options).map_err(|source| {
        RenderError::Render {
            chart: format!("{chart_name}@{chart_version}"),
            source,
        }
    })?;
    let mut manifest = String::new();
    let mut objects = Vec::with_capacity(out.manifests.len());
    let mut sources = Vec::with_capacity(out.manifests.len());
    for m in &out.manifests {
        manifest.push_str(&format!("---\n# Source: {}\n{}\n", m.source, m.content));
        for object in parse(&m.source, &m.content)? {
            objects.push(object);
            sources.push(m.source.clone());
        }
    }
    let mut crds = Vec::new();
    for m in &out.crds {
        crds.extend(parse(&m.source, &m.content)?);
    }
    let mut hooks = Vec::with_capacity(out.hooks.len());
    for m in &out.hooks {
        for object in parse(&m.source, &m.content)? {
            hooks.push(hook_of(&m.source, &m.content, &object));
        }
    }
    Ok(Rendered {
        chart_name,
        chart_version,
        chart_json: loaded.json,
        manifest,
        objects,
        sources,
        hooks,
        crds,
        notes: out.notes,
    })
}

/// Runs Flux's kustomize post-renderers over a rendered release
/// ([`keelson_helm::postrender::run`]): the manifest objects, and the hooks as `strategy` says.
/// The stored manifest keeps each object's `# Source:` template (Helm 4 does too); CRDs from
/// `crds/` are never post-rendered.
///
/// # Errors
/// [`RenderError::PostRender`] naming the post-renderer that failed.
pub fn post_render(
    rendered: &mut Rendered,
    renderers: &[keelson_api::helmrelease::PostRenderer],
    strategy: Strategy,
) -> Result<(), RenderError> {
    if renderers.is_empty() {
        return Ok(());
    }
    let renderers: Vec<Value> = renderers
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let manifest = std::mem::take(&mut rendered.sources)
        .into_iter()
        .zip(std::mem::take(&mut rendered.objects))
        .collect();
    let hooks = rendered
        .hooks
        .iter()
        .filter_map(|h| {
            Some((
                h.path.clone(),
                keelson_manifest::parse_value(&h.manifest).ok()?,
            ))
        })
        .collect();
    let (manifest, hooks) = keelson_helm::postrender::run(manifest, hooks, &renderers, strategy)?;
    rendered.manifest.clear();
    for (source, object) in manifest {
        let text = keelson_manifest::to_yaml(&object);
        rendered
            .manifest
            .push_str(&format!("---\n# Source: {source}\n{text}\n"));
        rendered.objects.push(object);
        rendered.sources.push(source);
    }
    if strategy != Strategy::NoHooks {
        rendered.hooks = hooks
            .into_iter()
            .map(|(source, object)| hook_of(&source, &keelson_manifest::to_yaml(&object), &object))
            .collect();
    }
    Ok(())
}

fn parse(source: &str, content: &str) -> Result<Vec<Value>, RenderError> {
    let docs = keelson_manifest::parse_documents(content).map_err(|e| RenderError::Manifest {
        source_path: source.to_string(),
        message: e.to_string(),
    })?;
    Ok(docs.into_iter().filter(|d| d.is_object()).collect())
}

/// The objects of a stored manifest text.
pub fn objects_of(manifest: &str) -> Result<Vec<Value>, RenderError> {
    parse("release manifest", manifest)
}

/// A hook record from a hook object: events, weight and delete policies from its annotations.
pub fn hook_of(source: &str, content: &str, object: &Value) -> Hook {
    let annotations = &object["metadata"]["annotations"];
    let list = |key: &str| -> Vec<String> {
        annotations[key]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let weight = match &annotations[HOOK_WEIGHT_ANNOTATION] {
        Value::String(s) => s.trim().parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    Hook {
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        kind: object["kind"].as_str().unwrap_or_default().to_string(),
        path: source.to_string(),
        manifest: content.to_string(),
        events: list(HOOK_ANNOTATION)
            .into_iter()
            // Helm 2's `test-success` is Helm 3's `test`.
            .map(|e| {
                if e == "test-success" {
                    "test".into()
                } else {
                    e
                }
            })
            .collect(),
        last_run: HookExecution::default(),
        weight,
        delete_policies: list(HOOK_DELETE_ANNOTATION),
        output_log_policies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hooks_carry_events_weights_and_policies() {
        let content = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n";
        let object = keelson_manifest::parse_value(content).unwrap();
        let hook = hook_of("app/templates/job.yaml", content, &object);
        assert_eq!(hook.name, "migrate");
        assert_eq!(hook.kind, "Job");
        assert_eq!(hook.events, ["pre-install", "pre-upgrade"]);
        assert_eq!(hook.weight, -5);
        assert_eq!(
            hook.delete_policies,
            ["before-hook-creation", "hook-succeeded"]
        );
    }
}
