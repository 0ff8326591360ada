//! Deterministic tar.gz archives of a checked-out tree, and unpacking them.
//!
//! Like Flux's `Storage.Archive`: directories and regular files only (symlinks and other types
//! are skipped), names relative to the root, entries in depth-first name order, owner 0:0 with
//! empty user/group names, modification time 0, and modes normalised to 0750 for directories,
//! 0700 for executable files and 0600 for other files. The same tree therefore always gives the
//! same bytes, and so the same digest. The gzip header carries no name and no time.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::filter::Filter;

/// Mode of directories in an archive (Flux `defaultDirMode`).
pub const DIR_MODE: u32 = 0o750;
/// Mode of non-executable files in an archive (Flux `defaultFileMode`).
pub const FILE_MODE: u32 = 0o600;
/// Mode of executable files in an archive (Flux `defaultExeFileMode`).
pub const EXE_MODE: u32 = 0o700;

/// Why building or unpacking an archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading the tree or writing the archive failed.
    #[error("failed to archive {}: {source}", path.display())]
    Write {
        /// The file or directory involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Unpacking failed.
    #[error("failed to unpack into {}: {source}", path.display())]
    Unpack {
        /// The destination directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An entry in the archive is unsafe (absolute path, `..`, link).
    #[error("refusing unsafe archive entry {entry:?}")]
    UnsafeEntry {
        /// The entry's name.
        entry: String,
    },
}

/// What [`write_archive`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// `sha256:<64 hex>` of the compressed bytes.
    pub digest: String,
    /// Size of the compressed archive in bytes.
    pub size: u64,
    /// Paths of the files written (relative, `/`-separated), in archive order.
    pub files: Vec<String>,
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the tree at `root`, less what `filter` excludes, as a deterministic tar.gz to `out`.
pub fn write_archive<W: Write>(
    root: &Path,
    filter: &Filter,
    out: W,
) -> Result<ArchiveInfo, ArchiveError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source: io::Error| ArchiveError::Write { path, source }
    };
    let hashing = Hashing {
        inner: out,
        hasher: Sha256::new(),
        size: 0,
    };
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(hashing, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut files = Vec::new();
    add_dir(root, Path::new(""), filter, &mut tar, &mut files)?;
    let gz = tar.into_inner().map_err(werr(root))?;
    let mut hashing = gz.finish().map_err(werr(root))?;
    hashing.flush().map_err(werr(root))?;
    Ok(ArchiveInfo {
        digest: format!("sha256:{}", hex(&hashing.hasher.finalize())),
        size: hashing.size,
        files,
    })
}

fn add_dir<W: Write>(
    root: &Path,
    rel: &Path,
    filter: &Filter,
    tar: &mut tar::Builder<W>,
    files: &mut Vec<String>,
) -> Result<(), ArchiveError> {
    let dir = root.join(rel);
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source: io::Error| ArchiveError::Write { path, source }
    };
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&dir)
        .map_err(werr(&dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(werr(&dir))?;
    // Byte order of names, as Go's filepath.Walk.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let rel_path = rel.join(&name);
        let path = root.join(&rel_path);
        let meta = std::fs::symlink_metadata(&path).map_err(werr(&path))?;
        let ft = meta.file_type();
        if !(ft.is_dir() || ft.is_file()) {
            continue; // symlinks, sockets, devices
        }
        if filter.is_excluded(&rel_path, ft.is_dir()) {
            // As Flux: an excluded directory gets no entry, but a later `!` pattern may still
            // re-include files below it, so the walk goes on unless nothing can re-include
            // (`.git` is never part of the tree).
            if ft.is_dir() && filter.may_reinclude() && name != ".git" {
                add_dir(root, &rel_path, filter, tar, files)?;
            }
            continue;
        }
        let name_in_tar = rel_path.to_string_lossy().replace('\\', "/");
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(DIR_MODE);
            header.set_size(0);
            tar.append_data(&mut header, format!("{name_in_tar}/"), io::empty())
                .map_err(werr(&path))?;
            add_dir(root, &rel_path, filter, tar, files)?;
        } else {
            use std::os::unix::fs::PermissionsExt;
            let exec = meta.permissions().mode() & 0o111 != 0;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if exec { EXE_MODE } else { FILE_MODE });
            header.set_size(meta.len());
            let file = std::fs::File::open(&path).map_err(werr(&path))?;
            tar.append_data(&mut header, &name_in_tar, file.take(meta.len()))
                .map_err(werr(&path))?;
            files.push(name_in_tar);
        }
    }
    Ok(())
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The `sha256:<hex>` digest of a file.
pub fn file_digest(path: &Path) -> Result<String, ArchiveError> {
    let mut file = std::fs::File::open(path).map_err(|source| ArchiveError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|source| ArchiveError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(format!("sha256:{}", hex(&hasher.finalize())))
}

/// Unpacks a tar.gz (an artifact) into `dest`, created if missing. Only directories and regular
/// files are accepted; absolute names, `..` components and links are refused.
pub fn unpack<R: Read>(archive: R, dest: &Path) -> Result<(), ArchiveError> {
    let uerr = |source: io::Error| ArchiveError::Unpack {
        path: dest.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dest).map_err(uerr)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().map_err(uerr)? {
        let mut entry = entry.map_err(uerr)?;
        let name = entry.path().map_err(uerr)?.into_owned();
        let shown = name.to_string_lossy().into_owned();
        let safe = name.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if !safe {
            return Err(ArchiveError::UnsafeEntry { entry: shown });
        }
        let target = dest.join(&name);
        match entry.header().entry_type() {
            tar::EntryType::Directory => std::fs::create_dir_all(&target).map_err(uerr)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(uerr)?;
                }
                let mut file = std::fs::File::create(&target).map_err(uerr)?;
                io::copy(&mut entry, &mut file).map_err(uerr)?;
                let mode = entry.header().mode().map_err(uerr)?;
                use std::os::unix::fs::PermissionsExt;
                // Keep the owner bits the archive gives (0600/0700), readable by the owner.
                std::fs::set_permissions(
                    &target,
                    std::fs::Permissions::from_mode((mode & 0o777) | 0o600),
                )
                .map_err(uerr)?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => return Err(ArchiveError::UnsafeEntry { entry: shown }),
        }
    }
    Ok(())
}
