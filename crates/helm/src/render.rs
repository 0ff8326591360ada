//! Rendering a chart as `helm template` does: dependencies, values, capabilities, every template
//! of the chart and its subcharts executed in one template set, then the manifests split, hooks
//! kept apart, and both sorted in Helm's install order.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::chart::Chart;
use crate::funcs::{WARN_END, WARN_START};
use crate::template::exec::{Exec, ExecError, object_struct};
use crate::template::parse::{ParseError, TemplateSet};
use crate::value::{Map, Object, Value};
use crate::values::{ValuesError, coalesce_values_copy, process_dependencies};

/// The group/versions `helm template` reports as available (client-go's scheme plus the
/// apiextensions groups: Helm's `DefaultVersionSet`).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "lifecycle.k8s.io/v1alpha1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Helm's install order of kinds.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The Kubernetes version `helm template` assumes when none is given.
pub const DEFAULT_KUBE_VERSION: &str = "v1.37.0";
/// The Helm version reported in `.Capabilities.HelmVersion`.
pub const HELM_VERSION: &str = "v4.3.1";

/// A chart that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Values could not be combined.
    #[error(transparent)]
    Values(#[from] ValuesError),
    /// A template does not parse.
    #[error("parse error in {file}: {source}")]
    Parse {
        /// The template file.
        file: String,
        /// The cause.
        #[source]
        source: ParseError,
    },
    /// A template failed while executing.
    #[error("{0}")]
    Exec(String),
    /// `--kube-version` is not a version.
    #[error("invalid kube version {0:?}")]
    KubeVersion(String),
    /// The chart's `kubeVersion` excludes the target cluster version.
    #[error(
        "chart requires kubeVersion: {required} which is incompatible with Kubernetes {actual}"
    )]
    Incompatible {
        /// The chart's constraint.
        required: String,
        /// The version rendered for.
        actual: String,
    },
    /// The values do not satisfy a chart's `values.schema.json`.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
    /// Dependencies declared in `Chart.yaml` are not in `charts/`.
    #[error("found in Chart.yaml, but missing in charts/ directory: {0}")]
    MissingDependencies(String),
    /// A rendered manifest is not YAML.
    #[error("YAML parse error on {file}: {message}")]
    Manifest {
        /// The template file.
        file: String,
        /// The cause.
        message: String,
    },
}

/// Settings of one render (the flags of `helm template`).
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The release name.
    pub release_name: String,
    /// The release namespace.
    pub namespace: String,
    /// The Kubernetes version (`--kube-version`), e.g. `1.33.0`.
    pub kube_version: Option<String>,
    /// Extra API versions (`--api-versions`).
    pub api_versions: Vec<String>,
    /// Include the charts' `crds/` files (`--include-crds`).
    pub include_crds: bool,
    /// Leave out test hooks (`--skip-tests`).
    pub skip_tests: bool,
    /// Leave out hooks (`--no-hooks`).
    pub no_hooks: bool,
    /// Skip `values.schema.json` validation.
    pub skip_schema_validation: bool,
    /// `.Release.Revision` (1 for an install; the previous revision + 1 for an upgrade).
    pub revision: i64,
    /// `.Release.IsUpgrade` (and `.Release.IsInstall` its negation).
    pub is_upgrade: bool,
    /// The API versions the cluster serves (`group/version` and `group/version/Kind`, as
    /// discovery lists them). `None` uses Helm's built-in set, as `helm template` does;
    /// [`RenderOptions::api_versions`] are added either way.
    pub cluster_api_versions: Option<Vec<String>>,
    /// What the `lookup` function reads. `None` makes `lookup` return an empty map, as
    /// `helm template` does.
    pub lookup: Option<LookupFn>,
}

/// A source of live objects for the `lookup` template function.
///
/// Called synchronously while templates execute; an async caller implements it with
/// `tokio::runtime::Handle::block_on` and runs the render on a blocking thread.
pub trait Lookup: Send + Sync {
    /// The object `kind` of `api_version` named `name` in `namespace` (empty for
    /// cluster-scoped objects), as JSON. With an empty `name`: the list of all such objects
    /// (`{"apiVersion": …, "kind": "<Kind>List", "items": […]}`). An object that does not
    /// exist yields an empty JSON object, as in Helm; an `Err` fails the render.
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value, String>;
}

/// A shared [`Lookup`] in [`RenderOptions`].
#[derive(Clone)]
pub struct LookupFn(pub std::sync::Arc<dyn Lookup>);

impl std::fmt::Debug for LookupFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupFn(..)")
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            no_hooks: false,
            skip_schema_validation: false,
            revision: 1,
            is_upgrade: false,
            cluster_api_versions: None,
            lookup: None,
        }
    }
}

