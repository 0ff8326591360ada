//! The offline gate.
//!
//! Discovers the Flux entry points of a repository, renders them with the pure engines, checks
//! the Flux object graph, validates every object against schemas and scans for secrets. Never
//! touches a cluster or the network: `keelson validate` runs it in CI where `kustomize build`,
//! `kubeconform` and `gitleaks` used to.
//!
//! [`validate`] scans the repository ([`repo::Repo`]: its files as git tracks them and every
//! YAML document with its line), renders it ([`render`]: Flux Kustomizations followed
//! recursively, each built as kustomize-controller builds it, then plain kustomize trees no
//! Kustomization reaches) and returns a [`Report`] of [`Finding`]s, each with a rule, a
//! severity and a file:line [`Location`].
//!
//! # Example
//! ```no_run
//! let report = keelson_validate::validate("repo".as_ref(), &keelson_validate::Options::default())?;
//! for f in &report.findings {
//!     println!("{}: {}: {}", f.location, f.severity.as_str(), f.message);
//! }
//! std::process::exit(if report.failed() { 1 } else { 0 });
//! # Ok::<(), keelson_validate::Error>(())
//! ```

pub mod finding;
pub mod format;
mod fs;
pub mod history;
mod hygiene;
pub mod render;
pub mod repo;
pub mod schema;
pub mod secrets;
pub mod yamlpos;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub use finding::{Category, Finding, Location, Report, Severity, Stats};

/// Why the gate could not run (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository could not be read.
    #[error("failed to read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading the git history failed.
    #[error("failed to read the git history of {path}: {message}")]
    Git {
        /// The repository.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Walking the repository failed.
    #[error("failed to list the files of {path}: {message}")]
    Walk {
        /// The root.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Skip secret scanning.
    pub no_secrets: bool,
    /// Skip schema validation.
    pub no_schemas: bool,
    /// Unknown fields and kinds without a schema are errors.
    pub strict: bool,
    /// Built-in schemas to use instead of the bundled ones.
    pub bundle: Option<schema::Bundle>,
    /// Also scan every blob in the git history for secrets.
    pub history: bool,
    /// Report only findings in files that differ from this git revision.
    pub changed_since: Option<String>,
    /// A directory of packaged charts (`<name>-<version>.tgz`, Helm's repository cache
    /// layout) to render HelmReleases whose charts come from a HelmRepository.
    pub chart_cache: Option<PathBuf>,
    /// Sources mapped to folders of the repository (`Kind/namespace/name=path`), for
    /// Kustomizations that read another artifact of this repository than its root (a cluster
    /// synced from an OCI artifact of `./kubernetes`).
    pub local_sources: Vec<render::LocalSource>,
}

/// Files larger than this are not scanned for secrets.
const MAX_SCAN_BYTES: u64 = 4 << 20;

/// Runs the gate on the repository at `root`.
///
/// # Errors
/// [`Error`] if the repository cannot be read; problems in it are findings.
pub fn validate(root: &Path, options: &Options) -> Result<Report, Error> {
    let repo = repo::Repo::scan(root)?;
    let mut report = Report::default();
    report.stats.files = repo.files.len();
    for (path, file) in &repo.yaml {
        if let Some(e) = &file.error {
            let line = match e {
                keelson_manifest::ParseError::Syntax { line, .. }
                | keelson_manifest::ParseError::DuplicateKey { line, .. }
                | keelson_manifest::ParseError::Unsupported { line, .. }
                | keelson_manifest::ParseError::AliasLimit { line, .. } => *line,
            };
            report.findings.push(Finding::new(
                Category::Render,
                Severity::Error,
                "render/invalid-yaml",
                Location::new(path, line),
                e.to_string(),
            ));
        }
    }
    let settings = render::Settings {
        chart_cache: options.chart_cache.clone(),
        local_sources: options.local_sources.clone(),
    };
    let rendered = render::render_with(&repo, &settings);
    report.stats.kustomizations = rendered.kustomizations;
    report.stats.helm_releases = rendered.helm_releases;
    report.stats.plain_trees = rendered.plain_trees;
    report.stats.objects = rendered.objects.len();
    report.findings.extend(rendered.findings);
    if !options.no_schemas {
        report.stats.validated =
            check_schemas(&repo, &rendered.objects, options, &mut report.findings);
        merge_invalid_specs(&mut report.findings);
    }
    if !options.no_secrets {
        scan_secrets(&repo, &mut report.findings);
        scan_chart_outputs(&rendered.chart_outputs, &mut report.findings);
        hygiene::check(&repo, &mut report.findings);
        if options.history {
            scan_history(&repo, &mut report.findings)?;
        }
    }
    if let Some(rev) = &options.changed_since {
        let changed = history::changed_since(&repo.root, rev, &repo.files)?;
        report
            .findings
            .retain(|f| changed.contains(&f.location.file));
    }
    report.normalize();
    Ok(report)
}

/// Scans every file of the repository with the built-in rules.
fn scan_secrets(repo: &repo::Repo, out: &mut Vec<Finding>) {
    let scanner = secrets::Scanner::new();
    let allow = secrets::Allow::load(&repo.root);
    for rel in &repo.files {
        if rel.as_os_str() == ".keelsonignore" || allow.path_allowed(rel) {
            continue;
        }
        let path = repo.root.join(rel);
        if !std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_SCAN_BYTES) {
            continue;
        }
        let content = match repo.yaml.get(rel) {
            Some(y) => std::borrow::Cow::Borrowed(y.text.as_bytes()),
            None => match std::fs::read(&path) {
                Ok(bytes) => std::borrow::Cow::Owned(bytes),
                Err(_) => continue,
            },
        };
        if secrets::is_binary(&content) {
            continue;
        }
        for hit in scanner.scan(&content) {
            if allow.allowed(rel, hit.rule, hit.line) {
                continue;
            }
            out.push(Finding::new(
                Category::Secret,
                Severity::Error,
                format!("secret/{}", hit.rule),
                Location::new(rel, hit.line),
                format!("{} found", hit.description),
            ));
        }
    }
}

