//! What installing or upgrading a Helm release needs from a render, as plain `Send` data.
//!
//! [`render_release`] (or [`render_release_archive`] for a packaged chart's bytes, the form
//! chart artifacts take) loads, renders and splits a chart the way `helm install`/`helm
//! upgrade` do before they touch the cluster:
//!
//! - [`ReleaseRender::crds`]: the files of `crds/` of the chart and of every *enabled*
//!   subchart (Helm installs them first and never templates them);
//! - [`ReleaseRender::manifest`]: the non-hook documents joined as Helm stores them in a
//!   release (`---\n# Source: <path>\n<doc>\n` each, in Helm's install order), and the same
//!   documents one by one in [`ReleaseRender::resources`];
//! - [`ReleaseRender::hooks`]: the hook documents with their events, weight, delete and
//!   output-log policies, in Helm's kind order; [`ReleaseRender::hooks_for`] gives the ones
//!   of one event in the order Helm runs them (weight, then name);
//! - [`ReleaseRender::notes`]: the top chart's rendered `NOTES.txt`;
//! - [`ReleaseRender::chart`]: the chart's metadata and Helm's JSON form of the chart, which
//!   release storage (`sh.helm.release.v1.*` Secrets) embeds.
//!
//! Rendering is synchronous and CPU-bound; from async code run it on a blocking thread.
//! `.Capabilities` and `lookup` come from [`RenderOptions`]: pass the cluster's version,
//! its API versions and a [`crate::render::Lookup`] to render as an install against that
//! cluster would.
//!
//! ```
//! use keelson_helm::release::{HookEvent, render_release_files};
//! use keelson_helm::render::RenderOptions;
//! let files = vec![
//!     ("Chart.yaml".to_string(), b"apiVersion: v2\nname: demo\nversion: 1.0.0\n".to_vec()),
//!     ("values.yaml".to_string(), b"replicas: 2\n".to_vec()),
//!     ("templates/cm.yaml".to_string(),
//!      b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  n: {{ .Values.replicas | quote }}\n".to_vec()),
//!     ("templates/job.yaml".to_string(),
//!      b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\n".to_vec()),
//! ];
//! let values = serde_json::json!({"replicas": 3});
//! let opts = RenderOptions { release_name: "web".into(), ..RenderOptions::default() };
//! let r = render_release_files(files, values.as_object().unwrap(), &opts).unwrap();
//! assert_eq!(r.resources.len(), 1);
//! assert!(r.manifest.starts_with("---\n# Source: demo/templates/cm.yaml\n"));
//! assert!(r.manifest.contains("n: \"3\""));
//! let pre = r.hooks_for(HookEvent::PreInstall);
//! assert_eq!(pre[0].weight, -5);
//! assert_eq!(pre[0].name, "migrate");
//! ```

use std::path::Path;

use crate::chart::{Chart, LoadError};
use crate::render::{Manifest, RenderError, RenderOptions, render};
use crate::value::{Map, Value};

/// A release that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The chart could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The chart could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A rendered document is not valid YAML.
    #[error("YAML parse error on {source_path}: {message}")]
    Document {
        /// The template the document came from.
        source_path: String,
        /// The cause.
        message: String,
    },
}

/// The moments a hook runs at (`helm.sh/hook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    /// `pre-install`
    PreInstall,
    /// `post-install`
    PostInstall,
    /// `pre-delete`
    PreDelete,
    /// `post-delete`
    PostDelete,
    /// `pre-upgrade`
    PreUpgrade,
    /// `post-upgrade`
    PostUpgrade,
    /// `pre-rollback`
    PreRollback,
    /// `post-rollback`
    PostRollback,
    /// `test` (also spelled `test-success`)
    Test,
}

