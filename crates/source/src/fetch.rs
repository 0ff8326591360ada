//! Fetching one commit of a Git repository and checking out its tree.
//!
//! The flow for [`fetch`]: parse the URL, apply Flux's reference precedence, create a throw-away
//! bare repository, connect (smart HTTP(S) through reqwest/rustls, ssh through the `ssh` binary,
//! git://, file://), fetch only what the reference needs — depth 1 for branch, tag, semver and
//! name; full history of the branch (or of all branches and tags) for a commit — and write the
//! tree of the resolved commit into the destination directory. No state is kept between calls,
//! so a force-pushed branch is simply the new tip on the next call.
//!
//! Security: ssh always verifies the host key against the `known_hosts` of the [`GitAuth`]
//! (`StrictHostKeyChecking=yes`, no user or system known_hosts, no ssh config, no agent);
//! HTTP(S) credentials go in headers, never in the URL; every message is scrubbed of URL userinfo
//! and of the secret values themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::remote::Direction;

use crate::auth::GitAuth;
use crate::reference::{GitReference, ReferenceError, Strategy, revision, select_semver};
use crate::url::{GitUrl, Scheme, UrlError, redact_str};

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The repository URL (`spec.url`).
    pub url: String,
    /// The reference to check out (`spec.ref`).
    pub reference: GitReference,
    /// Credentials and trust (`spec.secretRef`).
    pub auth: GitAuth,
    /// Upper bound for the whole operation (`spec.timeout`, Flux's default 60s).
    pub timeout: Duration,
}

impl FetchOptions {
    /// Options for `url` at `reference`, without credentials, with Flux's default timeout of 60s.
    pub fn new(url: impl Into<String>, reference: GitReference) -> Self {
        Self {
            url: url.into(),
            reference,
            auth: GitAuth::default(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A resolved reference: the commit and the revision string Flux would report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit, 40 lower-case hex characters.
    pub commit: String,
    /// The revision as Flux writes it, for example `main@sha1:<hex>`.
    pub revision: String,
    /// The full name of the remote reference that was followed (`refs/heads/main`,
    /// `refs/tags/v1.2.3`), or `None` for a bare commit.
    pub reference: Option<String>,
}

/// The result of [`fetch`]: what was checked out and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// Commit and revision.
    pub resolved: Resolved,
    /// The directory holding the checked-out tree.
    pub path: PathBuf,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The reference is malformed (bad commit, name or semver constraint).
    #[error("invalid spec.ref: {0}")]
    Reference(#[from] ReferenceError),
    /// An ssh URL was given without known_hosts (host keys are always verified).
    #[error(
        "failed to fetch {url}: ssh needs known_hosts in the secret (host keys are always verified)"
    )]
    MissingKnownHosts {
        /// The URL, without credentials.
        url: String,
    },
    /// An ssh URL was given without an identity.
    #[error("failed to fetch {url}: ssh needs an identity (private key) in the secret")]
    MissingIdentity {
        /// The URL, without credentials.
        url: String,
    },
    /// Local preparation failed (temporary directory, key files).
    #[error("failed to prepare the fetch of {url}: {message}")]
    Workspace {
        /// The URL, without credentials.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("failed to connect to {url}: {message}")]
    Connect {
        /// The URL, without credentials.
        url: String,
        /// The transport's message (scrubbed of secrets).
        message: String,
    },
    /// The server rejected the credentials, or the host key did not verify.
    #[error("authentication to {url} failed: {message}")]
    Authentication {
        /// The URL, without credentials.
        url: String,
        /// The transport's message (scrubbed of secrets).
        message: String,
    },
    /// The branch, tag or reference does not exist on the remote.
    #[error("failed to fetch {url}: {what} not found")]
    RefNotFound {
        /// The URL, without credentials.
        url: String,
        /// What was looked for, for example `branch "main"`.
        what: String,
    },
    /// No tag satisfies the semver constraint.
    #[error("failed to fetch {url}: no tag matches semver constraint {constraint:?}")]
    NoMatchingTag {
        /// The URL, without credentials.
        url: String,
        /// The constraint.
        constraint: String,
    },
    /// The commit is not in the fetched history.
    #[error("failed to fetch {url}: commit {commit} not found{}", branch.as_ref().map(|b| format!(" on branch {b:?}")).unwrap_or_default())]
    CommitNotFound {
        /// The URL, without credentials.
        url: String,
        /// The commit.
        commit: String,
        /// The branch that was searched, if one was named.
        branch: Option<String>,
    },
    /// The transfer failed after connecting (protocol or pack errors).
    #[error("failed to fetch {url}: {message}")]
    Transfer {
        /// The URL, without credentials.
        url: String,
        /// The transport's message (scrubbed of secrets).
        message: String,
    },
    /// Writing the tree failed.
    #[error("failed to check out {commit} into {}: {message}", path.display())]
    Checkout {
        /// The destination.
        path: PathBuf,
        /// The commit being written.
        commit: String,
        /// What went wrong.
        message: String,
    },
    /// The operation took longer than [`FetchOptions::timeout`].
    #[error("fetching {url} timed out after {after:?}")]
    Timeout {
        /// The URL, without credentials.
        url: String,
        /// The timeout that elapsed.
        after: Duration,
    },
}

/// Flux's Ready=False reason for an invalid URL.
pub const REASON_URL_INVALID: &str = "URLInvalid";
/// Flux's Ready=False reason for unusable credentials.
pub const REASON_AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
/// Flux's Ready=False reason for a failed Git operation (clone, checkout, network).
pub const REASON_GIT_OPERATION_FAILED: &str = "GitOperationFailed";

impl FetchError {
    /// The Flux condition reason for this error (`URLInvalid`, `AuthenticationFailed` or
    /// `GitOperationFailed`).
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Url(_) => REASON_URL_INVALID,
            FetchError::MissingKnownHosts { .. }
            | FetchError::MissingIdentity { .. }
            | FetchError::Authentication { .. } => REASON_AUTHENTICATION_FAILED,
            _ => REASON_GIT_OPERATION_FAILED,
        }
    }