/// Scans the rendered output of charts from outside the repository (its files are scanned
/// as files); hits are reported at the HelmRelease.
fn scan_chart_outputs(outputs: &[(Location, String, String)], out: &mut Vec<Finding>) {
    if outputs.is_empty() {
        return;
    }
    let scanner = secrets::Scanner::new();
    for (location, template, text) in outputs {
        for hit in scanner.scan(text.as_bytes()) {
            out.push(Finding::new(
                Category::Secret,
                Severity::Error,
                format!("secret/{}", hit.rule),
                location.clone(),
                format!(
                    "{} found in the rendered chart output ({template}, line {})",
                    hit.description, hit.line
                ),
            ));
        }
    }
}

/// Validates every rendered object; returns how many had a schema.
fn check_schemas(
    repo: &repo::Repo,
    objects: &[render::Rendered],
    options: &Options,
    out: &mut Vec<Finding>,
) -> usize {
    let bundle = match &options.bundle {
        Some(b) => Some(b.clone()),
        None => schema::Bundle::builtin().ok(),
    };
    let is_crd = |v: &serde_json::Value| {
        keelson_manifest::str_at(v, &["kind"]) == "CustomResourceDefinition"
            && keelson_manifest::str_at(v, &["apiVersion"]).starts_with("apiextensions.k8s.io/")
    };
    // CRDs a cluster renders apply to that cluster's objects only (a repository of several
    // clusters may install different Flux versions); those of plain trees and CRD documents no
    // cluster renders apply everywhere, after keelson's own Flux CRDs.
    let mut crds = schema::flux_crds();
    let mut scoped: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
    let mut in_clusters: HashSet<&repo::Origin> = HashSet::new();
    for r in objects.iter().filter(|r| is_crd(&r.object)) {
        match r.cluster {
            Some(c) => {
                scoped.entry(c).or_default().push(r.object.clone());
                in_clusters.extend(r.origin.as_ref());
            }
            None => crds.push(r.object.clone()),
        }
    }
    crds.extend(
        repo.documents("apiextensions.k8s.io", "CustomResourceDefinition")
            .filter(|(_, origin)| !in_clusters.contains(origin))
            .map(|(v, _)| v.clone()),
    );
    let mut validators = schema::Validators::new(bundle, &crds, options.strict);
    for (c, list) in &scoped {
        validators.add_scoped(*c, list);
    }
    let mut validated = 0;
    for r in objects {
        let id = render::display_id(&r.object);
        let label = match &r.via {
            Some(via) => format!("{id} (from {via})"),
            None => id.clone(),
        };
        // The apiserver judges an object with its null fields dropped, so `values:` left empty
        // in a HelmRelease is no error.
        let pruned = keelson_manifest::without_nulls(&r.object);
        match validators.validate_in(pruned.as_ref().unwrap_or(&r.object), r.cluster) {
            schema::Outcome::Valid => validated += 1,
            schema::Outcome::Invalid(violations) => {
                validated += 1;
                for v in violations {
                    let at = if v.pointer.is_empty() {
                        "/"
                    } else {
                        &v.pointer
                    };
                    out.push(
                        Finding::new(
                            Category::Schema,
                            Severity::Error,
                            "schema/invalid",
                            r.location(repo, &v.pointer),
                            format!("{label}: {at}: {}", v.message),
                        )
                        .with_object(id.clone()),
                    );
                }
            }
            schema::Outcome::UnknownKind => {
                let api_version = keelson_manifest::str_at(&r.object, &["apiVersion"]);
                let kind = keelson_manifest::str_at(&r.object, &["kind"]);
                out.push(
                    Finding::new(
                        Category::Schema,
                        if options.strict { Severity::Error } else { Severity::Info },
                        "schema/unknown-kind",
                        r.location(repo, ""),
                        format!("{label}: no schema for {api_version} {kind} (neither built in nor a CRD in the repository)"),
                    )
                    .with_object(id.clone()),
                );
            }
        }
    }
    validated
}

