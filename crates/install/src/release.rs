//! Release channels: immutable per-patch bootstrap files and a moving file per minor line.
//!
//! `release --version X.Y.Z --src src/X.Y` renders `src/X.Y` (a kustomization, or plain YAML
//! files as Flux reads a path without one), appends the drift guard — a GitRepository that
//! ignores everything but `/src/X.Y/` and a Kustomization of `./src/X.Y` with prune, wait and
//! force — and writes:
//!
//! * `release/X.Y/bootstrap-X.Y.Z.yaml`, once: a published file is never rewritten (releasing
//!   the same content again is a no-op, different content is refused);
//! * `release/X.Y/bootstrap-X.Y.x.yaml`, a copy of the newest non-prerelease patch of the same
//!   minor line. It lives beside its line's patches and only ever reads them, so it never
//!   crosses to another minor line: moving to `X.(Y+1)` takes an explicit apply of another file.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use semver::Version;

use crate::sync::{SyncOptions, sync_objects};

/// What to release.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// The version of this release.
    pub version: Version,
    /// The source directory, relative to the repository root (`src/1.0`); its last component
    /// must be the release's `major.minor`.
    pub src: PathBuf,
    /// The repository root (the directory `src` is relative to).
    pub root: PathBuf,
    /// The repository URL the drift guard follows.
    pub repo_url: String,
    /// The branch the drift guard follows.
    pub branch: String,
    /// Where release files go (`release/`); files land in `<out>/X.Y/`.
    pub out: PathBuf,
    /// The drift guard's name (GitRepository and Kustomization).
    pub name: String,
    /// The drift guard's namespace.
    pub namespace: String,
}

/// What a release wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The immutable file.
    pub immutable: PathBuf,
    /// Whether it was written now (false: it existed with the same content).
    pub created: bool,
    /// The moving file of the minor line.
    pub tracking: PathBuf,
    /// The version the moving file now holds.
    pub tracking_version: Version,
    /// Things worth telling the user (the bundle lacks keelson's CRDs, …).
    pub warnings: Vec<String>,
}

/// Why a release failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The source directory does not match the version's minor line.
    #[error(
        "the source {src} does not belong to the {line} line: its last component must be `{line}`"
    )]
    WrongLine {
        /// The source directory.
        src: String,
        /// The version's `major.minor`.
        line: String,
    },
    /// The source path is absolute or leaves the repository.
    #[error("the source {0} must be a relative path inside the repository (like src/1.0)")]
    BadSource(String),
    /// Rendering the source failed.
    #[error("failed to render {src}")]
    Render {
        /// The source directory.
        src: String,
        /// The cause.
        #[source]
        source: keelson_kustomize::Error,
    },
    /// The source renders to nothing.
    #[error("{0} renders no objects")]
    Empty(String),
    /// The immutable file exists with other content.
    #[error("{0} is already published with different content; release a new patch version instead")]
    Published(PathBuf),
    /// A file could not be read or written.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseError {
    let path = path.to_path_buf();
    move |source| ReleaseError::Io {
        action,
        path,
        source,
    }
}

/// The `major.minor` of a version.
pub fn line_of(version: &Version) -> String {
    format!("{}.{}", version.major, version.minor)
}

/// The immutable file name of a version.
pub fn immutable_name(version: &Version) -> String {
    format!("bootstrap-{version}.yaml")
}

/// The moving file name of a minor line.
pub fn tracking_name(line: &str) -> String {
    format!("bootstrap-{line}.x.yaml")
}

/// The source path in the repository's terms: `src/1.0` (forward slashes, no `./`).
fn repo_path(src: &Path) -> Result<String, ReleaseError> {
    let mut parts = Vec::new();
    for component in src.components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err(ReleaseError::BadSource(src.display().to_string())),
        }
    }
    if parts.is_empty() {
        return Err(ReleaseError::BadSource(src.display().to_string()));
    }
    Ok(parts.join("/"))
}

