//! The filesystem a render reads through: the repository on disk, with in-memory replacements
//! for the kustomization files Flux would rewrite (its generator writes targetNamespace,
//! patches, images… into the path's kustomization file), recording every file read so findings
//! can point back at the file an object came from. The disk below it is confined to the
//! repository's root: a symlink to a file outside it (a CI runner's credentials) is refused as
//! kustomize refuses it, never read.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use keelson_kustomize::{FileSystem, RealFs};

/// The disk plus in-memory files, recording reads.
#[derive(Debug)]
pub struct OverlayFs {
    disk: RealFs,
    files: BTreeMap<PathBuf, Vec<u8>>,
    read: Mutex<BTreeSet<PathBuf>>,
}

impl OverlayFs {
    /// An overlay with no replacements over `disk`.
    pub fn new(disk: RealFs) -> Self {
        OverlayFs {
            disk,
            files: BTreeMap::new(),
            read: Mutex::new(BTreeSet::new()),
        }
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
            None => self.disk.read(path),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        !self.files.contains_key(path) && (path.is_dir() || self.virtual_dir(path))
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path) || path.exists() || self.virtual_dir(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries: BTreeSet<PathBuf> = match self.disk.read_dir(path) {
            Ok(entries) => entries.into_iter().collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.virtual_dir(path) => {
                BTreeSet::new()
            }
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

    fn real_path(&self, path: &Path) -> PathBuf {
        if self.files.contains_key(path) {
            return path.to_path_buf();
        }
        self.disk.real_path(path)
    }
}
