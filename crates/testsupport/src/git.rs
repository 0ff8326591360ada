//! Git for tests: a bare repository served by a real `git-daemon` on loopback and a work tree
//! that pushes to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `git` in `dir` with a fixed identity and `main` as the default branch; returns stdout.
///
/// # Panics
/// If git fails (the panic shows its stderr).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
            "-c",
            "tag.gpgSign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap_or_else(|e| panic!("git {args:?} could not start: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `git-daemon` exporting every repository under a directory; stopped when dropped.
pub struct GitDaemon {
    child: std::process::Child,
    host: std::net::Ipv4Addr,
    port: u16,
}

impl GitDaemon {
    /// Serves `base` on a free loopback port and waits until it accepts connections.
    ///
    /// # Panics
    /// If the daemon cannot start.
    pub fn serve(base: &Path) -> Self {
        Self::serve_on(base, std::net::Ipv4Addr::LOCALHOST)
    }

    /// Serves `base` on a free port of `host`, an address of this machine (the real node's
    /// bridge gateway, for Pods), and waits until it accepts connections.
    ///
    /// # Panics
    /// If the daemon cannot start.
    pub fn serve_on(base: &Path, host: std::net::Ipv4Addr) -> Self {
        let port = std::net::TcpListener::bind((host, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port on {host}: {e}"));
        let child = crate::git_daemon()
            .args(["--reuseaddr", "--export-all"])
            .arg(format!("--listen={host}"))
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("git-daemon did not start: {e}"));
        for _ in 0..100 {
            if std::net::TcpStream::connect((host, port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, host, port }
    }

    /// The `git://` URL of `repo` (a path relative to the served directory).
    pub fn url(&self, repo: &str) -> String {
        format!("git://{}:{}/{repo}", self.host, self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A served bare repository `repo.git` and a work tree whose `origin` it is.
pub struct TestRepo {
    server: Served,
    work: PathBuf,
    // Last: dropped after the server stopped.
    _dir: tempfile::TempDir,
}

/// What serves a [`TestRepo`].
enum Served {
    Daemon(GitDaemon),
    /// The full set; the repository is `repo.git` under its repositories' directory.
    Servers(Box<GitServers>),
}

impl TestRepo {
    /// An empty repository, served.
    ///
    /// # Panics
    /// If the temporary directory, git or the daemon fail.
    pub fn new() -> Self {
        Self::served_on(std::net::Ipv4Addr::LOCALHOST)
    }

    /// An empty repository served by `git-daemon` on `host` (see [`GitDaemon::serve_on`]).
    ///
    /// # Panics
    /// If the temporary directory, git or the daemon fail.
    pub fn served_on(host: std::net::Ipv4Addr) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let bare = dir.path().join("repo.git");
        git(
            dir.path(),
            &["init", "--bare", "-q", &bare.display().to_string()],
        );
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("mkdir work: {e}"));
        git(&work, &["init", "-q"]);
        git(
            &work,
            &["remote", "add", "origin", &bare.display().to_string()],
        );
        let daemon = GitDaemon::serve_on(dir.path(), host);
        Self {
            server: Served::Daemon(daemon),
            work,
            _dir: dir,
        }
    }

    /// An empty repository served over smart HTTP (and the rest of [`GitServers`]) — what a
    /// client that refuses `git://` (the `flux` CLI) needs.
    ///
    /// # Panics
    /// If the temporary directory, git or the servers fail.
    pub fn over_http() -> Self {
        let servers = GitServers::start();
        servers.create("repo");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("mkdir work: {e}"));
        git(&work, &["init", "-q"]);
        let bare = servers.repos().join("repo.git");
        git(
            &work,
            &["remote", "add", "origin", &bare.display().to_string()],
        );
        Self {
            server: Served::Servers(Box::new(servers)),
            work,
            _dir: dir,
        }
    }

    /// The repository's URL: `git://` from [`TestRepo::new`], public `http://` from
    /// [`TestRepo::over_http`].
    pub fn url(&self) -> String {
        match &self.server {
            Served::Daemon(daemon) => daemon.url("repo.git"),
            Served::Servers(servers) => servers.http_url("public", "repo"),
        }
    }

    /// The work tree.
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// Writes `text` to `path` in the work tree (creating directories).
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write(&self, path: &str, text: &str) {
        let file = self.work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir for {path}: {e}"));
        }
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }

    /// Removes `path` from the work tree.
    ///
    /// # Panics
    /// If the file cannot be removed.
    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.work.join(path)).unwrap_or_else(|e| panic!("remove {path}: {e}"));
    }

    /// Commits everything and pushes to `main`; returns Flux's revision `main@sha1:<hex>`.
    pub fn push(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", message]);
        git(
            &self.work,
            &["push", "-q", "origin", "HEAD:refs/heads/main"],
        );
        format!("main@sha1:{}", git(&self.work, &["rev-parse", "HEAD"]))
    }
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

/// One set of loopback git servers for one test — `git daemon`, smart HTTP(S) with public,
/// basic-auth and bearer paths, and `sshd` — started by `testenv/gitservers.sh` and stopped on
/// drop. Repositories live under [`GitServers::repos`].
pub struct GitServers {
    dir: tempfile::TempDir,
    env: std::collections::HashMap<String, String>,
}

fn gitservers_script() -> PathBuf {
    crate::workspace_root().join("testenv/gitservers.sh")
}

impl GitServers {
    /// Starts the servers.
    ///
    /// # Panics
    /// With the script's output if they do not start.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("keelson-gitservers-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let out = Command::new("bash")
            .arg(gitservers_script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("bash could not start: {e}"));
        assert!(
            out.status.success(),
            "testenv/gitservers.sh start failed (run testenv/setup-debian.sh first?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("env"))
            .unwrap_or_else(|e| panic!("gitservers env file: {e}"));
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { dir, env }
    }

    /// A setting of the servers (`GIT_DAEMON_PORT`, `HTTP_PORT`, `SSH_IDENTITY`, …).
    ///
    /// # Panics
    /// If the script did not write it.
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("gitservers.sh wrote no {key}"))
    }

    /// Stops the servers (also done on drop).
    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(gitservers_script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }

    /// The bare repositories' directory.
    pub fn repos(&self) -> PathBuf {
        PathBuf::from(self.get("REPOS"))
    }

    /// Creates an empty bare repository `name.git`.
    pub fn create(&self, name: &str) {
        git(
            &self.repos(),
            &["init", "--bare", "-q", &format!("{name}.git")],
        );
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
}

impl Drop for GitServers {
    fn drop(&mut self) {
        self.stop();
    }
}
