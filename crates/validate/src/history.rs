//! The repository's git history, read with gitoxide: every blob ever committed (for
//! `--history` secret scanning) and the files that differ from a revision (for
//! `--changed-since`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::Error;

fn git_error(root: &Path, e: impl std::fmt::Display) -> Error {
    Error::Git {
        path: root.to_path_buf(),
        message: e.to_string(),
    }
}

/// Every blob of every commit reachable from HEAD, each once (the first path it was seen
/// at): calls `visit(path, commit, content)`, newest commits first.
///
/// # Errors
/// [`Error::Git`] if `root` is not in a git repository or an object cannot be read.
pub fn for_each_blob(
    root: &Path,
    mut visit: impl FnMut(&Path, &str, &[u8]),
) -> Result<usize, Error> {
    let repo = gix::discover(root).map_err(|e| git_error(root, e))?;
    let prefix = repo_prefix(&repo, root);
    let head = repo.head_commit().map_err(|e| git_error(root, e))?;
    let walk = repo
        .rev_walk([head.id])
        .all()
        .map_err(|e| git_error(root, e))?;
    let mut seen: HashSet<gix::ObjectId> = HashSet::new();
    let mut commits = 0;
    for info in walk {
        let info = info.map_err(|e| git_error(root, e))?;
        commits += 1;
        let commit = info.object().map_err(|e| git_error(root, e))?;
        let short = info.id.to_hex_with_len(8).to_string();
        for (path, oid) in tree_blobs(&commit).map_err(|e| git_error(root, e))? {
            let Some(rel) = path.strip_prefix(&prefix).ok().map(Path::to_path_buf) else {
                continue;
            };
            if !seen.insert(oid) {
                continue;
            }
            let object = repo.find_object(oid).map_err(|e| git_error(root, e))?;
            visit(&rel, &short, &object.data);
        }
    }
    Ok(commits)
}

/// The files under `root` (relative to it) whose content differs from revision `rev` (a full
/// commit id, a branch, a tag or `HEAD`), new files included.
///
/// # Errors
/// [`Error::Git`] if the revision cannot be resolved.
pub fn changed_since(
    root: &Path,
    rev: &str,
    files: &[PathBuf],
) -> Result<BTreeSet<PathBuf>, Error> {
    let repo = gix::discover(root).map_err(|e| git_error(root, e))?;
    let prefix = repo_prefix(&repo, root);
    let commit = match gix::ObjectId::from_hex(rev.as_bytes()) {
        Ok(id) => repo
            .find_object(id)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| git_error(root, e))?,
        Err(_) => repo
            .find_reference(rev)
            .map_err(|e| git_error(root, format!("unknown revision {rev}: {e}")))?
            .peel_to_commit()
            .map_err(|e| git_error(root, e))?,
    };
    let old: HashMap<PathBuf, gix::ObjectId> = tree_blobs(&commit)
        .map_err(|e| git_error(root, e))?
        .into_iter()
        .filter_map(|(p, oid)| p.strip_prefix(&prefix).ok().map(|r| (r.to_path_buf(), oid)))
        .collect();
    let mut changed = BTreeSet::new();
    for rel in files {
        let Ok(data) = std::fs::read(root.join(rel)) else {
            continue;
        };
        let now = gix::objs::compute_hash(repo.object_hash(), gix::objs::Kind::Blob, &data)
            .map_err(|e| git_error(root, e))?;
        if old.get(rel) != Some(&now) {
            changed.insert(rel.clone());
        }
    }
    Ok(changed)
}

/// Where `root` lies inside the repository's work tree (empty at the top).
fn repo_prefix(repo: &gix::Repository, root: &Path) -> PathBuf {
    let top = repo
        .workdir()
        .and_then(|w| std::fs::canonicalize(w).ok())
        .unwrap_or_default();
    std::fs::canonicalize(root)
        .ok()
        .and_then(|r| r.strip_prefix(&top).ok().map(Path::to_path_buf))
        .unwrap_or_default()
}

fn tree_blobs(
    commit: &gix::Commit<'_>,
) -> Result<Vec<(PathBuf, gix::ObjectId)>, Box<dyn std::error::Error + Send + Sync>> {
    let tree = commit.tree()?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse().breadthfirst(&mut recorder)?;
    Ok(recorder
        .records
        .into_iter()
        .filter(|e| e.mode.is_blob())
        .map(|e| (PathBuf::from(e.filepath.to_string()), e.oid))
        .collect())
}
