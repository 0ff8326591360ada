//! The artifact store: tarballs on disk in Flux's layout, their URLs, and garbage collection.
//!
//! Layout: `<root>/<kind>/<namespace>/<name>/<file>`, for example
//! `gitrepository/flux-system/podinfo/<commit>.tar.gz`; the artifact's URL is
//! `http://<hostname>/<path>` (or `<hostname>/<path>` when the hostname carries a scheme), served
//! by [`crate::server`]. Archives are written to a temporary file beside the target and renamed
//! into place, so a reader never sees a partial file.
//!
//! Garbage collection follows Flux: files other than the current artifact older than the TTL
//! are removed, then the oldest are removed until at most `retention_records` files (the current
//! one included) are left.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::archive::{ArchiveError, write_archive};
use crate::filter::Filter;

/// Flux's default `--artifact-retention-records`.
pub const DEFAULT_RETENTION_RECORDS: usize = 2;
/// Flux's default `--artifact-retention-ttl`.
pub const DEFAULT_RETENTION_TTL: Duration = Duration::from_secs(60);

/// A stored artifact, with the fields of Flux's `status.artifact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the storage root, `/`-separated.
    pub path: String,
    /// URL the artifact is served at.
    pub url: String,
    /// Source revision, for example `main@sha1:<hex>`.
    pub revision: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// When the file was written.
    pub last_update_time: SystemTime,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A filesystem operation failed.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Building the archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A path component is empty or would escape the storage root.
    #[error("invalid artifact path component {0:?}")]
    InvalidComponent(String),
    /// The file's digest differs from the artifact's.
    #[error("artifact {path} is corrupt: digest {actual} differs from {expected}")]
    DigestMismatch {
        /// The artifact path.
        path: String,
        /// The digest recorded.
        expected: String,
        /// The digest of the file.
        actual: String,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io {
        action,
        path,
        source,
    }
}

/// The artifact store.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    hostname: String,
    retention_records: usize,
    retention_ttl: Duration,
}

