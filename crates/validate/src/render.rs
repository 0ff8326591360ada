//! Discovery and recursive rendering of a Flux repository, as the controllers would see it.
//!
//! Entry points are the Flux Kustomizations written in the repository that no other
//! Kustomization's path contains (or whose own path contains them: the bootstrap
//! `flux-system` Kustomization of a cluster directory). Each entry point starts a *cluster*:
//! its path is built with the kustomize engine the way kustomize-controller builds it
//! (load restrictor off, the spec's targetNamespace/patches/images/… written into the path's
//! kustomization file, postBuild substitution with values from the ConfigMaps and Secrets
//! rendered so far), and every Flux Kustomization in the output is rendered in turn. The graph
//! of each cluster is then checked. Kustomization trees that no Flux Kustomization reaches are
//! built on their own (plain kustomize trees).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use keelson_api::KustomizationSpec;
use keelson_kustomize::{FileSystem, KUSTOMIZATION_FILE_NAMES, LoadRestrictor, Options, RealFs};
use keelson_manifest::{ObjectId, str_at};
use serde_json::Value;

use crate::finding::{Category, Finding, Location, Severity};
use crate::fs::OverlayFs;
use crate::repo::{Origin, Repo};

mod graph;
mod helmrelease;
mod plain;
mod sources;
mod substitute;

pub use sources::{LocalSource, LocalSourceError};

/// A source as (kind, namespace, name).
type SourceKey = (String, String, String);

const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
/// The source kinds a Flux Kustomization can read.
const SOURCE_KINDS: [&str; 4] = [
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "ExternalArtifact",
];

/// One rendered object and where it came from.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The object as it would be applied.
    pub object: Value,
    /// The document it was written in, when found.
    pub origin: Option<Origin>,
    /// Where to point when the origin is unknown (the kustomization that built it).
    pub fallback: Location,
    /// The Flux Kustomization that deploys it (`namespace/name`), or `None` for plain trees.
    pub owner: Option<String>,
    /// The cluster (entry point group, numbered from 0) that deploys it, or `None` for plain
    /// trees.
    pub cluster: Option<usize>,
    /// What produced it when that is not a file of the repository (`HelmRelease ns/name,
    /// chart/templates/x.yaml`), for messages.
    pub via: Option<String>,
}

impl Rendered {
    /// The location of `pointer` inside the object.
    pub fn location(&self, repo: &Repo, pointer: &str) -> Location {
        match &self.origin {
            Some(origin) => repo.location(origin, pointer),
            None => self.fallback.clone(),
        }
    }
}

/// What rendering produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Every rendered object.
    pub objects: Vec<Rendered>,
    /// Render and graph findings.
    pub findings: Vec<Finding>,
    /// Flux Kustomizations rendered.
    pub kustomizations: usize,
    /// Plain kustomization trees built.
    pub plain_trees: usize,
    /// HelmReleases rendered.
    pub helm_releases: usize,
    /// The rendered text of charts from outside the repository (the chart cache), for the
    /// secret scan: where to report (the HelmRelease), the template, the text.
    pub chart_outputs: Vec<(Location, String, String)>,
}

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// A directory of packaged charts (`<name>-<version>.tgz`, as Helm's repository cache
    /// keeps them) for HelmReleases whose charts come from a HelmRepository.
    pub chart_cache: Option<PathBuf>,
    /// Sources mapped to folders of the repository (`--local-sources`).
    pub local_sources: Vec<LocalSource>,
}

/// A Flux Kustomization in a cluster.
struct Node {
    ns: String,
    name: String,
    value: Value,
    origin: Option<Origin>,
    fallback: Location,
    spec: Option<KustomizationSpec>,
}

impl Node {
    fn key(&self) -> String {
        format!("{}/{}", self.ns, self.name)
    }
}

/// Renders the repository with the default [`Settings`].
pub fn render(repo: &Repo) -> Output {
    render_with(repo, &Settings::default())
}