impl HookEvent {
    /// Parses an annotation value item (trimmed, lower case).
    pub fn parse(s: &str) -> Option<HookEvent> {
        Some(match s {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }

    /// The name Helm stores in a release (`pre-install`, …, `test`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }
}

/// When a hook's resource is deleted (`helm.sh/hook-delete-policy`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HookDeletePolicy {
    /// `hook-succeeded`: after the hook succeeded.
    HookSucceeded,
    /// `hook-failed`: after the hook failed.
    HookFailed,
    /// `before-hook-creation`: before a new one is created (Helm's default when none is set).
    BeforeHookCreation,
    /// Any other value, kept as written (Helm keeps and ignores it).
    Other(String),
}

impl HookDeletePolicy {
    fn parse(s: &str) -> HookDeletePolicy {
        match s {
            "hook-succeeded" => HookDeletePolicy::HookSucceeded,
            "hook-failed" => HookDeletePolicy::HookFailed,
            "before-hook-creation" => HookDeletePolicy::BeforeHookCreation,
            other => HookDeletePolicy::Other(other.to_string()),
        }
    }

    /// The annotation spelling.
    pub fn as_str(&self) -> &str {
        match self {
            HookDeletePolicy::HookSucceeded => "hook-succeeded",
            HookDeletePolicy::HookFailed => "hook-failed",
            HookDeletePolicy::BeforeHookCreation => "before-hook-creation",
            HookDeletePolicy::Other(s) => s,
        }
    }
}

/// One hook document, as Helm records it in a release.
#[derive(Debug, Clone)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// The template it came from (`chart/templates/x.yaml`).
    pub path: String,
    /// The document text.
    pub manifest: String,
    /// `helm.sh/hook`, in the order written.
    pub events: Vec<HookEvent>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer, as in Helm).
    pub weight: i32,
    /// `helm.sh/hook-delete-policy` as written (empty when absent; see
    /// [`Hook::effective_delete_policies`]).
    pub delete_policies: Vec<HookDeletePolicy>,
    /// `helm.sh/hook-output-log-policy` as written (`hook-succeeded`, `hook-failed`).
    pub output_log_policies: Vec<String>,
}

impl Hook {
    /// The delete policies Helm applies: as written, or `before-hook-creation` when none is.
    pub fn effective_delete_policies(&self) -> Vec<HookDeletePolicy> {
        if self.delete_policies.is_empty() {
            vec![HookDeletePolicy::BeforeHookCreation]
        } else {
            self.delete_policies.clone()
        }
    }

    /// True for `test` hooks.
    pub fn is_test(&self) -> bool {
        self.events.contains(&HookEvent::Test)
    }

    /// The document as a JSON object (integers stay integers).
    pub fn object(&self) -> Result<serde_json::Value, ReleaseError> {
        document_json(&self.path, &self.manifest)
    }

    /// The hook as Helm's release JSON stores it (`last_run` empty: never run).
    pub fn helm_json(&self) -> serde_json::Value {
        let mut o = serde_json::json!({
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "manifest": self.manifest,
            "events": self.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            "last_run": {"started_at": "", "completed_at": "", "phase": ""},
        });
        if let Some(m) = o.as_object_mut() {
            if self.weight != 0 {
                m.insert("weight".into(), self.weight.into());
            }
            if !self.delete_policies.is_empty() {
                m.insert(
                    "delete_policies".into(),
                    self.delete_policies
                        .iter()
                        .map(|p| p.as_str().to_string())
                        .collect::<Vec<_>>()
                        .into(),
                );
            }
            if !self.output_log_policies.is_empty() {
                m.insert(
                    "output_log_policies".into(),
                    self.output_log_policies.clone().into(),
                );
            }
        }
        o
    }
}

/// One non-hook document of the manifest.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The template it came from (`chart/templates/x.yaml`).
    pub path: String,
    /// `kind`.
    pub kind: String,
    /// The document text.
    pub content: String,
}

impl Resource {
    /// The document as a JSON object (integers stay integers).
    pub fn object(&self) -> Result<serde_json::Value, ReleaseError> {
        document_json(&self.path, &self.content)
    }
}

/// One file of a `crds/` folder.
#[derive(Debug, Clone)]
pub struct CrdFile {
    /// Its path as Helm names it (`chart/crds/x.yaml`, `chart/charts/sub/crds/y.yaml`).
    pub path: String,
    /// The file's text (may hold several documents).
    pub content: String,
}