impl Storage {
    /// A store rooted at `root` (created if missing) whose artifacts are advertised under
    /// `hostname` (for example `source-controller.flux-system.svc.cluster.local.` or
    /// `127.0.0.1:9090`), with Flux's default retention.
    pub fn new(
        root: impl Into<PathBuf>,
        hostname: impl Into<String>,
    ) -> Result<Self, StorageError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io_err("create", &root))?;
        Ok(Self {
            root,
            hostname: hostname.into(),
            retention_records: DEFAULT_RETENTION_RECORDS,
            retention_ttl: DEFAULT_RETENTION_TTL,
        })
    }

    /// Sets how many artifacts per object are kept (at least 1) and for how long old ones live.
    pub fn with_retention(mut self, records: usize, ttl: Duration) -> Self {
        self.retention_records = records.max(1);
        self.retention_ttl = ttl;
        self
    }

    /// The storage root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The relative path of an artifact: `<kind lower-case>/<namespace>/<name>/<file>`.
    pub fn artifact_path(
        kind: &str,
        namespace: &str,
        name: &str,
        file: &str,
    ) -> Result<String, StorageError> {
        for part in [kind, namespace, name, file] {
            if part.is_empty() || part == "." || part == ".." || part.contains(['/', '\\', '\0']) {
                return Err(StorageError::InvalidComponent(part.to_string()));
            }
        }
        Ok(format!(
            "{}/{namespace}/{name}/{file}",
            kind.to_ascii_lowercase()
        ))
    }

    /// The file on disk for a relative artifact path.
    pub fn local_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// The URL an artifact path is served at.
    pub fn url_for(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        if self.hostname.starts_with("http://") || self.hostname.starts_with("https://") {
            format!("{}/{path}", self.hostname.trim_end_matches('/'))
        } else {
            format!("http://{}/{path}", self.hostname)
        }
    }

    /// Archives the tree at `dir` (less what `filter` excludes) as the artifact `path` with
    /// `revision`, atomically replacing any file of the same name.
    pub fn archive(
        &self,
        path: &str,
        revision: &str,
        dir: &Path,
        filter: &Filter,
    ) -> Result<Artifact, StorageError> {
        let target = self.local_path(path);
        let parent = target
            .parent()
            .ok_or_else(|| StorageError::InvalidComponent(path.to_string()))?;
        std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(parent)
            .map_err(io_err("create a temporary file in", parent))?;
        let info = write_archive(dir, filter, std::io::BufWriter::new(tmp.as_file()))?;
        tmp.as_file()
            .sync_all()
            .map_err(io_err("sync", tmp.path()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
                .map_err(io_err("chmod", tmp.path()))?;
        }
        tmp.persist(&target).map_err(|e| StorageError::Io {
            action: "rename into",
            path: target.clone(),
            source: e.error,
        })?;
        let last_update_time = std::fs::metadata(&target)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        Ok(Artifact {
            path: path.to_string(),
            url: self.url_for(path),
            revision: revision.to_string(),
            digest: info.digest,
            size: info.size,
            last_update_time,
        })
    }

    /// Stores `bytes` as the artifact `path` with `revision`, atomically replacing any file of
    /// the same name (index files, chart archives).
    pub fn store_bytes(
        &self,
        path: &str,
        revision: &str,
        bytes: &[u8],
    ) -> Result<Artifact, StorageError> {
        use sha2::Digest as _;
        use std::io::Write as _;
        let target = self.local_path(path);
        let parent = target
            .parent()
            .ok_or_else(|| StorageError::InvalidComponent(path.to_string()))?;
        std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(parent)
            .map_err(io_err("create a temporary file in", parent))?;
        tmp.write_all(bytes).map_err(io_err("write", tmp.path()))?;
        tmp.as_file()
            .sync_all()
            .map_err(io_err("sync", tmp.path()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
                .map_err(io_err("chmod", tmp.path()))?;
        }
        tmp.persist(&target).map_err(|e| StorageError::Io {
            action: "rename into",
            path: target.clone(),
            source: e.error,
        })?;
        let last_update_time = std::fs::metadata(&target)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        Ok(Artifact {
            path: path.to_string(),
            url: self.url_for(path),
            revision: revision.to_string(),
            digest: format!(
                "sha256:{}",
                crate::archive::hex(&sha2::Sha256::digest(bytes))
            ),
            size: bytes.len() as u64,
            last_update_time,
        })
    }

    /// Points the stable name `link` (a file name beside the artifact, e.g. `index.yaml`) at
    /// `artifact`, as Flux's `Storage.Symlink`; returns the link's URL.
    pub fn symlink(&self, artifact: &Artifact, link: &str) -> Result<String, StorageError> {
        let target = self.local_path(&artifact.path);
        let (Some(dir), Some(file)) = (target.parent(), target.file_name()) else {
            return Err(StorageError::InvalidComponent(artifact.path.clone()));
        };
        if link.is_empty() || link.contains(['/', '\\', '\0']) || link == "." || link == ".." {
            return Err(StorageError::InvalidComponent(link.to_string()));
        }
        let path = dir.join(link);
        let tmp = dir.join(format!(".tmp-link-{link}"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(file, &tmp).map_err(io_err("link", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err("rename into", &path))?;
        let rel = match artifact.path.rsplit_once('/') {
            Some((d, _)) => format!("{d}/{link}"),
            None => link.to_string(),
        };
        Ok(self.url_for(&rel))
    }

    /// Whether the artifact's file exists as a regular file.
    pub fn exists(&self, artifact: &Artifact) -> bool {
        std::fs::symlink_metadata(self.local_path(&artifact.path))
            .map(|m| m.is_file())
            .unwrap_or(false)
    }

    /// Checks the file's digest against the artifact's.
    pub fn verify(&self, artifact: &Artifact) -> Result<(), StorageError> {
        let actual = crate::archive::file_digest(&self.local_path(&artifact.path))?;
        if actual != artifact.digest {
            return Err(StorageError::DigestMismatch {
                path: artifact.path.clone(),
                expected: artifact.digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Removes older artifacts in the directory of `current` (see the module docs); returns the
    /// removed files.
    pub fn garbage_collect(&self, current: &Artifact) -> Result<Vec<PathBuf>, StorageError> {
        let current_path = self.local_path(&current.path);
        let Some(dir) = current_path.parent() else {
            return Ok(Vec::new());
        };
        let now = SystemTime::now();
        let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err("list", dir))? {
            let entry = entry.map_err(io_err("list", dir))?;
            let meta =
                std::fs::symlink_metadata(entry.path()).map_err(io_err("stat", &entry.path()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !meta.is_file() || name.starts_with(".tmp-") || name.ends_with(".lock") {
                continue;
            }
            let modified = meta.modified().unwrap_or(now);
            files.push((modified, entry.path()));
        }
        files.sort();
        let total = files.len();
        let mut removed = Vec::new();
        for (modified, path) in &files {
            if *path == current_path {
                continue;
            }
            let expired = now.duration_since(*modified).unwrap_or_default() > self.retention_ttl;
            let too_many = total - removed.len() > self.retention_records;
            if expired || too_many {
                std::fs::remove_file(path).map_err(io_err("remove", path))?;
                removed.push(path.clone());
            }
        }
        Ok(removed)
    }

    /// Removes every artifact of one object (when it is deleted); returns the removed directory
    /// if it existed.
    pub fn remove_all(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PathBuf>, StorageError> {
        let path = Self::artifact_path(kind, namespace, name, "x")?;
        let file = self.local_path(&path);
        let Some(dir) = file.parent().map(Path::to_path_buf) else {
            return Ok(None);
        };
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(Some(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("remove", &dir)(e)),
        }
    }
}
