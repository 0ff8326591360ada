//! The `git` binary, driven with credentials that never reach its command line or the logs.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to authenticate to a Git server.
#[derive(Clone, Default)]
pub enum GitCredentials {
    /// No credentials (git://, public HTTP).
    #[default]
    None,
    /// An SSH private key, and the server's host keys in `known_hosts` format.
    Ssh {
        /// The private key (PEM or OpenSSH format).
        identity: Vec<u8>,
        /// The accepted host keys.
        known_hosts: Vec<u8>,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
}

impl std::fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secret material.
        match self {
            Self::None => f.write_str("None"),
            Self::Ssh { .. } => f.write_str("Ssh { identity: <redacted>, known_hosts: .. }"),
            Self::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
        }
    }
}

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The command could not be started.
    #[error("failed to run git {command}")]
    Spawn {
        /// The git subcommand.
        command: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command failed.
    #[error("git {command} failed: {stderr}")]
    Failed {
        /// The git subcommand.
        command: String,
        /// What git printed on stderr.
        stderr: String,
    },
    /// A temporary file for the credentials could not be written.
    #[error("failed to write a temporary credentials file")]
    Temp(#[source] std::io::Error),
}

/// A git working directory with credentials for its remote.
pub struct Git {
    dir: PathBuf,
    env: Vec<(String, OsString)>,
    config: Vec<String>,
    // Keep the key files alive as long as the commands may need them.
    _files: Vec<tempfile::NamedTempFile>,
}

impl Git {
    /// Git commands in `dir` that authenticate with `credentials`.
    pub fn new(dir: impl Into<PathBuf>, credentials: &GitCredentials) -> Result<Self, GitError> {
        let mut env = vec![("GIT_TERMINAL_PROMPT".to_string(), OsString::from("0"))];
        let mut config = Vec::new();
        let mut files = Vec::new();
        match credentials {
            GitCredentials::None => {}
            GitCredentials::Ssh {
                identity,
                known_hosts,
            } => {
                let key = secret_file(identity)?;
                let hosts = secret_file(known_hosts)?;
                let command = format!(
                    "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes",
                    quote(key.path()),
                    quote(hosts.path())
                );
                env.push(("GIT_SSH_COMMAND".into(), command.into()));
                files.push(key);
                files.push(hosts);
            }
            GitCredentials::Basic { username, password } => {
                // The helper reads the credentials from the environment of the git process.
                env.push(("KEELSON_GIT_USERNAME".into(), username.into()));
                env.push(("KEELSON_GIT_PASSWORD".into(), password.into()));
                config.push("credential.helper=".into());
                config.push(
                    "credential.helper=!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$KEELSON_GIT_USERNAME\" \"$KEELSON_GIT_PASSWORD\"; }; f"
                        .into(),
                );
            }
        }
        Ok(Self {
            dir: dir.into(),
            env,
            config,
            _files: files,
        })
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `git args…` in the working directory and returns its trimmed stdout.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let mut command = Command::new("git");
        for c in &self.config {
            command.arg("-c").arg(c);
        }
        command.args(args).current_dir(&self.dir);
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let name = args.first().copied().unwrap_or_default().to_string();
        let out = command.output().map_err(|source| GitError::Spawn {
            command: name.clone(),
            source,
        })?;
        if !out.status.success() {
            return Err(GitError::Failed {
                command: name,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

fn secret_file(content: &[u8]) -> Result<tempfile::NamedTempFile, GitError> {
    // NamedTempFile is created with mode 0600, as ssh demands for keys.
    let mut file = tempfile::NamedTempFile::new().map_err(GitError::Temp)?;
    file.write_all(content).map_err(GitError::Temp)?;
    if !content.ends_with(b"\n") {
        file.write_all(b"\n").map_err(GitError::Temp)?;
    }
    file.flush().map_err(GitError::Temp)?;
    Ok(file)
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// The host and port of an ssh URL (`ssh://user@host:port/path` or `user@host:path`), for
/// scanning host keys.
pub fn ssh_host(url: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = url.strip_prefix("ssh://") {
        let authority = rest.split('/').next()?;
        let host_port = authority.rsplit('@').next()?;
        return Some(match host_port.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().ok()),
            None => (host_port.to_string(), None),
        });
    }
    if url.contains("://") {
        return None;
    }
    // scp-like syntax: [user@]host:path
    let (before, _) = url.split_once(':')?;
    Some((before.rsplit('@').next()?.to_string(), None))
}

/// The host keys of an ssh server, as `ssh-keyscan` reports them.
pub fn scan_host_keys(url: &str) -> Result<Vec<u8>, GitError> {
    let Some((host, port)) = ssh_host(url) else {
        return Err(GitError::Failed {
            command: "ssh-keyscan".into(),
            stderr: format!("{url} is not an ssh URL"),
        });
    };
    let mut command = Command::new("ssh-keyscan");
    if let Some(port) = port {
        command.arg("-p").arg(port.to_string());
    }
    let out = command
        .arg(&host)
        .output()
        .map_err(|source| GitError::Spawn {
            command: "ssh-keyscan".into(),
            source,
        })?;
    if out.stdout.is_empty() {
        return Err(GitError::Failed {
            command: "ssh-keyscan".into(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_hosts() {
        assert_eq!(
            ssh_host("ssh://git@127.0.0.1:2222/srv/repo.git"),
            Some(("127.0.0.1".into(), Some(2222)))
        );
        assert_eq!(
            ssh_host("git@github.com:org/repo.git"),
            Some(("github.com".into(), None))
        );
        assert_eq!(ssh_host("https://example.com/r.git"), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = GitCredentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