    /// Whether retrying without changing the spec cannot help (Flux marks these Stalled).
    pub fn is_stalled(&self) -> bool {
        matches!(
            self,
            FetchError::Url(_)
                | FetchError::Reference(_)
                | FetchError::MissingKnownHosts { .. }
                | FetchError::MissingIdentity { .. }
        )
    }
}

/// Fetches the commit `options.reference` resolves to and writes its tree into `dest`, which
/// must not exist or be an empty directory.
///
/// The blocking Git work runs on tokio's blocking pool; on timeout the transfer is interrupted.
pub async fn fetch(options: &FetchOptions, dest: &Path) -> Result<Checkout, FetchError> {
    let opts = options.clone();
    let dest = dest.to_path_buf();
    run_blocking(options, move |interrupt| {
        fetch_blocking(&opts, Some(&dest), &interrupt).map(|resolved| Checkout {
            resolved,
            path: dest,
        })
    })
    .await
}

/// Resolves `options.reference` against the remote without downloading objects (an
/// `ls-remote`): the commit and revision a [`fetch`] would produce now. Use it to skip a fetch
/// when the revision equals the stored artifact's. A bare `commit` reference resolves without
/// contacting the server.
pub async fn resolve(options: &FetchOptions) -> Result<Resolved, FetchError> {
    let opts = options.clone();
    run_blocking(options, move |interrupt| {
        fetch_blocking(&opts, None, &interrupt)
    })
    .await
}

async fn run_blocking<T: Send + 'static>(
    options: &FetchOptions,
    work: impl FnOnce(Arc<AtomicBool>) -> Result<T, FetchError> + Send + 'static,
) -> Result<T, FetchError> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let task = tokio::task::spawn_blocking(move || work(flag));
    let url = GitUrl::parse(&options.url)?.redacted();
    match tokio::time::timeout(options.timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(FetchError::Workspace {
            url,
            message: format!("the fetch task failed: {join}"),
        }),
        Err(_) => {
            interrupt.store(true, Ordering::SeqCst);
            Err(FetchError::Timeout {
                url,
                after: options.timeout,
            })
        }
    }
}