/// One YAML document of the output.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The template it came from (`chart/templates/x.yaml`).
    pub source: String,
    /// The document text.
    pub content: String,
    /// Its `kind`.
    pub kind: String,
}

/// The result of a render.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// CRDs from `crds/` (when asked for).
    pub crds: Vec<Manifest>,
    /// Manifests in install order.
    pub manifests: Vec<Manifest>,
    /// Hooks in install order of kinds.
    pub hooks: Vec<Manifest>,
    /// The top chart's NOTES.txt, rendered.
    pub notes: String,
    /// The values the templates saw (chart defaults coalesced with the user's).
    pub values: Map,
}

impl Rendered {
    /// The text `helm template` prints.
    pub fn to_template_output(&self, opts: &RenderOptions) -> String {
        let mut body = String::new();
        for m in self.crds.iter().chain(self.manifests.iter()) {
            body.push_str(&format!("---\n# Source: {}\n{}\n", m.source, m.content));
        }
        let mut out = body.trim().to_string();
        out.push('\n');
        if !opts.no_hooks {
            for h in &self.hooks {
                if opts.skip_tests && is_test_hook(h) {
                    continue;
                }
                out.push_str(&format!("---\n# Source: {}\n{}\n", h.source, h.content));
            }
        }
        out
    }
}

fn is_test_hook(h: &Manifest) -> bool {
    hook_events(&h.content)
        .iter()
        .any(|e| e == "test" || e == "test-success")
}

fn parse_kube_version(v: &str) -> Result<Value, RenderError> {
    let t = v.trim_start_matches('v');
    let core: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return Err(RenderError::KubeVersion(v.to_string()));
    }
    let major: u64 = parts[0]
        .parse()
        .map_err(|_| RenderError::KubeVersion(v.to_string()))?;
    let minor: u64 = parts[1]
        .parse()
        .map_err(|_| RenderError::KubeVersion(v.to_string()))?;
    let patch: u64 = parts.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let git = if v.starts_with('v') {
        v.to_string()
    } else {
        format!("v{v}")
    };
    let rest = &t[core.len()..];
    let normalized = format!("v{major}.{minor}.{patch}{rest}");
    let mut m = Map::new();
    m.insert("Version".into(), Value::str(git.as_str()));
    m.insert("Major".into(), Value::str(major.to_string()));
    m.insert("Minor".into(), Value::str(minor.to_string()));
    m.insert("GitVersion".into(), Value::str(git.as_str()));
    // printed as the struct it is: {Version normalizedVersion Major Minor}
    let printed = format!("{{{git} {normalized} {major} {minor}}}");
    Ok(object_struct("common.KubeVersion", m, Some(printed)))
}

fn kube_normalized(v: &str) -> String {
    let t = v.trim_start_matches('v');
    let core: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
    let n = |i: usize| {
        parts
            .get(i)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0)
    };
    format!("v{}.{}.{}{}", n(0), n(1), n(2), &t[core.len()..])
}

fn capabilities(opts: &RenderOptions) -> Result<(Value, String), RenderError> {
    let kv = parse_kube_version(opts.kube_version.as_deref().unwrap_or(DEFAULT_KUBE_VERSION))?;
    let normalized = kube_normalized(opts.kube_version.as_deref().unwrap_or(DEFAULT_KUBE_VERSION));
    let mut versions: Vec<String> = match &opts.cluster_api_versions {
        Some(v) => v.clone(),
        None => DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
    };
    versions.extend(opts.api_versions.iter().cloned());
    let mut helm = Map::new();
    helm.insert("Version".into(), Value::str(HELM_VERSION));
    helm.insert("GitCommit".into(), Value::str(""));
    helm.insert("GitTreeState".into(), Value::str(""));
    helm.insert("GoVersion".into(), Value::str("go1.26.8"));
    helm.insert("KubeClientVersion".into(), Value::str("v1.37"));
    let mut caps = Map::new();
    caps.insert("KubeVersion".into(), kv);
    caps.insert(
        "APIVersions".into(),
        Value::Object(Rc::new(Object::VersionSet(versions))),
    );
    caps.insert(
        "HelmVersion".into(),
        object_struct("version.BuildInfo", helm, None),
    );
    Ok((
        object_struct("*common.Capabilities", caps, None),
        normalized,
    ))
}

struct Tpl {
    src: String,
    vals: Value,
    base_path: String,
}