/// A Flux Kustomization whose spec does not parse (`interval` missing) also fails its CRD's
/// schema: the schema findings, which name the field, are kept and the first says the
/// Kustomization was not rendered; the render finding is dropped so the fault is reported once.
fn merge_invalid_specs(findings: &mut Vec<Finding>) {
    let invalid: HashSet<String> = findings
        .iter()
        .filter(|f| f.rule == "render/invalid-kustomization")
        .filter_map(|f| f.object.clone())
        .collect();
    if invalid.is_empty() {
        return;
    }
    let mut merged: HashSet<String> = HashSet::new();
    for f in findings.iter_mut() {
        if f.rule != "schema/invalid" {
            continue;
        }
        if let Some(object) = f.object.as_ref().filter(|o| invalid.contains(*o))
            && merged.insert(object.clone())
        {
            f.message.push_str(" (the Kustomization is not rendered)");
        }
    }
    findings.retain(|f| {
        f.rule != "render/invalid-kustomization"
            || !f.object.as_ref().is_some_and(|o| merged.contains(o))
    });
}

/// Scans every blob of the git history; secrets still in the work tree are reported once.
fn scan_history(repo: &repo::Repo, out: &mut Vec<Finding>) -> Result<(), Error> {
    let scanner = secrets::Scanner::new();
    let allow = secrets::Allow::load(&repo.root);
    let current: std::collections::HashSet<(PathBuf, String, usize)> = out
        .iter()
        .filter(|f| f.category == Category::Secret)
        .map(|f| (f.location.file.clone(), f.rule.clone(), f.location.line))
        .collect();
    let mut found = Vec::new();
    history::for_each_blob(&repo.root, |rel, commit, content| {
        if content.len() as u64 > MAX_SCAN_BYTES
            || secrets::is_binary(content)
            || allow.path_allowed(rel)
        {
            return;
        }
        for hit in scanner.scan(content) {
            let rule = format!("secret/{}", hit.rule);
            if allow.allowed(rel, hit.rule, hit.line)
                || current.contains(&(rel.to_path_buf(), rule.clone(), hit.line))
            {
                continue;
            }
            found.push(Finding::new(
                Category::Secret,
                Severity::Error,
                rule,
                Location::new(rel, hit.line),
                format!("{} found in commit {commit} (git history)", hit.description),
            ));
        }
    })?;
    out.extend(found);
    Ok(())
}
