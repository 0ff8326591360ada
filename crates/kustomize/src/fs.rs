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
}

/// The machine's filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
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