/// Renders the bootstrap file of a release (without writing anything).
pub fn render(options: &ReleaseOptions) -> Result<(String, Vec<String>), ReleaseError> {
    let line = line_of(&options.version);
    let src = repo_path(&options.src)?;
    if src.rsplit('/').next() != Some(line.as_str()) {
        return Err(ReleaseError::WrongLine { src, line });
    }
    let dir = options.root.join(&src);
    let fs =
        keelson_kustomize::RealFs::new(&options.root).map_err(|source| ReleaseError::Render {
            src: src.clone(),
            source: keelson_kustomize::Error::Io {
                path: options.root.clone(),
                source,
            },
        })?;
    let build = keelson_kustomize::Options {
        load_restrictor: keelson_kustomize::LoadRestrictor::None,
    };
    let mut objects = keelson_kustomize::build_flux(&fs, &dir, &build).map_err(|source| {
        ReleaseError::Render {
            src: src.clone(),
            source,
        }
    })?;
    if objects.is_empty() {
        return Err(ReleaseError::Empty(src));
    }
    let mut warnings = Vec::new();
    let has_crds = objects.iter().any(|o| {
        o["kind"] == "CustomResourceDefinition"
            && o["metadata"]["name"] == "kustomizations.kustomize.toolkit.fluxcd.io"
    });
    if !has_crds {
        warnings.push(format!(
            "{src} does not install the Kustomization CRD, so the drift guard cannot be applied by \
             this file alone (add `keelson install --export > {src}/keelson.yaml`)"
        ));
    }
    let mut guard = SyncOptions::new(
        options.name.clone(),
        options.namespace.clone(),
        options.repo_url.clone(),
        options.branch.clone(),
        format!("./{src}"),
    );
    guard.ignore = Some(format!("/*\n!/{src}/\n"));
    guard.source_interval = "5m0s".into();
    guard.wait = true;
    guard.force = true;
    objects.extend(sync_objects(&guard));
    let header = format!(
        "# keelson release {} of {} ({src}); apply with:\n#   kubectl apply --server-side --force-conflicts -f {}\n",
        options.version,
        options.repo_url,
        immutable_name(&options.version)
    );
    Ok((
        format!("{header}{}", keelson_manifest::to_yaml_stream(&objects)),
        warnings,
    ))
}

/// Writes the release files; see the module documentation.
pub fn release(options: &ReleaseOptions) -> Result<Released, ReleaseError> {
    let (text, warnings) = render(options)?;
    let line = line_of(&options.version);
    let dir = options.out.join(&line);
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let immutable = dir.join(immutable_name(&options.version));
    let created = match std::fs::read_to_string(&immutable) {
        Ok(existing) if existing == text => false,
        Ok(_) => return Err(ReleaseError::Published(immutable)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_new(&dir, &immutable, &text)?;
            true
        }
        Err(e) => return Err(io("read", &immutable)(e)),
    };
    let newest = newest_patch(&dir, &options.version)?;
    let tracking = dir.join(tracking_name(&line));
    let source = dir.join(immutable_name(&newest));
    let content = std::fs::read_to_string(&source).map_err(io("read", &source))?;
    let tracked = format!("# tracks the {line} line; currently {newest}\n{content}");
    write_replace(&dir, &tracking, &tracked)?;
    Ok(Released {
        immutable,
        created,
        tracking,
        tracking_version: newest,
        warnings,
    })
}

/// The newest non-prerelease version published in `dir` (a minor line's directory), or
/// `released` if it is a prerelease and nothing else exists.
fn newest_patch(dir: &Path, released: &Version) -> Result<Version, ReleaseError> {
    let mut newest: Option<Version> = None;
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(version) = name
            .strip_prefix("bootstrap-")
            .and_then(|n| n.strip_suffix(".yaml"))
            .and_then(|v| Version::parse(v).ok())
        else {
            continue;
        };
        // Only this line's stable patches count.
        if version.major != released.major
            || version.minor != released.minor
            || !version.pre.is_empty()
        {
            continue;
        }
        if newest.as_ref().is_none_or(|n| version > *n) {
            newest = Some(version);
        }
    }
    Ok(newest.unwrap_or_else(|| released.clone()))
}

