//! A real OCI registry for tests: the CNCF distribution registry (`registry`, built by
//! `testenv/build.sh` from its Go module) on a free loopback port, plain HTTP, storing into a
//! temporary directory, optionally behind htpasswd basic authentication.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry, stopped (and its storage removed) when dropped.
pub struct Registry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
    credentials: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry without authentication.
    ///
    /// # Panics
    /// If the registry binary is not built or does not answer within 30 s.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a registry that requires `user`/`password` (htpasswd, bcrypt).
    ///
    /// # Panics
    /// As [`Registry::start`].
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        Self::start_with(Some((user.to_string(), password.to_string())))
    }

    fn start_with(credentials: Option<(String, String)>) -> Self {
        let binary = crate::tool("registry");
        let dir = match tempfile::Builder::new()
            .prefix("keelson-registry-")
            .tempdir()
        {
            Ok(dir) => dir,
            Err(err) => panic!("creating the registry's directory: {err}"),
        };
        let port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(addr) => addr.port(),
            Err(err) => panic!("finding a free port: {err}"),
        };
        let host = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n",
            storage.display()
        );
        if let Some((user, password)) = &credentials {
            let hash = match bcrypt::hash(password, 5) {
                Ok(hash) => hash,
                Err(err) => panic!("hashing the registry password: {err}"),
            };
            let htpasswd = dir.path().join("htpasswd");
            write(&htpasswd, &format!("{user}:{hash}\n"));
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: keelson-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        write(&config_path, &config);
        let log = dir.path().join("registry.log");
        let log_file = match std::fs::File::create(&log) {
            Ok(f) => f,
            Err(err) => panic!("creating {}: {err}", log.display()),
        };
        let err_file = match log_file.try_clone() {
            Ok(f) => f,
            Err(err) => panic!("cloning the log handle: {err}"),
        };
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(err) => panic!("starting {}: {err}", binary.display()),
        };
        let mut registry = Self {
            child,
            host,
            dir,
            credentials,
        };
        registry.wait_ready(&log);
        registry
    }

    fn wait_ready(&mut self, log: &Path) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                panic!("the registry exited ({status}):\n{text}");
            }
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                panic!(
                    "the registry did not listen on {} in 30s:\n{text}",
                    self.host
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `oci://127.0.0.1:<port>/<repository>`.
    pub fn url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.host)
    }

    /// A `.dockerconfigjson` document with this registry's credentials (or `password`
    /// instead, to test a wrong one).
    pub fn docker_config(&self, password: Option<&str>) -> String {
        let (user, pass) = self.credentials.clone().unwrap_or_default();
        let pass = password.map_or(pass, str::to_string);
        let auth = base64_encode(format!("{user}:{pass}").as_bytes());
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, self.host)
    }

    /// Runs the real `helm` with a registry configuration of its own (logged in when the
    /// registry has credentials); returns its stdout.
    ///
    /// # Panics
    /// If helm fails.
    pub fn helm(&self, args: &[&str]) -> String {
        let config = self.dir.path().join("helm-registry.json");
        if let Some((user, pass)) = &self.credentials
            && !config.exists()
        {
            self.run_helm(
                &config,
                &[
                    "registry",
                    "login",
                    &self.host,
                    "--plain-http",
                    "-u",
                    user,
                    "-p",
                    pass,
                ],
            );
        }
        self.run_helm(&config, args)
    }

    fn run_helm(&self, config: &Path, args: &[&str]) -> String {
        let helm = crate::tool("helm");
        let home = self.dir.path().join("helm-home");
        let output = Command::new(&helm)
            .args(args)
            .arg("--registry-config")
            .arg(config)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .output();
        match output {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
            Ok(out) => panic!(
                "helm {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(err) => panic!("running {}: {err}", helm.display()),
        }
    }

    /// Pushes the packaged chart `tgz` to `oci://<host>/<repository>` with the real
    /// `helm push --plain-http`.
    ///
    /// # Panics
    /// If helm fails.
    pub fn push_chart(&self, tgz: &Path, repository: &str) {
        let target = format!("oci://{}/{repository}", self.host);
        let path = tgz.to_string_lossy().into_owned();
        self.helm(&["push", &path, &target, "--plain-http"]);
    }

    /// The registry's storage and configuration directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: &Path, text: &str) {
    if let Err(err) = std::fs::write(path, text) {
        panic!("writing {}: {err}", path.display());
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
