//! The filesystem a render reads through: the repository on disk, with in-memory replacements
//! for the kustomization files Flux would rewrite (its generator writes targetNamespace,
//! patches, images… into the path's kustomization file), recording every file read so findings
//! can point back at the file an object came from.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use keelson_kustomize::FileSystem;

/// The disk plus in-memory files, recording reads.
#[derive(Debug, Default)]
pub struct OverlayFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
    read: Mutex<BTreeSet<PathBuf>>,
}

impl OverlayFs {
    /// An overlay with no replacements.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces (or adds) the file at `path` with `content`.
    pub fn insert(&mut self, path: PathBuf, content: Vec<u8>) {
        self.files.insert(path, content);
    }

    /// The files read so far (in-memory ones included).
    pub fn files_read(&self) -> BTreeSet<PathBuf> {
        self.read.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// A directory that exists only in memory (it holds in-memory files).
    fn virtual_dir(&self, path: &Path) -> bool {
        self.files.keys().any(|p| p.parent() == Some(path))
    }

    fn record(&self, path: &Path) {
        if let Ok(mut read) = self.read.lock() {
            read.insert(path.to_path_buf());
        }
    }
}

impl FileSystem for OverlayFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.record(path);
        match self.files.get(path) {
            Some(content) => Ok(content.clone()),
            None => std::fs::read(path),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        !self.files.contains_key(path) && (path.is_dir() || self.virtual_dir(path))
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path) || path.exists() || self.virtual_dir(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries: BTreeSet<PathBuf> = match std::fs::read_dir(path) {
            Ok(dir) => dir
                .map(|e| e.map(|e| e.path()))
                .collect::<io::Result<_>>()?,
            Err(_) if self.virtual_dir(path) => BTreeSet::new(),
            Err(e) => return Err(e),
        };
        entries.extend(
            self.files
                .keys()
                .filter(|p| p.parent() == Some(path))
                .cloned(),
        );
        Ok(entries.into_iter().collect())
    }
}