fn temp_in(dir: &Path, text: &str) -> Result<tempfile::NamedTempFile, ReleaseError> {
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("create a file in", dir))?;
    file.write_all(text.as_bytes())
        .map_err(io("write", file.path()))?;
    Ok(file)
}

/// Writes `path` atomically, failing if it exists.
fn write_new(dir: &Path, path: &Path, text: &str) -> Result<(), ReleaseError> {
    temp_in(dir, text)?
        .persist_noclobber(path)
        .map_err(|e| io("write", path)(e.error))?;
    Ok(())
}

/// Writes `path` atomically, replacing it.
fn write_replace(dir: &Path, path: &Path, text: &str) -> Result<(), ReleaseError> {
    temp_in(dir, text)?
        .persist(path)
        .map_err(|e| io("write", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for line in ["1.0", "1.1"] {
            let src = dir.path().join("src").join(line);
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(
                src.join("marker.yaml"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marker\n  namespace: flux-system\ndata:\n  line: \"{line}\"\n"),
            )
            .unwrap();
        }
        dir
    }

    fn options(root: &Path, version: &str, line: &str) -> ReleaseOptions {
        ReleaseOptions {
            version: Version::parse(version).unwrap(),
            src: PathBuf::from(format!("src/{line}")),
            root: root.to_path_buf(),
            repo_url: "https://example.com/boot".into(),
            branch: "main".into(),
            out: root.join("release"),
            name: "bootstrap".into(),
            namespace: "flux-system".into(),
        }
    }

    fn set_marker(root: &Path, line: &str, value: &str) {
        std::fs::write(
            root.join("src").join(line).join("marker.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marker\n  namespace: flux-system\ndata:\n  line: \"{line}\"\n  patch: \"{value}\"\n"),
        )
        .unwrap();
    }

    #[test]
    fn patches_are_immutable_and_the_tracking_file_follows_the_newest() {
        let repo = repo();
        let root = repo.path();
        let first = release(&options(root, "1.0.0", "1.0")).unwrap();
        assert!(first.created);
        assert!(first.warnings.iter().any(|w| w.contains("CRD")));
        let text = std::fs::read_to_string(&first.immutable).unwrap();
        assert!(text.contains("!/src/1.0/"), "{text}");
        assert!(text.contains("path: ./src/1.0"), "{text}");
        // Same content again: a no-op.
        assert!(!release(&options(root, "1.0.0", "1.0")).unwrap().created);
        // Changed content under a published version: refused, file untouched.
        set_marker(root, "1.0", "1");
        let err = release(&options(root, "1.0.0", "1.0")).unwrap_err();
        assert!(matches!(err, ReleaseError::Published(_)), "{err}");
        assert_eq!(std::fs::read_to_string(&first.immutable).unwrap(), text);
        // A new patch moves the tracking file.
        let second = release(&options(root, "1.0.1", "1.0")).unwrap();
        assert_eq!(second.tracking_version, Version::new(1, 0, 1));
        let tracking = std::fs::read_to_string(&second.tracking).unwrap();
        assert!(tracking.contains("patch: \"1\""), "{tracking}");
        // An older patch released late does not move it back.
        set_marker(root, "1.0", "0b");
        let late = release(&options(root, "1.0.0-rc.1", "1.0")).unwrap();
        assert_eq!(late.tracking_version, Version::new(1, 0, 1));
        // A new minor line has its own files; 1.0.x stays on 1.0.
        let minor = release(&options(root, "1.1.0", "1.1")).unwrap();
        assert!(minor.tracking.ends_with("release/1.1/bootstrap-1.1.x.yaml"));
        assert_eq!(std::fs::read_to_string(&second.tracking).unwrap(), tracking);
    }

    #[test]
    fn a_source_of_another_line_is_refused() {
        let repo = repo();
        let err = release(&options(repo.path(), "1.1.0", "1.0")).unwrap_err();
        assert!(matches!(err, ReleaseError::WrongLine { .. }), "{err}");
        let mut bad = options(repo.path(), "1.0.0", "1.0");
        bad.src = PathBuf::from("../src/1.0");
        assert!(matches!(release(&bad), Err(ReleaseError::BadSource(_))));
    }
}