/// Renders the repository.
pub fn render_with(repo: &Repo, settings: &Settings) -> Output {
    let mut r = Renderer {
        repo,
        settings,
        out: Output::default(),
        read_all: BTreeSet::new(),
        clusters: 0,
        roots: BTreeMap::new(),
        entry_docs: BTreeSet::new(),
    };
    // Kustomization documents that are resources of this repository: fragments without a
    // sourceRef (patch files such as tenants/*/dev-team-patch.yaml) and Kustomizations that read
    // another source defined here (a tenant's GitRepository, an OCIRepository) are not.
    let all: Vec<(Value, Origin)> = repo
        .documents(KUSTOMIZE_GROUP, "Kustomization")
        .filter(|(v, _)| v.pointer("/spec/sourceRef").is_some())
        .map(|(v, o)| (v.clone(), o))
        .collect();
    let mut local = local_sources(repo, &all);
    local.extend(
        settings
            .local_sources
            .iter()
            .map(|m| (m.kind.clone(), m.namespace.clone(), m.name.clone())),
    );
    r.roots = sources::roots(
        repo,
        &settings.local_sources,
        &local,
        &all,
        &mut r.out.findings,
    );
    let reads_local = |v: &Value| {
        v.pointer("/spec/sourceRef")
            .is_some_and(|s| local.contains(&source_key(s, default_ns(v))))
    };
    // A repository none of whose Kustomizations reads it (each names its own source) is
    // rendered from all of them rather than not at all.
    let statics: Vec<(Value, Origin)> = if all.iter().any(|(v, _)| reads_local(v)) {
        all.into_iter().filter(|(v, _)| reads_local(v)).collect()
    } else {
        all
    };
    let paths: Vec<Option<PathBuf>> = statics
        .iter()
        .map(|(v, _)| {
            let root = r.root_of(v).unwrap_or_default();
            clean_rel(str_at(v, &["spec", "path"])).map(|p| root.join(p))
        })
        .collect();
    // Entry points written in the same directory (a cluster folder) form one cluster. A path
    // of the repository root contains every file: it neither makes its Kustomization a
    // bootstrap one nor hides the others (flux-local's cluster5 has one, reading a source
    // that does not exist, beside eleven other clusters).
    fn below_root(p: &Option<PathBuf>) -> Option<&PathBuf> {
        p.as_ref().filter(|p| !p.as_os_str().is_empty())
    }
    let mut groups: BTreeMap<PathBuf, Vec<(Value, Origin)>> = BTreeMap::new();
    for (i, (value, origin)) in statics.iter().enumerate() {
        let own = below_root(&paths[i]).is_some_and(|p| origin.file.starts_with(p));
        let contained = paths
            .iter()
            .enumerate()
            .any(|(j, p)| j != i && below_root(p).is_some_and(|p| origin.file.starts_with(p)));
        if own || !contained {
            let dir = origin
                .file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            groups
                .entry(dir)
                .or_default()
                .push((value.clone(), origin.clone()));
        }
    }
    for roots in groups.into_values() {
        r.entry_docs.extend(roots.iter().map(|(_, o)| o.clone()));
        r.cluster(roots);
    }
    r.unreached();
    r.plain_helm_releases();
    r.out
}

struct Renderer<'a> {
    repo: &'a Repo,
    settings: &'a Settings,
    out: Output,
    read_all: BTreeSet<PathBuf>,
    /// Clusters started so far.
    clusters: usize,
    /// The folder (relative to the root) each local source serves.
    roots: BTreeMap<SourceKey, PathBuf>,
    /// The entry-point documents (reached by definition).
    entry_docs: BTreeSet<Origin>,
}

/// The objects and Kustomizations of one cluster.
#[derive(Default)]
struct Cluster {
    /// Its number, in the order clusters are rendered.
    id: usize,
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    /// Indices into `Output::objects`.
    objects: Vec<usize>,
    /// Indices into `nodes` of the Kustomizations that read another source than this
    /// repository (not rendered).
    external: Vec<usize>,
    /// The source the entry points read: this repository (defined or not).
    local_source: Option<(String, String, String)>,
    /// The folder its entry points are written in (relative to the root).
    dir: PathBuf,
}