fn all_templates(
    c: &Chart,
    parent_vals: &Value,
    is_root: bool,
    full_path: &str,
    out: &mut BTreeMap<String, Tpl>,
) -> Value {
    let pm = parent_vals.as_map().map(|m| m.clone()).unwrap_or_default();
    let subcharts = Value::map(Map::new());
    let mut next = Map::new();
    next.insert("Chart".into(), c.metadata_value(is_root));
    next.insert(
        "Files".into(),
        Value::Object(Rc::new(Object::Files(c.files.clone()))),
    );
    next.insert(
        "Release".into(),
        pm.get("Release").cloned().unwrap_or_default(),
    );
    next.insert(
        "Capabilities".into(),
        pm.get("Capabilities").cloned().unwrap_or_default(),
    );
    let values = if is_root {
        pm.get("Values")
            .cloned()
            .unwrap_or_else(|| Value::map(Map::new()))
    } else {
        match pm
            .get("Values")
            .and_then(|v| v.as_map().and_then(|m| m.get(&c.name()).cloned()))
        {
            Some(v @ Value::Map(_)) => v,
            _ => Value::map(Map::new()),
        }
    };
    next.insert("Values".into(), values);
    next.insert("Subcharts".into(), subcharts.clone());
    let next = Value::map(next);
    for sub in &c.subcharts {
        let sub_path = format!("{full_path}/charts/{}", sub.name());
        let v = all_templates(sub, &next, false, &sub_path, out);
        if let Value::Map(m) = &subcharts {
            m.borrow_mut().insert(sub.name(), v);
        }
    }
    for (name, src) in &c.templates {
        if c.is_library() && !name.rsplit('/').next().unwrap_or("").starts_with('_') {
            continue;
        }
        out.insert(
            format!("{full_path}/{name}"),
            Tpl {
                src: src.clone(),
                vals: next.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    next
}

fn sort_templates(keys: &mut [String]) {
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
}

fn clean_exec_error(e: &ExecError) -> String {
    let s = e.to_string();
    if let (Some(a), Some(b)) = (s.find(WARN_START), s.find(WARN_END)) {
        let msg = &s[a + WARN_START.len()..b];
        return format!(
            "execution error at ({}:{}:{}): {msg}",
            e.name, e.line, e.col
        );
    }
    s
}

/// Renders `chart` with user values `vals` as `helm template` does.
pub fn render(mut chart: Chart, vals: &Map, opts: &RenderOptions) -> Result<Rendered, RenderError> {
    // `helm template` refuses charts whose declared dependencies are not in charts/
    let missing: Vec<String> = chart
        .dependencies
        .iter()
        .filter(|d| !chart.subcharts.iter().any(|s| s.name() == d.name))
        .map(|d| d.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(RenderError::MissingDependencies(missing.join(", ")));
    }
    process_dependencies(&mut chart, vals)?;
    let (caps, kube_normalized) = capabilities(opts)?;
    if let Some(req) = chart
        .metadata
        .get("kubeVersion")
        .and_then(|v| v.as_str().map(str::to_string))
        && !req.is_empty()
    {
        let ok = match (
            crate::semver::Constraints::parse(&req),
            crate::semver::Version::parse(&kube_normalized),
        ) {
            (Ok(c), Ok(v)) => c.matches(&v),
            _ => false,
        };
        if !ok {
            return Err(RenderError::Incompatible {
                required: req,
                actual: kube_normalized,
            });
        }
    }
    let values = coalesce_values_copy(&chart, vals)?;
    if !opts.skip_schema_validation {
        let mut errors = String::new();
        crate::schema::validate(&chart, &Value::map(values.clone()), &mut errors);
        if !errors.is_empty() {
            return Err(RenderError::Schema(errors));
        }
    }
    let mut release = Map::new();
    release.insert("Name".into(), Value::str(opts.release_name.as_str()));
    release.insert("Namespace".into(), Value::str(opts.namespace.as_str()));
    release.insert("IsUpgrade".into(), Value::Bool(opts.is_upgrade));
    release.insert("IsInstall".into(), Value::Bool(!opts.is_upgrade));
    release.insert("Revision".into(), Value::Int(opts.revision));
    release.insert("Service".into(), Value::str("Helm"));
    let mut top = Map::new();
    top.insert("Chart".into(), chart.metadata_value(true));
    top.insert("Capabilities".into(), caps);
    top.insert("Release".into(), Value::map(release));
    let computed = crate::values::copy_map(&values);
    top.insert("Values".into(), Value::map(values));
    let top = Value::map(top);

    let mut tpls = BTreeMap::new();
    let root_name = chart.name();
    all_templates(&chart, &top, true, &root_name, &mut tpls);
    let mut keys: Vec<String> = tpls.keys().cloned().collect();
    sort_templates(&mut keys);
    let mut set = TemplateSet::new();
    for k in &keys {
        if let Some(t) = tpls.get(k) {
            set.add(k, &t.src).map_err(|source| RenderError::Parse {
                file: k.clone(),
                source,
            })?;
        }
    }
    let funcs = crate::funcs::funcs();
    let mut exec = Exec::new(Rc::new(set), funcs);
    exec.lookup = opts.lookup.clone();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for k in &keys {
        if k.rsplit('/').next().unwrap_or("").starts_with('_') {
            continue;
        }
        let Some(t) = tpls.get(k) else { continue };
        if let Value::Map(m) = &t.vals {
            let mut tm = Map::new();
            tm.insert("Name".into(), Value::str(k.as_str()));
            tm.insert("BasePath".into(), Value::str(t.base_path.as_str()));
            m.borrow_mut().insert("Template".into(), Value::map(tm));
        }
        let mut buf = String::new();
        exec.execute(k, t.vals.clone(), &mut buf)
            .map_err(|e| RenderError::Exec(clean_exec_error(&e)))?;
        files.insert(k.clone(), buf.replace("<no value>", ""));
    }
    let mut out = Rendered {
        values: computed,
        ..Rendered::default()
    };
    let notes_path = format!("{root_name}/templates/NOTES.txt");
    files.retain(|k, v| {
        if k.ends_with("NOTES.txt") {
            if *k == notes_path {
                out.notes = v.clone();
            }
            return false;
        }
        true
    });
    let (hooks, manifests) = sort_manifests(&files)?;
    out.hooks = hooks;
    out.manifests = manifests;
    if opts.include_crds {
        collect_crds(&chart, &root_name, &mut out.crds);
    }
    Ok(out)
}

fn collect_crds(c: &Chart, path: &str, out: &mut Vec<Manifest>) {
    for (name, data) in &c.files {
        if name.starts_with("crds/")
            && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
        {
            out.push(Manifest {
                source: format!("{path}/{name}"),
                content: String::from_utf8_lossy(data).into_owned(),
                kind: "CustomResourceDefinition".into(),
            });
        }
    }
    for s in &c.subcharts {
        collect_crds(s, &format!("{path}/charts/{}", s.name()), out);
    }
}

/// Splits a rendered file into documents as `releaseutil.SplitManifests` does.
pub fn split_manifests(content: &str) -> Vec<String> {
    // the separator is the regexp `(?m)^---[ \t]*`: whatever follows on the line starts the next
    // document
    let t = content.trim_start();
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in t.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            docs.push(std::mem::take(&mut cur));
            cur.push_str(rest.trim_start_matches([' ', '\t']));
            continue;
        }
        cur.push_str(line);
    }
    docs.push(cur);
    docs.into_iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().to_string())
        .collect()
}

