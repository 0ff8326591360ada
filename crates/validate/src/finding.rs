//! What the gate reports: findings with a rule, a severity and a location.

use std::path::PathBuf;

use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, never fails the gate (a HelmRelease not rendered, an external source).
    Info,
    /// Probably wrong, does not fail the gate (a substitution source not in the repository).
    Warning,
    /// Fails the gate.
    Error,
}

impl Severity {
    /// The lowercase name (`error`, `warning`, `info`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Which part of the gate produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Rendering (kustomize build, substitution).
    Render,
    /// The Flux object graph (dependsOn, sourceRef, paths, ownership).
    Graph,
    /// Schema validation of rendered objects.
    Schema,
    /// Secret scanning and SOPS/.gitignore hygiene.
    Secret,
}

impl Category {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Render => "render",
            Category::Graph => "graph",
            Category::Schema => "schema",
            Category::Secret => "secret",
        }
    }
}

/// A place in the repository: a file relative to the root and a 1-based line (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Location {
    /// The file, relative to the repository root.
    pub file: PathBuf,
    /// The line (1-based; 0 if unknown).
    pub line: usize,
}

impl Location {
    /// A location in `file` at `line`.
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Location {
            file: file.into(),
            line,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file.display(), self.line)
        } else {
            write!(f, "{}", self.file.display())
        }
    }
}

/// One problem (or note) found by the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id (`graph/missing-path`, `schema/invalid`, `secret/aws-access-key`, …).
    pub rule: String,
    /// Which check produced it.
    pub category: Category,
    /// How serious it is.
    pub severity: Severity,
    /// Where it is.
    pub location: Location,
    /// The object concerned, as `Kind/namespace/name`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// What is wrong, in one sentence (never a secret value).
    pub message: String,
}

impl Finding {
    /// A finding of `category` with rule `rule` at `location`.
    pub fn new(
        category: Category,
        severity: Severity,
        rule: impl Into<String>,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule: rule.into(),
            category,
            severity,
            location,
            object: None,
            message: message.into(),
        }
    }

    /// Names the object concerned.
    pub fn with_object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
}

/// Counts of what the gate looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Files scanned.
    pub files: usize,
    /// Flux Kustomizations rendered.
    pub kustomizations: usize,
    /// Plain kustomization trees built (not reached from a Flux Kustomization).
    pub plain_trees: usize,
    /// HelmReleases rendered with their charts.
    pub helm_releases: usize,
    /// Objects rendered.
    pub objects: usize,
    /// Objects validated against a schema.
    pub validated: usize,
}

/// Everything the gate found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings, sorted by file, line and rule.
    pub findings: Vec<Finding>,
    /// What was looked at.
    pub stats: Stats,
}

impl Report {
    /// Whether any finding fails the gate.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The number of findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Sorts the findings and removes exact duplicates.
    pub fn normalize(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.location, &a.rule, &a.message).cmp(&(&b.location, &b.rule, &b.message))
        });
        self.findings.dedup();
    }
}