/// Scrubs secrets from messages produced by the transport.
struct Redactor {
    secrets: Vec<String>,
    /// The work directory of an ssh fetch, whose ssh stderr is appended to messages.
    ssh_work: Option<PathBuf>,
}

impl Redactor {
    fn new(auth: &GitAuth, url: &GitUrl) -> Self {
        let mut secrets = auth.secrets();
        if let Some(p) = url.password() {
            secrets.push(p.to_string());
        }
        Self {
            secrets,
            ssh_work: None,
        }
    }

    fn clean(&self, message: &str) -> String {
        let mut out = redact_str(message);
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "<redacted>");
        }
        out
    }

    /// The error and its causes as one line, scrubbed.
    fn chain(&self, err: &(dyn std::error::Error + 'static)) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            let m = cause.to_string();
            if !text.contains(&m) {
                text.push_str(": ");
                text.push_str(&m);
            }
            source = cause.source();
        }
        if let Some(ssh) = self.ssh_work.as_deref().and_then(ssh_stderr) {
            text.push_str(" (ssh: ");
            text.push_str(&ssh);
            text.push(')');
        }
        self.clean(&text)
    }
}

/// Sorts a transport failure into connect / authentication / transfer.
fn classify(url: &str, message: String, connected: bool) -> FetchError {
    let lower = message.to_ascii_lowercase();
    let auth_markers = [
        "401",
        "403",
        "authentication",
        "unauthorized",
        "forbidden",
        "permission denied",
        "host key verification failed",
        "credentials",
        "no such identity",
    ];
    let connect_markers = [
        "connection refused",
        "could not connect",
        "failed to connect",
        "connection reset",
        "timed out",
        "dns",
        "resolve",
        "unreachable",
        "no route",
        "broken pipe",
        "unexpected eof",
        "connection closed",
        "could not read from remote",
        "failed to read",
    ];
    let url = url.to_string();
    if auth_markers.iter().any(|m| lower.contains(m)) {
        FetchError::Authentication { url, message }
    } else if !connected || connect_markers.iter().any(|m| lower.contains(m)) {
        FetchError::Connect { url, message }
    } else {
        FetchError::Transfer { url, message }
    }
}

/// The file in the work directory collecting ssh's stderr (host key and auth failures).
const SSH_STDERR: &str = "ssh.stderr";

/// ssh's complaints so far ("Host key verification failed.", "Permission denied …"), one line.
fn ssh_stderr(work: &Path) -> Option<String> {
    let text = std::fs::read_to_string(work.join(SSH_STDERR)).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Pseudo-terminal"))
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// Files that configure ssh for one fetch; removed with the work directory.
fn ssh_wrapper(work: &Path, auth: &GitAuth, url: &GitUrl) -> Result<PathBuf, FetchError> {
    let shown = url.redacted();
    let known_hosts = auth
        .known_hosts
        .as_ref()
        .filter(|k| !k.iter().all(u8::is_ascii_whitespace))
        .ok_or_else(|| FetchError::MissingKnownHosts { url: shown.clone() })?;
    let identity = auth
        .ssh_identity
        .as_ref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| FetchError::MissingIdentity { url: shown.clone() })?;
    let ws = |e: std::io::Error, what: &str| FetchError::Workspace {
        url: shown.clone(),
        message: format!("{what}: {e}"),
    };
    let key_path = work.join("identity");
    let mut key = identity.clone();
    if !key.ends_with(b"\n") {
        key.push(b'\n'); // ssh rejects keys without a final newline
    }
    write_private(&key_path, &key).map_err(|e| ws(e, "writing the ssh identity"))?;
    let kh_path = work.join("known_hosts");
    write_private(&kh_path, known_hosts).map_err(|e| ws(e, "writing known_hosts"))?;
    let script = work.join("ssh");
    let body = format!(
        "#!/bin/sh\nexec ssh -F /dev/null -i '{key}' -o IdentitiesOnly=yes -o IdentityAgent=none \
         -o UserKnownHostsFile='{kh}' -o GlobalKnownHostsFile=/dev/null \
         -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=30 \
         -o LogLevel=ERROR \"$@\" 2>>'{log}'\n",
        key = key_path.display(),
        kh = kh_path.display(),
        log = work.join(SSH_STDERR).display(),
    );
    std::fs::write(&script, body).map_err(|e| ws(e, "writing the ssh wrapper"))?;
    set_mode(&script, 0o700).map_err(|e| ws(e, "making the ssh wrapper executable"))?;
    Ok(script)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)?;
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The refspecs to fetch and whether the history can be shallow.
struct Plan {
    specs: Vec<String>,
    shallow: bool,
    /// The local reference that holds the result (`None` for a commit without branch).
    local: Option<String>,
    /// The label for a semver revision (the winning tag).
    label: String,
}