fn hook_events(content: &str) -> Vec<String> {
    let Ok(v) = crate::yaml::parse(content) else {
        return Vec::new();
    };
    let ann = v
        .as_map()
        .and_then(|m| m.get("metadata").cloned())
        .and_then(|md| md.as_map().and_then(|m| m.get("annotations").cloned()));
    let Some(h) = ann.and_then(|a| a.as_map().and_then(|m| m.get("helm.sh/hook").cloned())) else {
        return Vec::new();
    };
    crate::funcs::strval(&h)
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .collect()
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

fn sort_by_kind(v: &mut [Manifest]) {
    v.sort_by(|a, b| match (kind_rank(&a.kind), kind_rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });
}

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Manifest>, Vec<Manifest>), RenderError> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        if path.rsplit('/').next().unwrap_or("").starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head = crate::yaml::parse(&doc).map_err(|e| {
                let line = doc.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
                if std::env::var_os("KEELSON_HELM_DEBUG").is_some() {
                    eprintln!("{doc}");
                }
                RenderError::Manifest {
                    file: path.clone(),
                    message: format!("{e}: {line:?}"),
                }
            })?;
            let hm = head.as_map().map(|m| m.clone()).unwrap_or_default();
            let kind = hm.get("kind").map(crate::funcs::strval).unwrap_or_default();
            let kind = if hm.get("kind").is_some_and(Value::is_nil) {
                String::new()
            } else {
                kind
            };
            let anns = hm
                .get("metadata")
                .and_then(|m| m.as_map().and_then(|m| m.get("annotations").cloned()))
                .and_then(|a| a.as_map().map(|m| m.clone()))
                .unwrap_or_default();
            let m = Manifest {
                source: path.clone(),
                content: doc.clone(),
                kind,
            };
            let Some(h) = anns.get("helm.sh/hook") else {
                generic.push(m);
                continue;
            };
            let types: Vec<String> = crate::funcs::strval(h)
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .collect();
            if types.iter().any(|t| !HOOK_EVENTS.contains(&t.as_str())) {
                continue;
            }
            hooks.push(m);
        }
    }
    sort_by_kind(&mut hooks);
    sort_by_kind(&mut generic);
    Ok((hooks, generic))
}