impl CrdFile {
    /// The documents of the file as JSON objects (empty documents dropped).
    pub fn objects(&self) -> Result<Vec<serde_json::Value>, ReleaseError> {
        let docs = crate::yaml::parse_all(&self.content).map_err(|e| ReleaseError::Document {
            source_path: self.path.clone(),
            message: e.to_string(),
        })?;
        Ok(docs
            .into_iter()
            .filter(|d| !d.is_nil())
            .map(|d| crate::json::to_serde(&d))
            .collect())
    }
}

/// The chart a release was rendered from.
#[derive(Debug, Clone)]
pub struct ChartInfo {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `appVersion` (empty when absent).
    pub app_version: String,
    /// `Chart.yaml` as JSON (Helm's `Metadata`: the fields as written).
    pub metadata: serde_json::Value,
    /// The top chart as Helm serialises it inside a stored release (`metadata`, `lock`,
    /// `templates`, `values`, `schema`, `files`; file data base64-encoded; subcharts are not
    /// part of it, as in Helm).
    pub helm_json: serde_json::Value,
}

/// Everything an install or upgrade needs from one render.
#[derive(Debug, Clone)]
pub struct ReleaseRender {
    /// The chart.
    pub chart: ChartInfo,
    /// The values the templates saw (`.Values`: chart defaults coalesced with the given ones).
    pub computed_values: serde_json::Value,
    /// CRD files of the chart and its enabled subcharts, top chart first.
    pub crds: Vec<CrdFile>,
    /// The release manifest as Helm stores it: non-hook documents in install order.
    pub manifest: String,
    /// The same documents, one by one, in install order.
    pub resources: Vec<Resource>,
    /// Hook documents in Helm's kind order.
    pub hooks: Vec<Hook>,
    /// The top chart's rendered `NOTES.txt` (empty when it has none).
    pub notes: String,
}

