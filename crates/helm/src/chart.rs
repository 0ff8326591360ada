//! Loading charts as `helm` does: from a directory (filtered by its `.helmignore`) or from a
//! packaged chart (`.tgz`, as bytes or a file): `Chart.yaml`, `values.yaml`,
//! `values.schema.json`, `templates/`, `crds/`, other files, and subcharts in `charts/`, either
//! folders or packaged `.tgz` archives (nested to any depth).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use keelson_kustomize::FileSystem as _;

use crate::value::{Map, Value};

/// A chart that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("failed to read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `Chart.yaml` or `values.yaml` is not valid.
    #[error("failed to parse {path}: {source}")]
    Yaml {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: crate::yaml::YamlError,
    },
    /// `values.schema.json` is not valid JSON.
    #[error("failed to parse {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A packaged chart (`.tgz`) is not a valid gzip'd tar archive of one chart.
    #[error("invalid chart archive {path}: {message}")]
    Archive {
        /// The archive (a path, or `charts/x.tgz` inside its parent chart).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A subchart in `charts/` could not be loaded.
    #[error("error unpacking subchart {name} in {parent}: {source}")]
    Subchart {
        /// The folder or archive name in `charts/`.
        name: String,
        /// The parent chart's name.
        parent: String,
        /// The cause.
        #[source]
        source: Box<LoadError>,
    },
    /// The chart is missing something it needs.
    #[error("invalid chart {path}: {message}")]
    Invalid {
        /// The chart.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One entry of `dependencies:` in `Chart.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Dependency {
    /// `name`.
    pub name: String,
    /// `version` (a constraint).
    pub version: String,
    /// `repository`.
    pub repository: String,
    /// `condition`: comma-separated value paths.
    pub condition: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `enabled` (set while processing).
    pub enabled: bool,
    /// `import-values`: strings or `{child, parent}` maps.
    pub import_values: Vec<Value>,
    /// `alias`.
    pub alias: String,
}

/// A loaded chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `Chart.yaml` as read.
    pub metadata: Map,
    /// `dependencies:` of `Chart.yaml` (or `requirements.yaml` for v1 charts).
    pub dependencies: Vec<Dependency>,
    /// `values.yaml` (numbers as `float64`).
    pub values: Map,
    /// `values.schema.json`.
    pub schema: Option<serde_json::Value>,
    /// `values.schema.json` as read.
    pub schema_raw: Option<Rc<[u8]>>,
    /// Templates: path inside the chart (`templates/x.yaml`) and text.
    pub templates: Vec<(String, String)>,
    /// Other files by path inside the chart.
    pub files: BTreeMap<String, Rc<[u8]>>,
    /// Subcharts.
    pub subcharts: Vec<Chart>,
    /// The chart's name as its parent knows it (alias applied); empty for the root.
    pub parent_path: String,
}

