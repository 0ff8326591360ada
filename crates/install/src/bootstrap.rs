//! `bootstrap git`: put keelson's manifests into a Git repository and let keelson manage itself
//! from there.
//!
//! The steps, each idempotent so that a second run changes nothing:
//! 1. check out the branch (an empty repository or a missing branch starts a new history);
//! 2. write `<path>/flux-system/{gotk-components.yaml,gotk-sync.yaml,kustomization.yaml}`;
//! 3. commit and push, only if a file changed;
//! 4. install the bundle and wait for the controller;
//! 5. write the credentials Secret the GitRepository uses;
//! 6. apply the sync pair and wait until its Kustomization is Ready at the pushed commit.
//!
//! Hosting services that create deploy keys (GitHub, GitLab) fit in front of this: they create
//! the key through their API and then call [`bootstrap`] with a [`GitTarget`] carrying it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keelson_api::{Kustomization, condition};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cluster::{InstallError, Progress, apply_and_wait};
use crate::git::{Git, GitCredentials, GitError};
use crate::manifests::{InstallOptions, components};
use crate::sync::{SyncOptions, sync_objects};

/// The name of the sync objects and the credentials Secret (Flux's).
pub const SYNC_NAME: &str = "flux-system";

/// A repository and how to reach it.
#[derive(Debug, Clone)]
pub struct GitTarget {
    /// The repository URL (as the cluster will fetch it, too).
    pub url: String,
    /// The branch to commit to and follow.
    pub branch: String,
    /// Credentials for both pushing and the cluster's fetches.
    pub credentials: GitCredentials,
}

/// What to bootstrap.
#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    /// The repository.
    pub target: GitTarget,
    /// The directory in the repository for this cluster (`clusters/prod`).
    pub path: String,
    /// What to install.
    pub install: InstallOptions,
    /// The commit author, `Name <email>`.
    pub author_name: String,
    /// The commit author's e-mail.
    pub author_email: String,
    /// How long to wait for the controller and for the sync to be Ready.
    pub timeout: Duration,
    /// The GitRepository's interval.
    pub interval: String,
}

/// What a bootstrap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrapped {
    /// The commit the branch is at.
    pub commit: String,
    /// Whether this run pushed a new commit.
    pub pushed: bool,
    /// The revision the sync Kustomization applied (`main@sha1:…`).
    pub revision: String,
}

/// Why a bootstrap failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A git operation failed.
    #[error("failed to {step}")]
    Git {
        /// The step.
        step: &'static str,
        /// The cause.
        #[source]
        source: GitError,
    },
    /// Writing the manifests failed.
    #[error("failed to write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Installing failed.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// An API call failed.
    #[error("failed to {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// The sync Kustomization did not become Ready.
    #[error(
        "the Kustomization {namespace}/{SYNC_NAME} is not Ready at {revision} after {timeout:?}: {state}"
    )]
    NotReady {
        /// Its namespace.
        namespace: String,
        /// The revision waited for.
        revision: String,
        /// How long we waited.
        timeout: Duration,
        /// Its last Ready condition.
        state: String,
    },
    /// The path leaves the repository.
    #[error("the path {0} must be relative and stay inside the repository")]
    BadPath(String),
}

fn git_err(step: &'static str) -> impl FnOnce(GitError) -> BootstrapError {
    move |source| BootstrapError::Git { step, source }
}

/// The repository path in Flux's form: no leading `./`, no trailing `/`, `""` for the root.
pub fn clean_path(path: &str) -> Result<String, BootstrapError> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(BootstrapError::BadPath(path.into())),
            p => parts.push(p),
        }
    }
    if path.starts_with('/') {
        return Err(BootstrapError::BadPath(path.into()));
    }
    Ok(parts.join("/"))
}

/// The sync settings of a bootstrap.
pub fn sync_options(options: &BootstrapOptions) -> Result<SyncOptions, BootstrapError> {
    let path = clean_path(&options.path)?;
    let mut sync = SyncOptions::new(
        SYNC_NAME,
        options.install.namespace.clone(),
        options.target.url.clone(),
        options.target.branch.clone(),
        if path.is_empty() {
            "./".to_string()
        } else {
            format!("./{path}")
        },
    );
    sync.source_interval = options.interval.clone();
    if !matches!(options.target.credentials, GitCredentials::None) {
        sync.secret_name = Some(SYNC_NAME.into());
    }
    Ok(sync)
}

