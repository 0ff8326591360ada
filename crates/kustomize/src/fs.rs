//! The filesystem the engine reads through, so callers can build from disk, from an unpacked
//! artifact or from memory.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Read access to files and directories.
pub trait FileSystem: Send + Sync {
    /// The bytes of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// The entries of a directory, sorted by name.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// Where `path` really is: symlinks resolved where the filesystem has them, otherwise the
    /// path made lexically clean. The load restrictor compares these, as kustomize compares
    /// symlink-free paths, so a symlink cannot smuggle a file in from outside a root.
    fn real_path(&self, path: &Path) -> PathBuf {
        clean(path)
    }
}

/// The machine's filesystem, confined to a root: every file and directory read must really lie
/// in or below the root once symlinks are resolved. A repository is untrusted input (the gate and
/// `keelson build` run on pull requests in CI): without this, a symlink committed as
/// `config.env -> /etc/ssl/private/key.pem` and listed by a `configMapGenerator` would put the
/// host's file into the output. kustomize refuses the same thing under its root-only load
/// restrictor; the confinement holds even with the restrictor off (Flux's setting), where the root
/// is the whole checkout or artifact.
#[derive(Debug, Clone)]
pub struct RealFs {
    root: PathBuf,
}

impl RealFs {
    /// A filesystem confined to `root` (which must exist; symlinks in it are resolved).
    ///
    /// # Errors
    /// If `root` cannot be resolved (it does not exist or cannot be read).
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref();
        let root = std::fs::canonicalize(root)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", root.display())))?;
        Ok(RealFs { root })
    }

    /// The root, symlinks resolved.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `path` and checks it lies in or below the root.
    ///
    /// # Errors
    /// `NotFound` if it does not exist; `PermissionDenied` ("security; file … is not in or below
    /// …", kustomize's words) if its real location is outside the root.
    pub fn confine(&self, path: &Path) -> io::Result<PathBuf> {
        let real = std::fs::canonicalize(path)?;
        if real.starts_with(&self.root) {
            Ok(real)
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "security; file '{}' is not in or below '{}'{}",
                    path.display(),
                    self.root.display(),
                    if clean(path) == real {
                        String::new()
                    } else {
                        format!(" (it resolves to '{}')", real.display())
                    }
                ),
            ))
        }
    }
}

impl FileSystem for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(self.confine(path)?)
    }
    fn is_dir(&self, path: &Path) -> bool {
        // The truth, even outside the root: reading it is what is refused, with the reason.
        path.is_dir()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let real = self.confine(path)?;
        // Entries keep the caller's spelling of the directory, so errors name familiar paths.
        let mut entries = std::fs::read_dir(real)?
            .map(|e| e.map(|e| path.join(e.file_name())))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
    }
    fn real_path(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| clean(path))
    }
}

/// Joins `rel` to `base` and removes `.` and `..` components lexically.
pub fn join_clean(base: &Path, rel: &str) -> PathBuf {
    clean(&base.join(rel))
}

/// Removes `.` and `..` components lexically.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Files held in memory: a kustomization assembled by a program (a Helm post-renderer, a
/// generated overlay) builds without touching the disk. Directories are implied by the files
/// below them.
#[derive(Debug, Clone, Default)]
pub struct MemoryFs {
    files: std::collections::BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    /// An empty filesystem.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the file at `path` (made lexically clean).
    pub fn insert(&mut self, path: impl AsRef<Path>, content: impl Into<Vec<u8>>) {
        self.files.insert(clean(path.as_ref()), content.into());
    }
}

impl FileSystem for MemoryFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(&clean(path)).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            )
        })
    }
    fn is_dir(&self, path: &Path) -> bool {
        let path = clean(path);
        self.files
            .keys()
            .any(|p| p != &path && p.starts_with(&path))
    }
    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(&clean(path)) || self.is_dir(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let path = clean(path);
        let entries: std::collections::BTreeSet<PathBuf> = self
            .files
            .keys()
            .filter_map(|p| {
                let rest = p.strip_prefix(&path).ok()?;
                let first = rest.components().next()?;
                Some(path.join(first.as_os_str()))
            })
            .collect();
        if entries.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such directory", path.display()),
            ));
        }
        Ok(entries.into_iter().collect())
    }
}