impl Chart {
    /// `metadata.name` (the alias once dependencies are processed).
    pub fn name(&self) -> String {
        self.metadata
            .get("name")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// `metadata.version`.
    pub fn version(&self) -> String {
        self.metadata
            .get("version")
            .map(crate::funcs::strval)
            .unwrap_or_default()
    }

    /// True for `type: library`.
    pub fn is_library(&self) -> bool {
        self.metadata
            .get("type")
            .and_then(|v| v.as_str().map(|s| s.eq_ignore_ascii_case("library")))
            .unwrap_or(false)
    }

    /// `.Chart` as templates see it: the metadata with Go field names.
    pub fn metadata_value(&self, is_root: bool) -> Value {
        let s = |k: &str| {
            Value::str(
                self.metadata
                    .get(k)
                    .map(|v| {
                        if v.is_nil() {
                            String::new()
                        } else {
                            crate::funcs::strval(v)
                        }
                    })
                    .unwrap_or_default(),
            )
        };
        let list = |k: &str| match self.metadata.get(k) {
            Some(Value::List(l)) => Value::List(l.clone()),
            _ => Value::list(Vec::new()),
        };
        let mut m = Map::new();
        m.insert("Name".into(), s("name"));
        m.insert("Home".into(), s("home"));
        m.insert("Sources".into(), list("sources"));
        m.insert("Version".into(), s("version"));
        m.insert("Description".into(), s("description"));
        m.insert("Keywords".into(), list("keywords"));
        let maint: Vec<Value> = match self.metadata.get("maintainers") {
            Some(Value::List(l)) => l
                .iter()
                .map(|x| {
                    let g = |k: &str| {
                        Value::str(
                            x.as_map()
                                .and_then(|m| m.get(k).map(crate::funcs::strval))
                                .unwrap_or_default(),
                        )
                    };
                    let mut mm = Map::new();
                    mm.insert("Name".into(), g("name"));
                    mm.insert("Email".into(), g("email"));
                    mm.insert("URL".into(), g("url"));
                    Value::map(mm)
                })
                .collect(),
            _ => Vec::new(),
        };
        m.insert("Maintainers".into(), Value::list(maint));
        m.insert("Icon".into(), s("icon"));
        m.insert("APIVersion".into(), s("apiVersion"));
        m.insert("Condition".into(), s("condition"));
        m.insert("Tags".into(), s("tags"));
        m.insert("AppVersion".into(), s("appVersion"));
        m.insert(
            "Deprecated".into(),
            Value::Bool(self.metadata.get("deprecated").is_some_and(Value::truthy)),
        );
        m.insert(
            "Annotations".into(),
            match self.metadata.get("annotations") {
                Some(Value::Map(a)) => Value::map(
                    a.borrow()
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::str(crate::funcs::strval(v))))
                        .collect(),
                ),
                _ => Value::map(Map::new()),
            },
        );
        m.insert("KubeVersion".into(), s("kubeVersion"));
        let deps: Vec<Value> = self
            .dependencies
            .iter()
            .map(|d| {
                let mut dm = Map::new();
                dm.insert("Name".into(), Value::str(d.name.as_str()));
                dm.insert("Version".into(), Value::str(d.version.as_str()));
                dm.insert("Repository".into(), Value::str(d.repository.as_str()));
                dm.insert("Condition".into(), Value::str(d.condition.as_str()));
                dm.insert(
                    "Tags".into(),
                    Value::list(d.tags.iter().map(|t| Value::str(t.as_str())).collect()),
                );
                dm.insert("Enabled".into(), Value::Bool(d.enabled));
                dm.insert("ImportValues".into(), Value::list(d.import_values.clone()));
                dm.insert("Alias".into(), Value::str(d.alias.as_str()));
                Value::map(dm)
            })
            .collect();
        m.insert("Dependencies".into(), Value::list(deps));
        m.insert("Type".into(), s("type"));
        m.insert("IsRoot".into(), Value::Bool(is_root));
        Value::map(m)
    }
}

/// `.helmignore` rules (Helm's own dialect of gitignore).
#[derive(Debug, Default)]
struct Ignore {
    rules: Vec<(String, bool, bool)>, // pattern, negate, dir only
}