/// The three files bootstrap writes, relative to `<path>/flux-system/`.
pub fn files(options: &BootstrapOptions) -> Result<Vec<(&'static str, String)>, BootstrapError> {
    let sync = sync_options(options)?;
    Ok(vec![
        (
            "gotk-components.yaml",
            format!(
                "# keelson {} components; generated by `keelson bootstrap`, do not edit.\n{}",
                options.install.version,
                keelson_manifest::to_yaml_stream(&components(&options.install))
            ),
        ),
        (
            "gotk-sync.yaml",
            format!(
                "# generated by `keelson bootstrap`\n{}",
                keelson_manifest::to_yaml_stream(&sync_objects(&sync))
            ),
        ),
        (
            "kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n".to_string(),
        ),
    ])
}

/// Checks out the branch into `work`, writes the manifests, commits and pushes when they
/// changed. Returns the commit and whether it was pushed now.
pub fn push_manifests(
    options: &BootstrapOptions,
    work: &Path,
    progress: &dyn Progress,
) -> Result<(String, bool), BootstrapError> {
    let target = &options.target;
    let git = Git::new(work, &target.credentials).map_err(git_err("prepare git"))?;
    git.run(&["init", "-q"])
        .map_err(git_err("initialise the clone"))?;
    git.run(&["remote", "add", "origin", &target.url])
        .map_err(git_err("add the remote"))?;
    let branch_ref = format!("refs/heads/{}", target.branch);
    progress.step(&format!("cloning {} ({})", target.url, target.branch));
    let heads = git
        .run(&["ls-remote", "--heads", "origin", &branch_ref])
        .map_err(git_err("list the remote's branches"))?;
    if heads.is_empty() {
        progress.step(&format!(
            "branch {} does not exist yet; starting it",
            target.branch
        ));
        git.run(&["checkout", "-q", "--orphan", &target.branch])
            .map_err(git_err("start the branch"))?;
    } else {
        let spec = format!("+{branch_ref}:refs/remotes/origin/{}", target.branch);
        git.run(&["fetch", "-q", "origin", &spec])
            .map_err(git_err("fetch the branch"))?;
        git.run(&[
            "checkout",
            "-q",
            "-B",
            &target.branch,
            &format!("origin/{}", target.branch),
        ])
        .map_err(git_err("check out the branch"))?;
    }
    let path = clean_path(&options.path)?;
    let dir_rel = if path.is_empty() {
        "flux-system".to_string()
    } else {
        format!("{path}/flux-system")
    };
    let dir = work.join(&dir_rel);
    std::fs::create_dir_all(&dir).map_err(|source| BootstrapError::Write {
        path: dir.clone(),
        source,
    })?;
    for (name, text) in files(options)? {
        let file = dir.join(name);
        std::fs::write(&file, text).map_err(|source| BootstrapError::Write {
            path: file.clone(),
            source,
        })?;
    }
    git.run(&["add", "-A", "--", &dir_rel])
        .map_err(git_err("stage the manifests"))?;
    let changed = !git
        .run(&["status", "--porcelain", "--", &dir_rel])
        .map_err(git_err("inspect the working tree"))?
        .is_empty();
    if changed {
        let name = format!("user.name={}", options.author_name);
        let email = format!("user.email={}", options.author_email);
        git.run(&[
            "-c",
            &name,
            "-c",
            &email,
            "commit",
            "-q",
            "-m",
            &format!("Add keelson {} sync manifests", options.install.version),
        ])
        .map_err(git_err("commit"))?;
        progress.step(&format!("pushing to {}", target.branch));
        git.run(&["push", "-q", "origin", &format!("HEAD:{branch_ref}")])
            .map_err(git_err("push"))?;
    } else {
        progress.step("the manifests in the repository are up to date");
    }
    let commit = git
        .run(&["rev-parse", "HEAD"])
        .map_err(git_err("read the commit"))?;
    Ok((commit, changed))
}