impl Renderer<'_> {
    /// The source root of the Kustomization document `v` when its source is local.
    fn root_of(&self, v: &Value) -> Option<PathBuf> {
        let reference = v.pointer("/spec/sourceRef")?;
        self.roots
            .get(&source_key(reference, default_ns(v)))
            .cloned()
    }

    fn finding(
        &mut self,
        category: Category,
        severity: Severity,
        rule: &str,
        location: Location,
        message: String,
        object: Option<String>,
    ) {
        let mut f = Finding::new(category, severity, rule, location, message);
        f.object = object;
        self.out.findings.push(f);
    }

    fn node_location(&self, node: &Node, pointer: &str) -> Location {
        match &node.origin {
            Some(o) => self.repo.location(o, pointer),
            None => node.fallback.clone(),
        }
    }

    /// Renders the cluster that starts at the Kustomization `value`.
    fn cluster(&mut self, roots: Vec<(Value, Origin)>) {
        let mut cluster = Cluster {
            id: self.clusters,
            ..Cluster::default()
        };
        self.clusters += 1;
        let mut queue = VecDeque::new();
        let mut local_source = None;
        if let Some((_, origin)) = roots.first() {
            cluster.dir = origin
                .file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
        }
        for (value, origin) in roots {
            let fallback = self.repo.location(&origin, "");
            let root = node_of(value, Some(origin), fallback, "flux-system");
            if local_source.is_none() {
                local_source = root
                    .value
                    .get("spec")
                    .and_then(|s| s.get("sourceRef"))
                    .map(|s| source_key(s, &root.ns));
            }
            if cluster.index.contains_key(&root.key()) {
                continue;
            }
            cluster.index.insert(root.key(), cluster.nodes.len());
            queue.push_back(cluster.nodes.len());
            cluster.nodes.push(root);
        }
        cluster.local_source = local_source.clone();
        while let Some(i) = queue.pop_front() {
            let children = self.render_node(&mut cluster, i, local_source.as_ref());
            for child in children {
                let key = child.key();
                if cluster.index.contains_key(&key) {
                    continue;
                }
                cluster.index.insert(key, cluster.nodes.len());
                queue.push_back(cluster.nodes.len());
                cluster.nodes.push(child);
            }
        }
        self.check_graph(&cluster);
        self.helm_releases(&cluster);
    }

    /// Renders one Kustomization; returns the Flux Kustomizations its output holds.
    fn render_node(
        &mut self,
        cluster: &mut Cluster,
        i: usize,
        local_source: Option<&(String, String, String)>,
    ) -> Vec<Node> {
        let node = &cluster.nodes[i];
        // Null members mean absent, as for the apiserver (`substitute:` with nothing after it).
        let mut spec = node.value.get("spec").cloned().unwrap_or(Value::Null);
        keelson_manifest::drop_nulls(&mut spec);
        let spec = match serde_json::from_value::<KustomizationSpec>(spec) {
            Ok(spec) => spec,
            Err(e) => {
                let loc = self.node_location(node, "/spec");
                let key = node.key();
                self.finding(
                    Category::Render,
                    Severity::Error,
                    "render/invalid-kustomization",
                    loc,
                    format!("Kustomization {key} has an invalid spec: {e}"),
                    Some(format!("Kustomization/{key}")),
                );
                return Vec::new();
            }
        };
        let key = node.key();
        let ns = node.ns.clone();
        let source = source_key(
            &serde_json::to_value(&spec.source_ref).unwrap_or_default(),
            &ns,
        );
        cluster.nodes[i].spec = Some(spec.clone());
        let node = &cluster.nodes[i];
        let mapped = self.settings.local_sources.iter().any(|m| {
            (m.kind.as_str(), m.namespace.as_str(), m.name.as_str())
                == (source.0.as_str(), source.1.as_str(), source.2.as_str())
        });
        if local_source.is_some_and(|l| *l != source) && !mapped {
            // Reported by the graph check: as not rendered when the cluster defines the
            // source, as a missing source when it does not.
            cluster.external.push(i);
            return Vec::new();
        }
        let rel = spec.path.clone().unwrap_or_default();
        let Some(clean) = clean_rel(&rel) else {
            let loc = self.node_location(node, "/spec/path");
            self.finding(
                Category::Graph,
                Severity::Error,
                "graph/path-outside-repository",
                loc,
                format!("Kustomization {key}: path '{rel}' points outside the repository"),
                Some(format!("Kustomization/{key}")),
            );
            return Vec::new();
        };
        let root = self.roots.get(&source).cloned().unwrap_or_default();
        let dir = self.repo.root.join(root).join(&clean);
        if !dir.is_dir() {
            let loc = self.node_location(node, "/spec/path");
            self.finding(
                Category::Graph,
                Severity::Error,
                "graph/missing-path",
                loc,
                format!("Kustomization {key}: path '{rel}' does not exist in the repository"),
                Some(format!("Kustomization/{key}")),
            );
            return Vec::new();
        }
        let fallback = self.node_location(node, "/spec/path");
        let owner = format!("Kustomization/{key}");
        let Some((mut objects, read)) = self.build(&dir, Some(&spec), fallback.clone(), &owner)
        else {
            return Vec::new();
        };
        self.out.kustomizations += 1;
        if let Some(post) = &spec.post_build {
            self.substitute(cluster, &ns, &key, post, &mut objects, &read, &fallback);
        }
        let mut children = Vec::new();
        for object in objects {
            let origin = self.repo.origin_of(&object, &read);
            let (group, _) = keelson_manifest::split_api_version(str_at(&object, &["apiVersion"]));
            if group == KUSTOMIZE_GROUP && str_at(&object, &["kind"]) == "Kustomization" {
                let loc = origin
                    .as_ref()
                    .map(|o| self.repo.location(o, ""))
                    .unwrap_or_else(|| fallback.clone());
                children.push(node_of(object.clone(), origin.clone(), loc, &ns));
            }
            cluster.objects.push(self.out.objects.len());
            self.out.objects.push(Rendered {
                object,
                origin,
                fallback: fallback.clone(),
                owner: Some(key.clone()),
                cluster: Some(cluster.id),
                via: None,
            });
        }
        children
    }

    /// Builds `dir` as kustomize-controller would for `spec` (or plainly without one).
    fn build(
        &mut self,
        dir: &Path,
        spec: Option<&KustomizationSpec>,
        fallback: Location,
        what: &str,
    ) -> Option<(Vec<Value>, BTreeSet<PathBuf>)> {
        let disk = match RealFs::new(&self.repo.root) {
            Ok(disk) => disk,
            Err(e) => {
                let message = format!("{what}: {}", self.scrub(&e.to_string()));
                self.finding(
                    Category::Render,
                    Severity::Error,
                    "render/build-failed",
                    fallback,
                    message,
                    Some(what.to_string()),
                );
                return None;
            }
        };
        let mut fs = OverlayFs::new(disk.clone());
        if let Some(spec) = spec.filter(|s| s.has_build_settings()) {
            match flux_kustomization_file(&disk, dir, spec) {
                Ok((path, text)) => fs.insert(path, text.into_bytes()),
                Err(e) => {
                    let loc = self.error_location(&e, &BTreeSet::new(), fallback);
                    self.finding(
                        Category::Render,
                        Severity::Error,
                        "render/build-failed",
                        loc,
                        format!("{what}: {}", self.scrub(&e.to_string())),
                        Some(what.to_string()),
                    );
                    return None;
                }
            }
        }
        let options = Options {
            load_restrictor: LoadRestrictor::None,
        };
        let result = keelson_kustomize::build_flux(&fs, dir, &options);
        let read = fs.files_read();
        self.read_all.extend(read.iter().cloned());
        match result {
            Ok(objects) => Some((objects, read)),
            Err(e) => {
                let loc = self.error_location(&e, &read, fallback);
                // A remote resource (`https://…/crd.yaml`) is fetched by the controller; the
                // offline gate cannot check it, which is no fault of the repository.
                let (severity, rule) = match e {
                    keelson_kustomize::Error::Remote { .. } => {
                        (Severity::Warning, "render/remote-resource")
                    }
                    _ => (Severity::Error, "render/build-failed"),
                };
                self.finding(
                    Category::Render,
                    severity,
                    rule,
                    loc,
                    format!("{what}: {}", self.scrub(&e.to_string())),
                    Some(what.to_string()),
                );
                None
            }
        }
    }

    /// Error messages name files relative to the repository root.
    fn scrub(&self, message: &str) -> String {
        let root = self.repo.root.display().to_string();
        message.replace(&format!("{root}/"), "").replace(&root, ".")
    }

    /// The best location for a build error: the file and line it names, else the line of the
    /// kustomization file that references the missing file, else `fallback`.
    fn error_location(
        &self,
        e: &keelson_kustomize::Error,
        read: &BTreeSet<PathBuf>,
        fallback: Location,
    ) -> Location {
        use keelson_kustomize::Error as E;
        // A remote resource: the kustomization line that lists it.
        if let E::Remote { path, resource } = e
            && let Some(text) = self
                .repo
                .yaml
                .get(&self.repo.relative(path))
                .map(|y| &y.text)
            && let Some(n) = text.lines().position(|l| l.contains(resource.as_str()))
        {
            return Location::new(self.repo.relative(path), n + 1);
        }
        let (path, line) = match e {
            E::Yaml { path, source } => (path, parse_error_line(source)),
            E::Io { path, .. }
            | E::Invalid { path, .. }
            | E::Remote { path, .. }
            | E::OutsideRoot { path, .. } => (path, 0),
            E::NoKustomization { dir } | E::MultipleKustomizations { dir } | E::Cycle { dir } => {
                (dir, 0)
            }
        };
        if path.is_file() && path.starts_with(&self.repo.root) {
            return Location::new(self.repo.relative(path), line);
        }
        // A missing file or a directory: the kustomization line naming it.
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            for file in read {
                let is_kust = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| KUSTOMIZATION_FILE_NAMES.contains(&n));
                if !is_kust {
                    continue;
                }
                let rel = self.repo.relative(file);
                if let Some(text) = self.repo.yaml.get(&rel).map(|y| &y.text)
                    && let Some(n) = text
                        .lines()
                        .position(|l| l.contains(name) && !l.trim_start().starts_with('#'))
                {
                    return Location::new(rel, n + 1);
                }
            }
        }
        if path.is_dir() && path.starts_with(&self.repo.root) {
            for n in KUSTOMIZATION_FILE_NAMES {
                if path.join(n).is_file() {
                    return Location::new(self.repo.relative(&path.join(n)), 0);
                }
            }
        }
        fallback
    }
}