impl ReleaseRender {
    /// The hooks of `event` in the order Helm runs them: by weight, then by name.
    pub fn hooks_for(&self, event: HookEvent) -> Vec<&Hook> {
        let mut v: Vec<&Hook> = self
            .hooks
            .iter()
            .filter(|h| h.events.contains(&event))
            .collect();
        v.sort_by(|a, b| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
        v
    }
}

/// Loads a packaged chart (`.tgz` bytes) and renders it as a release.
pub fn render_release_archive(
    tgz: &[u8],
    values: &serde_json::Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Result<ReleaseRender, ReleaseError> {
    render_release(crate::chart::load_archive(tgz)?, values, opts)
}

/// Loads a chart from a directory or a `.tgz` file and renders it as a release.
pub fn render_release_path(
    path: &Path,
    values: &serde_json::Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Result<ReleaseRender, ReleaseError> {
    render_release(crate::chart::load_path(path)?, values, opts)
}

/// Builds a chart from its files (paths relative to the chart root) and renders it.
pub fn render_release_files(
    files: Vec<(String, Vec<u8>)>,
    values: &serde_json::Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Result<ReleaseRender, ReleaseError> {
    render_release(crate::chart::load_files("<files>", files)?, values, opts)
}

/// Converts user values from JSON as Helm decodes them (numbers become `float64`).
pub fn values_from_json(values: &serde_json::Map<String, serde_json::Value>) -> Map {
    values
        .iter()
        .map(|(k, v)| (k.clone(), crate::json::from_serde(v)))
        .collect()
}

/// Renders a loaded chart as a release with `values` (the user-supplied values, merged as
/// the caller wants them: Flux merges `valuesFrom` then `values`).
pub fn render_release(
    chart: Chart,
    values: &serde_json::Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Result<ReleaseRender, ReleaseError> {
    let info = chart_info(&chart);
    let vals = values_from_json(values);
    let mut opts = opts.clone();
    opts.include_crds = true;
    let rendered = render(chart, &vals, &opts)?;
    let computed_values = crate::json::to_serde(&Value::map(rendered.values.clone()));
    let crds = rendered
        .crds
        .iter()
        .map(|m| CrdFile {
            path: m.source.clone(),
            content: m.content.clone(),
        })
        .collect();
    let mut manifest = String::new();
    for m in &rendered.manifests {
        manifest.push_str(&format!("---\n# Source: {}\n{}\n", m.source, m.content));
    }
    let resources = rendered
        .manifests
        .iter()
        .map(|m| Resource {
            path: m.source.clone(),
            kind: m.kind.clone(),
            content: m.content.clone(),
        })
        .collect();
    let hooks = rendered
        .hooks
        .iter()
        .map(hook_of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReleaseRender {
        chart: info,
        computed_values,
        crds,
        manifest,
        resources,
        hooks,
        notes: rendered.notes,
    })
}

fn document_json(path: &str, text: &str) -> Result<serde_json::Value, ReleaseError> {
    let v = crate::yaml::parse(text).map_err(|e| ReleaseError::Document {
        source_path: path.to_string(),
        message: e.to_string(),
    })?;
    Ok(crate::json::to_serde(&v))
}

fn annotation_items(anns: &Map, key: &str) -> Vec<String> {
    anns.get(key)
        .map(crate::funcs::strval)
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_lowercase())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

fn hook_of(m: &Manifest) -> Result<Hook, ReleaseError> {
    let head = crate::yaml::parse(&m.content).map_err(|e| ReleaseError::Document {
        source_path: m.source.clone(),
        message: e.to_string(),
    })?;
    let hm = head.as_map().map(|x| x.clone()).unwrap_or_default();
    let md = hm
        .get("metadata")
        .and_then(|x| x.as_map().map(|y| y.clone()))
        .unwrap_or_default();
    let anns = md
        .get("annotations")
        .and_then(|x| x.as_map().map(|y| y.clone()))
        .unwrap_or_default();
    let name = md.get("name").map(crate::funcs::strval).unwrap_or_default();
    let events = annotation_items(&anns, "helm.sh/hook")
        .iter()
        .filter_map(|e| HookEvent::parse(e))
        .collect();
    let weight = anns
        .get("helm.sh/hook-weight")
        .map(crate::funcs::strval)
        .and_then(|w| w.parse::<i32>().ok())
        .unwrap_or(0);
    let delete_policies = if anns.contains_key("helm.sh/hook-delete-policy") {
        annotation_items(&anns, "helm.sh/hook-delete-policy")
            .iter()
            .map(|p| HookDeletePolicy::parse(p))
            .collect()
    } else {
        Vec::new()
    };
    let output_log_policies = annotation_items(&anns, "helm.sh/hook-output-log-policy");
    Ok(Hook {
        name,
        kind: m.kind.clone(),
        path: m.source.clone(),
        manifest: m.content.clone(),
        events,
        weight,
        delete_policies,
        output_log_policies,
    })
}

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The chart's metadata and Helm's JSON form of it.
pub fn chart_info(chart: &Chart) -> ChartInfo {
    let metadata = crate::json::to_serde(&Value::map(chart.metadata.clone()));
    let s = |k: &str| {
        chart
            .metadata
            .get(k)
            .filter(|v| !v.is_nil())
            .map(crate::funcs::strval)
            .unwrap_or_default()
    };
    let file = |name: &str, data: &[u8]| serde_json::json!({"name": name, "data": b64(data)});
    let templates: Vec<serde_json::Value> = chart
        .templates
        .iter()
        .map(|(n, t)| file(n, t.as_bytes()))
        .collect();
    let files: Vec<serde_json::Value> = chart.files.iter().map(|(n, d)| file(n, d)).collect();
    let helm_json = serde_json::json!({
        "metadata": metadata,
        "lock": serde_json::Value::Null,
        "templates": templates,
        "values": crate::json::to_serde(&Value::map(chart.values.clone())),
        "schema": chart.schema_raw.as_ref().map(|s| b64(s)),
        "files": files,
    });
    ChartInfo {
        name: chart.name(),
        version: s("version"),
        app_version: s("appVersion"),
        metadata,
        helm_json,
    }
}
