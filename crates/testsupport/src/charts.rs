//! Helm charts and a chart repository for tests: the small `demo` chart the suites share
//! (`crates/release/tests/charts/demo`), packaged by the real `helm`, and `testenv/helmrepo.py`
//! serving a folder of packages over HTTP(S) on loopback.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::{tool, workspace_root};

/// Runs `cmd`, panicking with its stderr when it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A copy of the demo chart at `version` with its default `message` set, in `<dir>/demo` of a
/// new temporary folder.
///
/// # Panics
/// If the chart cannot be copied.
pub fn demo_chart(version: &str, message: &str) -> tempfile::TempDir {
    let src = workspace_root().join("crates/release/tests/charts/demo");
    let dir = tempfile::tempdir().expect("a temporary folder");
    run(Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(dir.path().join("demo")));
    replace_in(
        &dir.path().join("demo/Chart.yaml"),
        "version: 0.1.0",
        &format!("version: {version}"),
    );
    replace_in(
        &dir.path().join("demo/values.yaml"),
        "message: hello",
        &format!("message: {message}"),
    );
    dir
}

/// A chart repository folder made by the real helm: the demo chart at each `(version,
/// message)`, packaged, and the repository's `index.yaml`.
///
/// # Panics
/// If helm fails.
pub fn demo_repository(versions: &[(&str, &str)]) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("a temporary folder");
    for (version, message) in versions {
        let chart = demo_chart(version, message);
        run(Command::new(tool("helm"))
            .arg("package")
            .arg(chart.path().join("demo"))
            .arg("-d")
            .arg(repo.path()));
    }
    run(Command::new(tool("helm"))
        .arg("repo")
        .arg("index")
        .arg(repo.path()));
    repo
}

/// `testenv/helmrepo.py` serving a folder on 127.0.0.1; killed when dropped.
pub struct ChartServer {
    child: Child,
    port: u16,
}

impl ChartServer {
    /// Serves `root` over HTTP, with basic auth when `auth` is given.
    ///
    /// # Panics
    /// If the server does not start.
    pub fn start(root: &Path, auth: Option<(&str, &str)>) -> Self {
        Self::start_with(root, auth, None)
    }

    /// With `tls` (a folder holding `server.crt` and `server.key`) it speaks HTTPS.
    ///
    /// # Panics
    /// If the server does not start.
    pub fn start_with(root: &Path, auth: Option<(&str, &str)>, tls: Option<&Path>) -> Self {
        let script = workspace_root().join("testenv/helmrepo.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(root);
        if let Some((user, password)) = auth {
            cmd.args(["--user", user, "--password", password]);
        }
        if let Some(dir) = tls {
            cmd.arg("--cert").arg(dir.join("server.crt"));
            cmd.arg("--key").arg(dir.join("server.key"));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs testenv/helmrepo.py");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("helmrepo.py prints its port");
        let port = line.trim().parse().expect("helmrepo.py prints its port");
        Self { child, port }
    }

    /// The server's base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for ChartServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