/// Writes the Flux build settings of `spec` into the kustomization file of `dir` (generated
/// when the directory has none), returning the path and text for the overlay.
fn flux_kustomization_file(
    disk: &RealFs,
    dir: &Path,
    spec: &KustomizationSpec,
) -> Result<(PathBuf, String), keelson_kustomize::Error> {
    let existing = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let (path, mut doc) = match existing {
        Some(path) => {
            let bytes = disk
                .read(&path)
                .map_err(|source| keelson_kustomize::Error::Io {
                    path: path.clone(),
                    source,
                })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| keelson_kustomize::Error::invalid(&path, "not UTF-8 text"))?;
            let doc = keelson_manifest::parse_value(&text).map_err(|source| {
                keelson_kustomize::Error::Yaml {
                    path: path.clone(),
                    source,
                }
            })?;
            (path, doc)
        }
        None => {
            let resources: Vec<Value> = keelson_kustomize::implicit_kustomization(disk, dir)?
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
            let doc = serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            });
            (dir.join("kustomization.yaml"), doc)
        }
    };
    spec.apply_build_settings(&mut doc);
    Ok((path, keelson_manifest::to_yaml(&doc)))
}

/// The sources that stand for this repository, as (kind, namespace, name): those of the
/// Kustomizations whose path (below the root) contains their own file (the bootstrap sync of a
/// cluster folder),
/// the `flux-system` GitRepository that `flux bootstrap` creates, and every source referenced
/// but defined nowhere in the repository (bootstrap defines it in the cluster). A source the
/// repository defines otherwise points at another repository, branch or artifact.
fn local_sources(
    repo: &Repo,
    kustomizations: &[(Value, Origin)],
) -> BTreeSet<(String, String, String)> {
    let mut defined = BTreeSet::new();
    for kind in SOURCE_KINDS {
        for (v, _) in repo.documents(SOURCE_GROUP, kind) {
            defined.insert((
                kind.to_string(),
                default_ns(v).to_string(),
                str_at(v, &["metadata", "name"]).to_string(),
            ));
        }
    }
    let mut local = BTreeSet::new();
    local.insert((
        "GitRepository".to_string(),
        "flux-system".to_string(),
        "flux-system".to_string(),
    ));
    for (v, origin) in kustomizations {
        let Some(reference) = v.pointer("/spec/sourceRef") else {
            continue;
        };
        let key = source_key(reference, default_ns(v));
        // A path of the repository root contains every file: it says nothing of which
        // repository the source is (tenant and OCI Kustomizations use `./`).
        let own = clean_rel(str_at(v, &["spec", "path"]))
            .is_some_and(|p| !p.as_os_str().is_empty() && origin.file.starts_with(p));
        if own || !defined.contains(&key) {
            local.insert(key);
        }
    }
    local
}