impl Ignore {
    fn parse(text: &str) -> Ignore {
        let mut rules = vec![("templates/.?*".to_string(), false, false)];
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (neg, l) = match l.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, l),
            };
            let (dir, l) = match l.strip_suffix('/') {
                Some(r) => (true, r),
                None => (false, l),
            };
            let l = l.strip_prefix('/').unwrap_or(l);
            rules.push((l.to_string(), neg, dir));
        }
        Ignore { rules }
    }

    fn ignored(&self, rel: &str, is_dir: bool) -> bool {
        if rel.is_empty() || rel == "." {
            return false;
        }
        let mut ignored = false;
        for (pat, neg, dir) in &self.rules {
            if *dir && !is_dir {
                continue;
            }
            let hit = if pat.contains('/') {
                crate::funcs::glob_match(pat, rel)
            } else {
                let base = rel.rsplit('/').next().unwrap_or(rel);
                crate::funcs::glob_match(pat, base)
            };
            if hit {
                ignored = !neg;
            }
        }
        ignored
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads the chart in directory `dir`. Nothing outside `dir` is read: a symlink whose real
/// location is outside the chart is refused (Flux builds charts from artifacts, which hold no
/// symlinks, and a chart in an untrusted checkout must not pull in the host's files).
pub fn load_dir(dir: &Path) -> Result<Chart, LoadError> {
    let files = dir_files(dir)?;
    load_files(&dir.display().to_string(), files)
}

/// The files of the chart in directory `dir` that `helm package` would include (its
/// `.helmignore` applied), as (relative `/`-separated path, content) in name order.
pub fn dir_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, LoadError> {
    let disk = keelson_kustomize::RealFs::new(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let ignore = match disk.read(&dir.join(".helmignore")) {
        Ok(t) => Ignore::parse(&String::from_utf8_lossy(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::parse(""),
        Err(source) => {
            return Err(LoadError::Io {
                path: dir.join(".helmignore"),
                source,
            });
        }
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    walk(&disk, dir, "", &ignore, &mut files)?;
    Ok(files)
}

fn walk(
    disk: &keelson_kustomize::RealFs,
    dir: &Path,
    rel: &str,
    ignore: &Ignore,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), LoadError> {
    // The confined listing: sorted by name, refused if the directory really lies outside.
    let entries = disk.read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let is_dir = path.is_dir();
        if ignore.ignored(&r, is_dir) {
            continue;
        }
        if is_dir {
            walk(disk, &path, &r, ignore, out)?;
        } else {
            let data = disk.read(&path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            out.push((r, data));
        }
    }
    Ok(())
}

fn yaml_map(path: &str, data: &[u8], json_numbers: bool) -> Result<Map, LoadError> {
    let text = String::from_utf8_lossy(data);
    let v = crate::yaml::parse(&text).map_err(|source| LoadError::Yaml {
        path: path.to_string(),
        source,
    })?;
    let v = if json_numbers {
        crate::yaml::json_numbers(v)
    } else {
        v
    };
    match v {
        Value::Map(m) => Ok(m.borrow().clone()),
        Value::Nil => Ok(Map::new()),
        _ => Err(LoadError::Invalid {
            path: path.to_string(),
            message: "not a map".into(),
        }),
    }
}

fn parse_deps(v: Option<&Value>) -> Vec<Dependency> {
    let Some(Value::List(l)) = v else {
        return Vec::new();
    };
    l.iter()
        .filter_map(|d| {
            let m = d.as_map()?;
            let s = |k: &str| {
                m.get(k)
                    .filter(|v| !v.is_nil())
                    .map(crate::funcs::strval)
                    .unwrap_or_default()
            };
            Some(Dependency {
                name: s("name"),
                version: s("version"),
                repository: s("repository"),
                condition: s("condition"),
                tags: match m.get("tags") {
                    Some(Value::List(t)) => t.iter().map(crate::funcs::strval).collect(),
                    _ => Vec::new(),
                },
                enabled: false,
                import_values: match m.get("import-values") {
                    Some(Value::List(t)) => t.to_vec(),
                    _ => Vec::new(),
                },
                alias: s("alias"),
            })
        })
        .collect()
}

/// Builds a chart from its files (paths relative to the chart root).
pub fn load_files(origin: &str, files: Vec<(String, Vec<u8>)>) -> Result<Chart, LoadError> {
    let mut chart = Chart {
        metadata: Map::new(),
        dependencies: Vec::new(),
        values: Map::new(),
        schema: None,
        schema_raw: None,
        templates: Vec::new(),
        files: BTreeMap::new(),
        subcharts: Vec::new(),
        parent_path: String::new(),
    };
    let mut sub: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    let mut have_chart_yaml = false;
    let mut requirements: Option<Map> = None;
    for (name, data) in files {
        let p = format!("{origin}/{name}");
        match name.as_str() {
            "Chart.yaml" => {
                chart.metadata = yaml_map(&p, &data, false)?;
                have_chart_yaml = true;
            }
            "values.yaml" => chart.values = yaml_map(&p, &data, true)?,
            "values.schema.json" => {
                chart.schema = Some(
                    serde_json::from_slice(&data)
                        .map_err(|source| LoadError::Json { path: p, source })?,
                );
                chart.schema_raw = Some(Rc::from(data));
            }
            "requirements.yaml" => requirements = Some(yaml_map(&p, &data, false)?),
            "Chart.lock" | "requirements.lock" => {}
            n if n.starts_with("templates/") => chart
                .templates
                .push((name.clone(), String::from_utf8_lossy(&data).into_owned())),
            n if n.starts_with("charts/") => {
                let rest = &n["charts/".len()..];
                if rest.ends_with(".prov") {
                    chart.files.insert(name.clone(), Rc::from(data));
                    continue;
                }
                // Helm groups everything below charts/ by its first path element: a folder
                // chart, or a packaged one (`x.tgz`); names starting with `_` or `.` are skipped
                let (first, inner) = rest.split_once('/').unwrap_or((rest, ""));
                if first.starts_with('_') || first.starts_with('.') {
                    continue;
                }
                let entry = sub.entry(first.to_string()).or_default();
                if first.ends_with(".tgz") {
                    if inner.is_empty() {
                        entry.push((String::new(), data));
                    }
                } else if !inner.is_empty() {
                    entry.push((inner.to_string(), data));
                }
            }
            _ => {
                chart.files.insert(name.clone(), Rc::from(data));
            }
        }
    }
    if !have_chart_yaml {
        return Err(LoadError::Invalid {
            path: origin.to_string(),
            message: "Chart.yaml file is missing".into(),
        });
    }
    if chart.name().is_empty() {
        return Err(LoadError::Invalid {
            path: origin.to_string(),
            message: "chart.metadata.name is required".into(),
        });
    }
    if chart.version().is_empty() {
        return Err(LoadError::Invalid {
            path: origin.to_string(),
            message: "chart.metadata.version is required".into(),
        });
    }
    let api_v1 = chart
        .metadata
        .get("apiVersion")
        .and_then(|v| v.as_str().map(|s| s == "v1"))
        .unwrap_or(false);
    chart.dependencies = if api_v1 {
        parse_deps(requirements.as_ref().and_then(|r| r.get("dependencies")))
    } else {
        parse_deps(chart.metadata.get("dependencies"))
    };
    for (name, mut files) in sub {
        let sub_origin = format!("{origin}/charts/{name}");
        let sc = if name.ends_with(".tgz") {
            match files.pop() {
                Some((_, data)) => load_archive_named(&sub_origin, &data),
                None => Err(archive_err(&sub_origin, "not a file")),
            }
        } else {
            load_files(&sub_origin, files)
        };
        let sc = sc.map_err(|e| LoadError::Subchart {
            name: name.clone(),
            parent: chart.name(),
            source: Box::new(e),
        })?;
        chart.subcharts.push(sc);
    }
    Ok(chart)
}

/// Largest total size of the files of one packaged chart once unpacked (Helm's limit).
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// Loads a packaged chart (a gzip'd tar archive, as `helm package` writes and as chart
/// repositories and OCI registries serve) from its bytes.
///
/// As Helm does: the archive's top folder (the chart's name) is stripped, directories and
/// PAX headers are skipped, paths leaving the chart are refused, and `.helmignore` is not
/// applied (packaging applied it already).
pub fn load_archive(data: &[u8]) -> Result<Chart, LoadError> {
    load_archive_named("<archive>", data)
}

/// Loads a chart from a directory or a packaged `.tgz` file, whichever `path` is.
pub fn load_path(path: &Path) -> Result<Chart, LoadError> {
    if path.is_dir() {
        load_dir(path)
    } else {
        let data = read(path)?;
        load_archive_named(&path.display().to_string(), &data)
    }
}

fn load_archive_named(origin: &str, data: &[u8]) -> Result<Chart, LoadError> {
    let files = unpack(origin, data)?;
    load_files(origin, files)
}

fn archive_err(origin: &str, message: impl Into<String>) -> LoadError {
    LoadError::Archive {
        path: origin.to_string(),
        message: message.into(),
    }
}

/// Go's `path.Clean` for relative paths.
fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// The files of a packaged chart, paths relative to the chart root.
fn unpack(origin: &str, data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, LoadError> {
    use std::io::Read;
    if data.len() < 2 || data[0] != 0x1f || data[1] != 0x8b {
        return Err(archive_err(
            origin,
            "file does not appear to be a gzipped archive; got 'application/octet-stream'",
        ));
    }
    let gz = flate2::read::GzDecoder::new(data);
    let mut ar = tar::Archive::new(gz);
    let entries = ar
        .entries()
        .map_err(|e| archive_err(origin, e.to_string()))?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut remaining = MAX_DECOMPRESSED_CHART_SIZE;
    for entry in entries {
        let mut entry = entry.map_err(|e| archive_err(origin, e.to_string()))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        // archives made on Windows may use `\`
        let delim = if name.contains('\\') { '\\' } else { '/' };
        let parts: Vec<&str> = name.split(delim).collect();
        let joined = parts.get(1..).map(|p| p.join("/")).unwrap_or_default();
        if joined.starts_with('/') {
            return Err(archive_err(
                origin,
                "chart illegally contains absolute paths",
            ));
        }
        let rel = clean_path(&joined);
        if rel == "." {
            return Err(archive_err(
                origin,
                format!("chart illegally contains content outside the base directory: {name:?}"),
            ));
        }
        if rel.starts_with("..") {
            return Err(archive_err(
                origin,
                "chart illegally references parent directory",
            ));
        }
        if parts.first().is_some_and(|p| *p == "Chart.yaml") {
            return Err(archive_err(origin, "chart yaml not in base directory"));
        }
        let size = entry.header().size().unwrap_or(0);
        if size > remaining {
            return Err(archive_err(
                origin,
                format!(
                    "decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}"
                ),
            ));
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry)
            .take(remaining)
            .read_to_end(&mut buf)
            .map_err(|e| archive_err(origin, format!("{rel}: {e}")))?;
        remaining = remaining.saturating_sub(buf.len() as u64);
        if (buf.len() as u64) < size || remaining == 0 {
            return Err(archive_err(
                origin,
                format!(
                    "decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}"
                ),
            ));
        }
        if buf.starts_with(&[0xef, 0xbb, 0xbf]) {
            buf.drain(..3);
        }
        files.push((rel, buf));
    }
    if files.is_empty() {
        return Err(archive_err(origin, "no files in chart archive"));
    }
    Ok(files)
}