fn fetch_blocking(
    opts: &FetchOptions,
    dest: Option<&Path>,
    interrupt: &AtomicBool,
) -> Result<Resolved, FetchError> {
    let url = GitUrl::parse(&opts.url)?;
    let strategy = opts.reference.strategy()?;
    let shown = url.redacted();
    let mut redactor = Redactor::new(&opts.auth, &url);

    // A bare commit resolves without the server; only a fetch needs it.
    if dest.is_none()
        && let Strategy::Commit {
            commit,
            branch: None,
        } = &strategy
    {
        return Ok(Resolved {
            commit: commit.clone(),
            revision: revision(&strategy, "", commit),
            reference: None,
        });
    }

    let work = tempfile::Builder::new()
        .prefix("keelson-git-")
        .tempdir()
        .map_err(|e| FetchError::Workspace {
            url: shown.clone(),
            message: format!("creating a temporary directory: {e}"),
        })?;
    let mut overrides: Vec<String> = vec![
        "protocol.version=2".into(),
        "fetch.negotiationAlgorithm=noop".into(),
    ];
    if url.scheme() == Scheme::Ssh {
        let script = ssh_wrapper(work.path(), &opts.auth, &url)?;
        redactor.ssh_work = Some(work.path().to_path_buf());
        overrides.push(format!("core.sshCommand={}", script.display()));
        overrides.push("ssh.variant=ssh".into());
    }
    let repo = gix::ThreadSafeRepository::init_opts(
        work.path().join("repo.git"),
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        gix::open::Options::isolated().config_overrides(overrides),
    )
    .map_err(|e| FetchError::Workspace {
        url: shown.clone(),
        message: redactor.chain(&e),
    })?
    .to_thread_local();

    let transport_url = url.for_transport();
    let plan = match &strategy {
        Strategy::Branch(b) => Plan {
            specs: vec![format!("+refs/heads/{b}:refs/heads/{b}")],
            shallow: true,
            local: Some(format!("refs/heads/{b}")),
            label: String::new(),
        },
        Strategy::Tag(t) => Plan {
            specs: vec![format!("+refs/tags/{t}:refs/tags/{t}")],
            shallow: true,
            local: Some(format!("refs/tags/{t}")),
            label: String::new(),
        },
        Strategy::Name(n) => Plan {
            specs: vec![format!("+{n}:{n}")],
            shallow: true,
            local: Some(n.clone()),
            label: String::new(),
        },
        Strategy::Semver(constraint) => {
            let tags = list_refs(
                &repo,
                opts,
                &transport_url,
                &redactor,
                "+refs/tags/*:refs/tags/*",
            )?;
            let names: Vec<&str> = tags
                .iter()
                .filter_map(|(name, _)| name.strip_prefix("refs/tags/"))
                .collect();
            let tag = select_semver(constraint, names.iter().copied())
                .ok_or_else(|| FetchError::NoMatchingTag {
                    url: shown.clone(),
                    constraint: constraint.to_string(),
                })?
                .to_string();
            Plan {
                specs: vec![format!("+refs/tags/{tag}:refs/tags/{tag}")],
                shallow: true,
                local: Some(format!("refs/tags/{tag}")),
                label: tag,
            }
        }
        Strategy::Commit {
            branch: Some(b), ..
        } => Plan {
            specs: vec![format!("+refs/heads/{b}:refs/heads/{b}")],
            shallow: false,
            local: Some(format!("refs/heads/{b}")),
            label: String::new(),
        },
        Strategy::Commit { branch: None, .. } => Plan {
            specs: vec![
                "+refs/heads/*:refs/heads/*".into(),
                "+refs/tags/*:refs/tags/*".into(),
            ],
            shallow: false,
            local: None,
            label: String::new(),
        },
    };

    let what = || match &strategy {
        Strategy::Branch(b)
        | Strategy::Commit {
            branch: Some(b), ..
        } => format!("branch {b:?}"),
        Strategy::Tag(t) => format!("tag {t:?}"),
        Strategy::Semver(_) => format!("tag {:?}", plan.label),
        Strategy::Name(n) => format!("reference {n:?}"),
        Strategy::Commit { branch: None, .. } => "any branch".to_string(),
    };

    if dest.is_none() {
        // ls-remote only.
        let spec = plan.specs.first().cloned().unwrap_or_default();
        let refs = list_refs(&repo, opts, &transport_url, &redactor, &spec)?;
        let local = plan.local.clone().unwrap_or_default();
        let commit = refs
            .iter()
            .find(|(name, _)| *name == local)
            .map(|(_, id)| id.clone())
            .ok_or_else(|| FetchError::RefNotFound {
                url: shown.clone(),
                what: what(),
            })?;
        if let Strategy::Commit { commit, .. } = &strategy {
            return Ok(Resolved {
                commit: commit.clone(),
                revision: revision(&strategy, &plan.label, commit),
                reference: plan.local.clone(),
            });
        }
        return Ok(Resolved {
            revision: revision(&strategy, &plan.label, &commit),
            commit,
            reference: plan.local.clone(),
        });
    }

    // Fetch.
    let mut remote = repo
        .remote_at(transport_url.as_str())
        .map_err(|e| FetchError::Workspace {
            url: shown.clone(),
            message: redactor.chain(&e),
        })?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    remote = remote
        .with_refspecs(plan.specs.iter().map(String::as_str), Direction::Fetch)
        .map_err(|e| FetchError::Workspace {
            url: shown.clone(),
            message: redactor.chain(&e),
        })?;
    let connection = connect(&repo, &remote, opts, &transport_url, &redactor)?;
    let mut prepare = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| classify(&shown, redactor.chain(&e), false))?;
    if prepare.ref_map().mappings.is_empty() {
        return Err(FetchError::RefNotFound {
            url: shown,
            what: what(),
        });
    }
    if plan.shallow {
        prepare = prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
            std::num::NonZeroU32::MIN,
        ));
    }
    prepare
        .receive(gix::progress::Discard, interrupt)
        .map_err(|e| classify(&shown, redactor.chain(&e), true))?;

    // Resolve the commit from what was fetched.
    let commit_id = match (&strategy, &plan.local) {
        (Strategy::Commit { commit, .. }, _) => {
            let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|_| {
                FetchError::Reference(ReferenceError::InvalidCommit(commit.clone()))
            })?;
            let branch = match &strategy {
                Strategy::Commit { branch, .. } => branch.clone(),
                _ => None,
            };
            match repo.find_object(id) {
                Ok(obj) if obj.kind == gix::object::Kind::Commit => id,
                _ => {
                    return Err(FetchError::CommitNotFound {
                        url: shown,
                        commit: commit.clone(),
                        branch,
                    });
                }
            }
        }
        (_, Some(local)) => {
            let mut reference =
                repo.find_reference(local.as_str())
                    .map_err(|_| FetchError::RefNotFound {
                        url: shown.clone(),
                        what: what(),
                    })?;
            let commit = reference
                .peel_to_commit()
                .map_err(|e| FetchError::Transfer {
                    url: shown.clone(),
                    message: format!("{local} does not point to a commit: {}", redactor.chain(&e)),
                })?;
            commit.id
        }
        (_, None) => {
            return Err(FetchError::RefNotFound {
                url: shown,
                what: what(),
            });
        }
    };
    let commit = commit_id.to_hex().to_string();
    if let Some(dest) = dest {
        checkout(&repo, commit_id, dest).map_err(|message| FetchError::Checkout {
            path: dest.to_path_buf(),
            commit: commit.clone(),
            message,
        })?;
    }
    Ok(Resolved {
        revision: revision(&strategy, &plan.label, &commit),
        commit,
        reference: plan.local,
    })
}

