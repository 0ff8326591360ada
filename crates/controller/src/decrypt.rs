//! SOPS decryption during the build, as Flux's kustomize-controller does it: files are
//! decrypted as the kustomize engine reads them, before any transformer touches them (a
//! namespace or label added first would break the MAC).

use std::io;
use std::path::{Path, PathBuf};

use keelson_kustomize::{FileSystem, RealFs};
use keelson_sops::Identities;

/// A filesystem that decrypts sops-encrypted files (YAML, JSON, dotenv, INI) on read; the disk
/// below it is confined to the artifact's root.
pub struct DecryptingFs {
    disk: RealFs,
    identities: Identities,
}

impl DecryptingFs {
    /// Decrypts what `disk` reads with `identities` (age keys from the decryption Secret).
    pub fn new(disk: RealFs, identities: Identities) -> Self {
        Self { disk, identities }
    }
}

impl FileSystem for DecryptingFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let bytes = self.disk.read(path)?;
        // Cheap pre-check: every sops file carries its metadata under a `sops` key with a MAC.
        if !contains(&bytes, b"sops") || !contains(&bytes, b"mac") {
            return Ok(bytes);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match keelson_sops::kube::decrypt_source(&name, &bytes, &self.identities) {
            Ok(Some(plain)) => Ok(plain),
            Ok(None) => Ok(bytes),
            // The sops crate never puts decrypted values into its errors.
            Err(err) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("failed to decrypt with sops: {err}"),
            )),
        }
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.disk.is_dir(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.disk.exists(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        self.disk.read_dir(path)
    }
    fn real_path(&self, path: &Path) -> PathBuf {
        self.disk.real_path(path)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
