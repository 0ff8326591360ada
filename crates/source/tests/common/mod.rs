//! Test helpers: loopback git servers from `testenv/gitservers.sh` and repositories to push to.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use keelson_source::{FetchOptions, GitAuth, GitReference};

/// One set of servers (git daemon, smart HTTP, sshd) for one test, stopped on drop.
pub struct Servers {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testenv/gitservers.sh")
}

impl Servers {
    /// Starts the servers; panics with the script's output if that fails.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("keelson-gitservers-")
            .tempdir()
            .unwrap();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "testenv/gitservers.sh start failed (run testenv/setup-debian.sh first?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("env")).unwrap();
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { dir, env }
    }

    /// A setting from DIR/env.
    pub fn get(&self, key: &str) -> &str {
        self.env.get(key).map(String::as_str).unwrap()
    }

    /// Stops the servers (also done on drop).
    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }

    /// The bare repositories' directory.
    pub fn repos(&self) -> PathBuf {
        PathBuf::from(self.get("REPOS"))
    }

    /// git:// URL of a repository.
    pub fn daemon_url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}.git", self.get("GIT_DAEMON_PORT"))
    }

    /// http:// URL of a repository; `mode` is public, basic or bearer.
    pub fn http_url(&self, mode: &str, repo: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{mode}/{repo}.git",
            self.get("HTTP_PORT")
        )
    }

    /// https:// URL of a repository (certificate from the CA at `HTTPS_CA`).
    pub fn https_url(&self, mode: &str, repo: &str) -> String {
        format!(
            "https://127.0.0.1:{}/{mode}/{repo}.git",
            self.get("HTTPS_PORT")
        )
    }

    /// ssh:// URL of a repository.
    pub fn ssh_url(&self, repo: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}/{repo}.git",
            self.get("SSH_USER"),
            self.get("SSH_PORT"),
            self.get("REPOS")
        )
    }

    /// Credentials for the ssh server; `wrong_host_key` uses known_hosts with another key.
    pub fn ssh_auth(&self, wrong_host_key: bool) -> GitAuth {
        let kh = if wrong_host_key {
            "SSH_KNOWN_HOSTS_WRONG"
        } else {
            "SSH_KNOWN_HOSTS"
        };
        GitAuth {
            ssh_identity: Some(std::fs::read(self.get("SSH_IDENTITY")).unwrap()),
            known_hosts: Some(std::fs::read(self.get(kh)).unwrap()),
            ..GitAuth::default()
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs git in `dir` with a fixed identity; panics on failure; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=keelson test",
            "-c",
            "user.email=test@keelson.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "tag.gpgSign=false",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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