type Connection<'a, 'r> = gix::remote::Connection<
    'a,
    'static,
    'r,
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
>;

/// Connects `remote` with the HTTP settings of `opts.auth` (basic auth, bearer token, CA) and a
/// credentials callback that never prompts.
fn connect<'a, 'r>(
    repo: &'r gix::Repository,
    remote: &'a gix::Remote<'r>,
    opts: &FetchOptions,
    transport_url: &str,
    redactor: &Redactor,
) -> Result<Connection<'a, 'r>, FetchError> {
    let shown = GitUrl::parse(transport_url)
        .map(|u| u.redacted())
        .unwrap_or_else(|_| redact_str(transport_url));
    let mut connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| classify(&shown, redactor.chain(&e), false))?;
    let url = GitUrl::parse(&opts.url)?;
    if matches!(url.scheme(), Scheme::Http | Scheme::Https) {
        let options = http_options(repo, opts, &url, transport_url, redactor)?;
        connection.set_transport_options(options);
    }
    // Never ask a credential helper or a terminal: the secret is the only source.
    connection.set_credentials(|_| Ok(None));
    Ok(connection)
}

fn http_options(
    repo: &gix::Repository,
    opts: &FetchOptions,
    url: &GitUrl,
    transport_url: &str,
    redactor: &Redactor,
) -> Result<Box<dyn std::any::Any>, FetchError> {
    use gix::protocol::transport::client::blocking_io::http;
    let shown = url.redacted();
    let ws = |message: String| FetchError::Workspace {
        url: shown.clone(),
        message,
    };
    let mut options = match repo
        .transport_options(transport_url, None)
        .map_err(|e| ws(redactor.chain(&e)))?
        .map(|any| any.downcast::<http::Options>())
    {
        Some(Ok(options)) => *options,
        _ => http::Options::default(),
    };
    let basic = opts.auth.basic.clone().or_else(|| {
        url.password().map(|p| crate::auth::BasicAuth {
            username: url.user().unwrap_or("git").to_string(),
            password: p.to_string(),
        })
    });
    let header = if let Some(token) = &opts.auth.bearer_token {
        Some(format!("Bearer {token}"))
    } else {
        basic.map(|b| {
            use base64::Engine as _;
            let raw = format!("{}:{}", b.username, b.password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        })
    };
    let ca = match &opts.auth.ca_pem {
        Some(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ws(format!("invalid ca.crt: {e}")))?;
            if certs.is_empty() {
                return Err(ws("invalid ca.crt: no PEM certificate found".to_string()));
            }
            Some(certs)
        }
        None => None,
    };
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |mut builder| {
            if let Some(certs) = &ca {
                for cert in certs {
                    builder = builder.add_root_certificate(cert.clone());
                }
            }
            Ok(builder)
        })),
        configure_request: header.map(|value| {
            let value = reqwest::header::HeaderValue::from_str(&value);
            Box::new(move |req: &mut reqwest::blocking::Request| {
                if let Ok(v) = &value {
                    let mut v = v.clone();
                    v.set_sensitive(true);
                    req.headers_mut().insert(reqwest::header::AUTHORIZATION, v);
                }
                Ok(())
            }) as Box<http::reqwest::ConfigureRequestFn>
        }),
    };
    options.backend = Some(Arc::new(std::sync::Mutex::new(backend)));
    Ok(Box::new(options))
}

