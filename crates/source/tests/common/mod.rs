//! Test helpers: loopback git servers (`keelson_testsupport::git::GitServers`) and repositories to
//! push to.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use keelson_source::{FetchOptions, GitAuth, GitReference};

// Not every test binary uses them.
#[allow(unused_imports)]
pub use keelson_testsupport::git::{GitServers as Servers, git};

/// Credentials for the servers' sshd; `wrong_host_key` uses known_hosts with another key.
pub fn ssh_auth(servers: &Servers, wrong_host_key: bool) -> GitAuth {
    let kh = if wrong_host_key {
        "SSH_KNOWN_HOSTS_WRONG"
    } else {
        "SSH_KNOWN_HOSTS"
    };
    GitAuth {
        ssh_identity: Some(std::fs::read(servers.get("SSH_IDENTITY")).unwrap()),
        known_hosts: Some(std::fs::read(servers.get(kh)).unwrap()),
        ..GitAuth::default()
    }
}

/// A bare repository served by [`Servers`] plus a work tree to build history in.
pub struct Repo {
    /// The repository's name (URL path without `.git`).
    pub name: String,
    /// The bare repository.
    pub bare: PathBuf,
    /// The work tree.
    pub work: tempfile::TempDir,
}

impl Repo {
    /// Creates `name.git` under the servers' repos directory.
    pub fn new(servers: &Servers, name: &str) -> Self {
        let bare = servers.repos().join(format!("{name}.git"));
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare"]);
        git(&bare, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        let work = tempfile::tempdir().unwrap();
        git(work.path(), &["init", "-q", "-b", "main"]);
        Self {
            name: name.to_string(),
            bare,
            work,
        }
    }

    /// Writes a file (parents created) in the work tree.
    pub fn write(&self, path: &str, content: &str) {
        let p = self.work.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Commits everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        git(self.work.path(), &["add", "-A"]);
        git(
            self.work.path(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.head()
    }

    /// The work tree's HEAD commit.
    pub fn head(&self) -> String {
        git(self.work.path(), &["rev-parse", "HEAD"])
    }

    /// Runs git in the work tree.
    pub fn git(&self, args: &[&str]) -> String {
        git(self.work.path(), args)
    }

    /// Force-pushes `refspecs` to the bare repository.
    pub fn push(&self, refspecs: &[&str]) {
        let bare = self.bare.to_string_lossy().into_owned();
        let mut args = vec!["push", "-q", "--force", bare.as_str()];
        args.extend_from_slice(refspecs);
        git(self.work.path(), &args);
    }
}

/// Options for `url` at a branch.
pub fn branch(url: &str, branch: &str) -> FetchOptions {
    FetchOptions::new(url, GitReference::branch(branch))
}

/// Relative paths of all files under `dir`, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
