//! A Flux HelmRelease's kustomize post-renderers (`spec.postRenderers[].kustomize`: `patches`,
//! `images`), run over a rendered release as helm-controller runs them, shared by the reconciler
//! and the offline gate.
//!
//! Each post-renderer builds the objects as the only resource of an in-memory kustomization
//! ([`keelson_kustomize::transform_objects`]); they run in order. `spec.postRenderStrategy`
//! decides whether hooks are transformed ([`Strategy`]). Each object keeps the template it came
//! from, and the output keeps Helm's order of templates (kustomize sorts its output).

use serde_json::{Map, Value};

/// The annotation carrying an object's template through the post-renderers (removed after).
const SOURCE_ANNOTATION: &str = "postrenderer.keelson.dev/source";
/// The annotation marking a Helm hook.
const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// Which manifests the post-renderers transform (HelmRelease `spec.postRenderStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Manifest and hooks as one stream (Helm 4's and Flux 2.9's default).
    #[default]
    Combined,
    /// The manifest and the hooks, each as its own stream.
    Separate,
    /// The manifest only; hooks untouched (Helm 3's behaviour).
    NoHooks,
}

impl Strategy {
    /// Parses the field's value (`None` or empty is the default); `None` for an unknown one.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("" | "combined") => Some(Self::Combined),
            Some("separate") => Some(Self::Separate),
            Some("nohooks") => Some(Self::NoHooks),
            Some(_) => None,
        }
    }
}

/// A post-renderer that failed.
#[derive(Debug, thiserror::Error)]
#[error("post-renderer {index} failed")]
pub struct PostRenderError {
    /// Its index in `spec.postRenderers`.
    pub index: usize,
    /// The cause, naming the kustomization field at fault.
    #[source]
    pub source: keelson_kustomize::Error,
}

/// Objects with the template (`# Source:` path) each came from.
pub type Sourced = Vec<(String, Value)>;

/// Runs `renderers` (the JSON of `spec.postRenderers`) over the release's `manifest` objects and
/// `hooks` as `strategy` says; returns both, transformed. Objects a patch deletes
/// (`$patch: delete`) are gone; under [`Strategy::Combined`] an object is a hook when it carries
/// the `helm.sh/hook` annotation after the post-renderers ran.
///
/// # Errors
/// [`PostRenderError`] naming the failing post-renderer.
pub fn run(
    manifest: Sourced,
    hooks: Sourced,
    renderers: &[Value],
    strategy: Strategy,
) -> Result<(Sourced, Sourced), PostRenderError> {
    let steps: Vec<(usize, Map<String, Value>)> = renderers
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let k = r.get("kustomize")?;
            let fields: Map<String, Value> = ["patches", "images"]
                .into_iter()
                .filter_map(|f| Some((f.to_string(), k.get(f)?.clone())))
                .collect();
            Some((i, fields))
        })
        .collect();
    if steps.is_empty() {
        return Ok((manifest, hooks));
    }
    let mut order: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, (s, _)) in manifest.iter().chain(&hooks).enumerate() {
        order.entry(s.clone()).or_insert(i);
    }
    let transform = |objects: Sourced| -> Result<Sourced, PostRenderError> {
        let mut objects: Vec<Value> = objects.into_iter().map(|(s, o)| tagged(o, &s)).collect();
        for (index, fields) in &steps {
            objects = keelson_kustomize::transform_objects(&objects, fields).map_err(|source| {
                PostRenderError {
                    index: *index,
                    source,
                }
            })?;
        }
        let mut out: Vec<(usize, String, Value)> = objects
            .into_iter()
            .map(|mut o| {
                let source = untag(&mut o);
                let rank = order.get(&source).copied().unwrap_or(usize::MAX);
                (rank, source, o)
            })
            .collect();
        // Stable: objects of one template keep kustomize's relative order.
        out.sort_by_key(|(rank, _, _)| *rank);
        Ok(out.into_iter().map(|(_, s, o)| (s, o)).collect())
    };
    match strategy {
        Strategy::NoHooks => Ok((transform(manifest)?, hooks)),
        Strategy::Separate => Ok((transform(manifest)?, transform(hooks)?)),
        Strategy::Combined => {
            let all = transform(manifest.into_iter().chain(hooks).collect())?;
            let (hooks, manifest) = all.into_iter().partition(|(_, o)| {
                o.pointer("/metadata/annotations")
                    .and_then(|a| a.get(HOOK_ANNOTATION))
                    .is_some()
            });
            Ok((manifest, hooks))
        }
    }
}

fn tagged(mut object: Value, source: &str) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(SOURCE_ANNOTATION.into(), source.into());
        }
    }
    object
}

fn untag(object: &mut Value) -> String {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return String::new();
    };
    let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return String::new();
    };
    let source = annotations
        .remove(SOURCE_ANNOTATION)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    source
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn cm(name: &str, hook: bool) -> Value {
        let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        if hook {
            o["metadata"]["annotations"] = json!({"helm.sh/hook": "pre-install"});
        }
        o
    }

    fn label_all() -> Vec<Value> {
        vec![
            json!({"kustomize": {"patches": [{"target": {"kind": "ConfigMap"},
            "patch": "- op: add\n  path: /metadata/labels\n  value: {patched: \"yes\"}\n"}]}}),
        ]
    }

    fn patched(objects: &Sourced) -> Vec<bool> {
        objects
            .iter()
            .map(|(_, o)| o.pointer("/metadata/labels/patched").is_some())
            .collect()
    }

    #[test]
    fn strategies_decide_whether_hooks_are_transformed() {
        // Templates in Helm's order; kustomize would sort z before a.
        let manifest = vec![
            ("t/z.yaml".to_string(), cm("z", false)),
            ("t/a.yaml".to_string(), cm("a", false)),
        ];
        let hooks = vec![("t/hook.yaml".to_string(), cm("h", true))];
        for (strategy, hooks_patched) in [
            (Strategy::Combined, true),
            (Strategy::Separate, true),
            (Strategy::NoHooks, false),
        ] {
            let (m, h) = run(manifest.clone(), hooks.clone(), &label_all(), strategy).unwrap();
            let sources: Vec<&str> = m.iter().map(|(s, _)| s.as_str()).collect();
            assert_eq!(sources, ["t/z.yaml", "t/a.yaml"], "{strategy:?}");
            assert_eq!(patched(&m), [true, true], "{strategy:?}");
            assert_eq!(patched(&h), [hooks_patched], "{strategy:?}");
            assert_eq!(h[0].0, "t/hook.yaml");
            // The carrier annotation is gone; the hook keeps its own.
            assert_eq!(m[0].1["metadata"].get("annotations"), None);
            assert_eq!(
                h[0].1["metadata"]["annotations"],
                json!({"helm.sh/hook": "pre-install"})
            );
        }
    }

    #[test]
    fn failures_name_the_post_renderer_and_unknown_strategies_are_refused() {
        let mut renderers = label_all();
        renderers.push(json!({"kustomize": {"patches": [{"patch": "- op: frobnicate\n  path: /x\n", "target": {"kind": "ConfigMap"}}]}}));
        let err = run(
            vec![("t/a.yaml".into(), cm("a", false))],
            vec![],
            &renderers,
            Strategy::Combined,
        )
        .unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(Strategy::parse(Some("hooksfirst")), None);
        assert_eq!(Strategy::parse(None), Some(Strategy::Combined));
    }
}