/// Lists the remote refs matching `spec`, as (full name, peeled commit hex).
fn list_refs(
    repo: &gix::Repository,
    opts: &FetchOptions,
    transport_url: &str,
    redactor: &Redactor,
    spec: &str,
) -> Result<Vec<(String, String)>, FetchError> {
    let shown = GitUrl::parse(transport_url)
        .map(|u| u.redacted())
        .unwrap_or_else(|_| redact_str(transport_url));
    let remote = repo
        .remote_at(transport_url)
        .map_err(|e| FetchError::Workspace {
            url: shown.clone(),
            message: redactor.chain(&e),
        })?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(Some(spec), Direction::Fetch)
        .map_err(|e| FetchError::Workspace {
            url: shown.clone(),
            message: redactor.chain(&e),
        })?;
    let connection = connect(repo, &remote, opts, transport_url, redactor)?;
    let (ref_map, _handshake) = connection
        .ref_map(gix::progress::Discard, Default::default())
        .map_err(|e| classify(&shown, redactor.chain(&e), false))?;
    let mut out = Vec::new();
    for r in &ref_map.remote_refs {
        let (name, target, peeled) = r.unpack();
        let Some(id) = peeled.or(target) else {
            continue;
        };
        out.push((name.to_str_lossy().into_owned(), id.to_hex().to_string()));
    }
    Ok(out)
}