/// The credentials Secret of the GitRepository, in Flux's format.
pub fn secret(namespace: &str, credentials: &GitCredentials) -> Option<Value> {
    let data = match credentials {
        GitCredentials::None => return None,
        GitCredentials::Ssh {
            identity,
            known_hosts,
        } => json!({
            "identity": String::from_utf8_lossy(identity),
            "known_hosts": String::from_utf8_lossy(known_hosts),
        }),
        GitCredentials::Basic { username, password } => json!({
            "username": username,
            "password": password,
        }),
    };
    Some(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": SYNC_NAME, "namespace": namespace },
        "type": "Opaque",
        "stringData": data,
    }))
}

/// Runs the whole bootstrap; see the module documentation.
pub async fn bootstrap(
    client: &Client,
    options: &BootstrapOptions,
    progress: &dyn Progress,
) -> Result<Bootstrapped, BootstrapError> {
    let work = tempfile::tempdir().map_err(|source| BootstrapError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let (commit, pushed) = {
        let options = options.clone();
        let dir = work.path().to_path_buf();
        // git runs blocking; keep the runtime's threads free. Progress is reported after.
        let result = tokio::task::spawn_blocking(move || push_manifests(&options, &dir, &()))
            .await
            .map_err(|e| BootstrapError::Write {
                path: work.path().to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        result?
    };
    progress.step(&format!(
        "{} {} at {commit}",
        if pushed {
            "pushed"
        } else {
            "repository already"
        },
        options.target.branch
    ));
    let ns = &options.install.namespace;
    progress.step("installing components");
    apply_and_wait(
        client,
        components(&options.install),
        options.timeout,
        progress,
    )
    .await?;
    let sync = sync_options(options)?;
    let mut objects = Vec::new();
    if let Some(secret) = secret(ns, &options.target.credentials) {
        objects.push(secret);
    }
    objects.extend(sync_objects(&sync));
    progress.step("applying the credentials Secret and the sync objects");
    apply_and_wait(client, objects, options.timeout, progress).await?;
    request_reconcile(client, ns, &sync.name, sync.kustomization()).await?;
    let revision = format!("{}@sha1:{commit}", options.target.branch);
    progress.step(&format!(
        "waiting for Kustomization {ns}/{} to be Ready at {revision}",
        sync.kustomization()
    ));
    wait_ready(client, ns, sync.kustomization(), &revision, options.timeout).await?;
    Ok(Bootstrapped {
        commit,
        pushed,
        revision,
    })
}

/// Asks for an immediate reconcile of the sync objects.
async fn request_reconcile(
    client: &Client,
    ns: &str,
    source: &str,
    kustomization: &str,
) -> Result<(), BootstrapError> {
    let token = keelson_api_now();
    let patch = json!({"metadata": {"annotations": {keelson_api::RECONCILE_REQUESTED_AT: token}}});
    let params = PatchParams::default();
    let repos: Api<keelson_api::GitRepository> = Api::namespaced(client.clone(), ns);
    repos
        .patch(source, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| BootstrapError::Kube {
            context: "request a reconcile of the GitRepository".into(),
            source,
        })?;
    let kss: Api<Kustomization> = Api::namespaced(client.clone(), ns);
    kss.patch(kustomization, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| BootstrapError::Kube {
            context: "request a reconcile of the Kustomization".into(),
            source,
        })?;
    Ok(())
}

fn keelson_api_now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Polls the Kustomization until it is Ready at `revision`.
pub async fn wait_ready(
    client: &Client,
    ns: &str,
    name: &str,
    revision: &str,
    timeout: Duration,
) -> Result<(), BootstrapError> {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), ns);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut state = "not found".to_string();
    loop {
        match api.get_opt(name).await {
            Ok(Some(ks)) => {
                if let Some(status) = &ks.status
                    && let Some(ready) = condition::get(&status.conditions, "Ready")
                {
                    state = format!("{}: {}", ready.reason, ready.message);
                    if ready.status == "True"
                        && status.last_applied_revision.as_deref() == Some(revision)
                    {
                        return Ok(());
                    }
                }
            }
            Ok(None) => {}
            Err(source) => {
                return Err(BootstrapError::Kube {
                    context: format!("read Kustomization {ns}/{name}"),
                    source,
                });
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BootstrapError::NotReady {
                namespace: ns.into(),
                revision: revision.into(),
                timeout,
                state,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(clean_path("./clusters/prod/").unwrap(), "clusters/prod");
        assert_eq!(clean_path(".").unwrap(), "");
        assert!(clean_path("../x").is_err());
        assert!(clean_path("/x").is_err());
    }
}
