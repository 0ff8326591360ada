//! The repository as the gate sees it: its files (as git would track them: `.gitignore`d files
//! and `.git` left out), every YAML document with the line it starts on, and an index from
//! objects back to the document they were written in.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use keelson_manifest::{Document, ParseError, str_at};
use serde_json::Value;

use crate::Error;
use crate::finding::Location;
use crate::yamlpos::{self, DocLines};

/// One YAML file of the repository.
#[derive(Debug)]
pub struct YamlFile {
    /// Its text.
    pub text: String,
    /// Its documents (empty if it does not parse).
    pub docs: Vec<Document>,
    /// Why it does not parse, if it does not.
    pub error: Option<ParseError>,
    lines: OnceLock<Vec<DocLines>>,
}

impl YamlFile {
    /// The field lines of document `index`.
    pub fn lines(&self, index: usize) -> Option<&DocLines> {
        self.lines
            .get_or_init(|| yamlpos::index(&self.text))
            .get(index)
    }
}

/// Where an object was written: a YAML file and the index of its document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The file, relative to the root.
    pub file: PathBuf,
    /// The document's index in the file's stream.
    pub doc: usize,
}

/// A scanned repository.
#[derive(Debug)]
pub struct Repo {
    /// The root directory (absolute).
    pub root: PathBuf,
    /// Every file, relative to the root, sorted.
    pub files: Vec<PathBuf>,
    /// The YAML files by relative path.
    pub yaml: HashMap<PathBuf, YamlFile>,
    /// kind → (name, origin) of every object document.
    by_kind: HashMap<String, Vec<(String, Origin)>>,
}

impl Repo {
    /// Lists and parses the repository at `root`.
    ///
    /// # Errors
    /// [`Error::Io`] if `root` cannot be read.
    pub fn scan(root: &Path) -> Result<Repo, Error> {
        let root = std::fs::canonicalize(root).map_err(|source| Error::Io {
            path: root.into(),
            source,
        })?;
        let mut files = Vec::new();
        let walker = ignore::WalkBuilder::new(&root)
            .hidden(false)
            .git_ignore(true)
            .git_global(false)
            .git_exclude(false)
            .require_git(false)
            .parents(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| Error::Walk {
                path: root.clone(),
                message: e.to_string(),
            })?;
            if entry.file_type().is_some_and(|t| t.is_file())
                && let Ok(rel) = entry.path().strip_prefix(&root)
            {
                files.push(rel.to_path_buf());
            }
        }
        files.sort();
        // Helm chart folders hold Go templates, not YAML; the helm engine reads them.
        let charts: Vec<PathBuf> = files
            .iter()
            .filter(|f| f.file_name().is_some_and(|n| n == "Chart.yaml"))
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        let mut yaml = HashMap::new();
        let mut by_kind: HashMap<String, Vec<(String, Origin)>> = HashMap::new();
        for rel in &files {
            if !is_yaml(rel) || charts.iter().any(|c| rel.starts_with(c)) {
                continue;
            }
            let Ok(bytes) = std::fs::read(root.join(rel)) else {
                continue;
            };
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let (docs, error) = match keelson_manifest::parse_stream(&text) {
                Ok(docs) => (docs, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            for (i, doc) in docs.iter().enumerate() {
                let kind = str_at(&doc.value, &["kind"]);
                let name = str_at(&doc.value, &["metadata", "name"]);
                if !kind.is_empty() {
                    by_kind.entry(kind.to_string()).or_default().push((
                        name.to_string(),
                        Origin {
                            file: rel.clone(),
                            doc: i,
                        },
                    ));
                }
            }
            yaml.insert(
                rel.clone(),
                YamlFile {
                    text,
                    docs,
                    error,
                    lines: OnceLock::new(),
                },
            );
        }
        Ok(Repo {
            root,
            files,
            yaml,
            by_kind,
        })
    }

    /// The path relative to the root (unchanged if outside it).
    pub fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root).unwrap_or(path).to_path_buf()
    }

    /// Every document of `kind` whose `apiVersion` is in `group`, with its origin.
    pub fn documents<'a>(
        &'a self,
        group: &'a str,
        kind: &str,
    ) -> impl Iterator<Item = (&'a Value, Origin)> + 'a {
        self.by_kind
            .get(kind)
            .into_iter()
            .flatten()
            .filter_map(move |(_, origin)| {
                let doc = self.yaml.get(&origin.file)?.docs.get(origin.doc)?;
                let (g, _) =
                    keelson_manifest::split_api_version(str_at(&doc.value, &["apiVersion"]));
                (g == group).then_some((&doc.value, origin.clone()))
            })
    }

    /// Finds the document a rendered object came from, among the files a build read
    /// (`read`, absolute paths): same kind and name, else the document whose name the rendered
    /// name contains (a name prefix, suffix or hash was added), the longest such name winning.
    pub fn origin_of(&self, object: &Value, read: &BTreeSet<PathBuf>) -> Option<Origin> {
        let kind = str_at(object, &["kind"]);
        let name = str_at(object, &["metadata", "name"]);
        let candidates = self.by_kind.get(kind)?;
        let mut best: Option<(&str, &Origin)> = None;
        for (n, origin) in candidates {
            if !read.contains(&self.root.join(&origin.file)) {
                continue;
            }
            if n == name {
                return Some(origin.clone());
            }
            if !n.is_empty()
                && name.contains(n.as_str())
                && best.is_none_or(|(b, _)| b.len() < n.len())
            {
                best = Some((n, origin));
            }
        }
        best.map(|(_, o)| o.clone())
    }

    /// The location of `pointer` inside the document at `origin`.
    pub fn location(&self, origin: &Origin, pointer: &str) -> Location {
        let line = self
            .yaml
            .get(&origin.file)
            .and_then(|f| f.lines(origin.doc))
            .map(|l| l.line_of(pointer))
            .unwrap_or(0);
        Location::new(&origin.file, line)
    }
}

/// Whether the path names a YAML file.
pub fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) || path.file_name().is_some_and(|n| n == "Kustomization")
}