/// Writes the tree of `commit` into `dest` (created; must be absent or empty).
fn checkout(repo: &gix::Repository, commit: gix::ObjectId, dest: &Path) -> Result<(), String> {
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest).map_err(|e| e.to_string())?;
        if entries.next().is_some() {
            return Err("the destination directory is not empty".to_string());
        }
    }
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    let commit = repo
        .find_commit(commit)
        .map_err(|e| format!("reading the commit: {e}"))?;
    let tree = commit
        .tree_id()
        .map_err(|e| format!("reading the commit's tree: {e}"))?;
    write_tree(repo, tree.detach(), dest)
}

fn write_tree(repo: &gix::Repository, tree: gix::ObjectId, dir: &Path) -> Result<(), String> {
    use gix::object::tree::EntryKind;
    let tree = repo
        .find_tree(tree)
        .map_err(|e| format!("reading tree {tree}: {e}"))?;
    let entries: Vec<(Vec<u8>, EntryKind, gix::ObjectId)> = tree
        .iter()
        .map(|e| {
            e.map(|e| (e.filename().to_vec(), e.mode().kind(), e.oid().to_owned()))
                .map_err(|err| format!("decoding tree {}: {err}", tree.id))
        })
        .collect::<Result<_, _>>()?;
    for (name, kind, oid) in entries {
        let name_str =
            String::from_utf8(name).map_err(|_| "a file name is not UTF-8".to_string())?;
        if name_str.is_empty()
            || name_str == "."
            || name_str == ".."
            || name_str.contains('/')
            || name_str.contains('\0')
            || name_str.eq_ignore_ascii_case(".git")
        {
            return Err(format!("refusing unsafe path {name_str:?} in tree"));
        }
        let path = dir.join(&name_str);
        let blob = |oid: gix::ObjectId| -> Result<Vec<u8>, String> {
            repo.find_blob(oid)
                .map(|b| b.data.clone())
                .map_err(|e| format!("reading {}: {e}", path.display()))
        };
        match kind {
            EntryKind::Tree => {
                std::fs::create_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                write_tree(repo, oid, &path)?;
            }
            EntryKind::Blob | EntryKind::BlobExecutable => {
                std::fs::write(&path, blob(oid)?)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let mode = if kind == EntryKind::BlobExecutable {
                    0o755
                } else {
                    0o644
                };
                set_mode(&path, mode).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            EntryKind::Link => {
                let target = blob(oid)?;
                let target = String::from_utf8(target)
                    .map_err(|_| format!("symlink {} target is not UTF-8", path.display()))?;
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            EntryKind::Commit => {
                // A submodule: git leaves an empty directory when submodules are not recursed.
                std::fs::create_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}