/// The namespace written in a document, `flux-system` (where Flux objects live) when none is.
fn default_ns(v: &Value) -> &str {
    match str_at(v, &["metadata", "namespace"]) {
        "" => "flux-system",
        ns => ns,
    }
}

fn node_of(value: Value, origin: Option<Origin>, fallback: Location, default_ns: &str) -> Node {
    let ns = match str_at(&value, &["metadata", "namespace"]) {
        "" => default_ns.to_string(),
        ns => ns.to_string(),
    };
    Node {
        name: str_at(&value, &["metadata", "name"]).to_string(),
        ns,
        value,
        origin,
        fallback,
        spec: None,
    }
}

/// (kind, namespace, name) of a source reference; the namespace defaults to `ns`.
fn source_key(reference: &Value, ns: &str) -> (String, String, String) {
    let s = |k: &str| reference.get(k).and_then(Value::as_str).unwrap_or("");
    let namespace = match s("namespace") {
        "" => ns,
        n => n,
    };
    (s("kind").into(), namespace.into(), s("name").into())
}

/// `Kind/namespace/name` (or `Kind/name` without a namespace).
pub fn display_id(object: &Value) -> String {
    let kind = str_at(object, &["kind"]);
    let name = str_at(object, &["metadata", "name"]);
    match str_at(object, &["metadata", "namespace"]) {
        "" => format!("{kind}/{name}"),
        ns => format!("{kind}/{ns}/{name}"),
    }
}

/// A Flux path (`./clusters/prod`) as a clean path relative to the root; `None` if it climbs
/// out of the root.
pub fn clean_rel(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn parse_error_line(e: &keelson_manifest::ParseError) -> usize {
    e.line()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_flux_paths() {
        assert_eq!(
            clean_rel("./clusters/prod"),
            Some(PathBuf::from("clusters/prod"))
        );
        assert_eq!(clean_rel("./"), Some(PathBuf::new()));
        assert_eq!(clean_rel("a/../b"), Some(PathBuf::from("b")));
        assert_eq!(clean_rel("../x"), None);
    }
}
