//! Which sources stand for folders of this repository, and where their roots are.
//!
//! A Flux Kustomization's `spec.path` is relative to the root of the artifact its source
//! serves. For the bootstrap `GitRepository` that is the repository root; a cluster that syncs
//! from an OCI artifact (Flux Operator's `FluxInstance` with `sync.kind: OCIRepository`) reads
//! an artifact pushed from a folder of the repository (`flux push artifact --path=./kubernetes`),
//! so its paths are relative to that folder. A source is mapped to a folder explicitly
//! (`--local-sources Kind/namespace/name=path`, as `flux build`/flux-local take it) or, when the
//! repository root does not hold its Kustomizations' paths, to the one folder that does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{SourceKey, clean_rel, default_ns, source_key, str_at};
use crate::finding::{Category, Finding, Location, Severity};
use crate::repo::{Origin, Repo};

/// A source mapped to a folder of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSource {
    /// The source kind (`GitRepository`, `OCIRepository`, `Bucket`, `ExternalArtifact`).
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The folder, relative to the repository root, that is the root of its artifact.
    pub path: PathBuf,
}

/// Why a `--local-sources` entry does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid local source '{0}': expected Kind/namespace/name=path (e.g. OCIRepository/flux-system/flux-system=./kubernetes)"
)]
pub struct LocalSourceError(String);

impl std::str::FromStr for LocalSource {
    type Err = LocalSourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || LocalSourceError(s.to_string());
        let (id, path) = s.split_once('=').ok_or_else(err)?;
        let parts: Vec<&str> = id.split('/').collect();
        let [kind, namespace, name] = parts[..] else {
            return Err(err());
        };
        if [kind, namespace, name, path].iter().any(|p| p.is_empty()) {
            return Err(err());
        }
        Ok(LocalSource {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            path: PathBuf::from(path),
        })
    }
}

/// The roots of the local sources: the explicit mappings first, then every source in `local`
/// (those the repository stands for), at the repository root unless only one other folder
/// holds all their Kustomizations' paths. Notes say what was mapped, or why not.
pub(super) fn roots(
    repo: &Repo,
    explicit: &[LocalSource],
    local: &BTreeSet<SourceKey>,
    kustomizations: &[(Value, Origin)],
    findings: &mut Vec<Finding>,
) -> BTreeMap<SourceKey, PathBuf> {
    let mut roots = BTreeMap::new();
    for m in explicit {
        let key = (m.kind.clone(), m.namespace.clone(), m.name.clone());
        let path = match clean_rel(&m.path.to_string_lossy()) {
            Some(p) if repo.root.join(&p).is_dir() => p,
            _ => {
                findings.push(Finding::new(
                    Category::Render,
                    Severity::Error,
                    "render/local-source-missing",
                    Location::new("", 0),
                    format!(
                        "--local-sources {}/{}/{}={}: no such folder in the repository",
                        m.kind,
                        m.namespace,
                        m.name,
                        m.path.display()
                    ),
                ));
                continue;
            }
        };
        roots.insert(key, path);
    }
    for key in local {
        if roots.contains_key(key) {
            continue;
        }
        let readers: Vec<&(Value, Origin)> = kustomizations
            .iter()
            .filter(|(v, _)| {
                v.pointer("/spec/sourceRef")
                    .is_some_and(|s| source_key(s, default_ns(v)) == *key)
            })
            .collect();
        let root = match candidates(repo, &readers) {
            Candidates::Root => PathBuf::new(),
            Candidates::One(dir) => {
                if let Some((_, origin)) = readers.first() {
                    findings.push(Finding::new(
                        Category::Render,
                        Severity::Info,
                        "render/local-source-mapped",
                        repo.location(origin, "/spec/sourceRef"),
                        format!(
                            "{}/{}/{} is read from ./{} (the only folder holding the paths of its Kustomizations; --local-sources sets another)",
                            key.0,
                            key.1,
                            key.2,
                            dir.display()
                        ),
                    ));
                }
                dir
            }
            Candidates::Several(dirs) => {
                if let Some((_, origin)) = readers.first() {
                    let list: Vec<String> =
                        dirs.iter().map(|d| format!("./{}", d.display())).collect();
                    findings.push(Finding::new(
                        Category::Render,
                        Severity::Warning,
                        "render/local-source-ambiguous",
                        repo.location(origin, "/spec/sourceRef"),
                        format!(
                            "the paths of the Kustomizations reading {}/{}/{} are not in the repository root but in each of {}; pass --local-sources {}/{}/{}=DIR",
                            key.0,
                            key.1,
                            key.2,
                            list.join(", "),
                            key.0,
                            key.1,
                            key.2
                        ),
                    ));
                }
                PathBuf::new()
            }
        };
        roots.insert(key.clone(), root);
    }
    roots
}

enum Candidates {
    /// The repository root holds every path (or nothing tells otherwise).
    Root,
    /// Exactly one other folder does.
    One(PathBuf),
    /// Several do.
    Several(Vec<PathBuf>),
}

/// The folders that can be the source root of `readers`: folders that contain every reader's
/// file (an artifact holds the Kustomizations that read it) and in which every static path
/// (one without `${…}`) is a directory.
fn candidates(repo: &Repo, readers: &[&(Value, Origin)]) -> Candidates {
    let paths: Vec<PathBuf> = readers
        .iter()
        .map(|(v, _)| str_at(v, &["spec", "path"]))
        .filter(|p| !p.contains('$'))
        .filter_map(clean_rel)
        .collect();
    let holds_all = |root: &Path| paths.iter().all(|p| repo.root.join(root).join(p).is_dir());
    if paths.is_empty() || holds_all(Path::new("")) {
        return Candidates::Root;
    }
    // Common ancestors of the readers' files, deepest first.
    let mut common: Option<Vec<PathBuf>> = None;
    for (_, origin) in readers {
        let ancestors: Vec<PathBuf> = origin
            .file
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .collect();
        common = Some(match common {
            None => ancestors,
            Some(c) => c.into_iter().filter(|a| ancestors.contains(a)).collect(),
        });
    }
    let found: Vec<PathBuf> = common
        .unwrap_or_default()
        .into_iter()
        .filter(|dir| holds_all(dir))
        .collect();
    match found.len() {
        0 => Candidates::Root,
        1 => Candidates::One(found.into_iter().next().unwrap_or_default()),
        _ => Candidates::Several(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flux_local_sources_syntax() {
        let s: LocalSource = "OCIRepository/flux-system/flux-system=./kubernetes"
            .parse()
            .expect("parses");
        assert_eq!(s.kind, "OCIRepository");
        assert_eq!(s.namespace, "flux-system");
        assert_eq!(s.name, "flux-system");
        assert_eq!(s.path, PathBuf::from("./kubernetes"));
        for bad in [
            "OCIRepository/x=./k",
            "a/b/c",
            "a/b/c=",
            "/b/c=d",
            "a/b/c/d=e",
        ] {
            assert!(bad.parse::<LocalSource>().is_err(), "{bad}");
        }
    }
}
