//! Sources: fetching Git repositories and Helm chart repositories into Flux-compatible
//! artifacts.
//!
//! The only keelson crate that does network I/O for content. A GitRepository reconcile uses it
//! in three steps:
//!
//! 1. [`fetch::resolve`] (optional): ask the remote which commit the reference points to now,
//!    without downloading; if the revision equals the stored artifact's, there is nothing to do.
//! 2. [`fetch::fetch`]: fetch that commit (shallow where the reference allows) and check out its
//!    tree into a directory.
//! 3. [`Storage::archive`] with a [`Filter`] (Flux's ignore rules): a deterministic tar.gz with a
//!    `sha256:` digest, stored as `gitrepository/<ns>/<name>/<commit>.tar.gz`; then
//!    [`Storage::garbage_collect`]. [`server::artifact_router`] serves the files over HTTP.
//!
//! Helm repositories ([`helmrepo`]) keep their normalised index as an artifact and download
//! chart archives; [`chartpkg`] packages a chart folder (from a Git artifact) as `helm package`
//! lays it out.
//!
//! [`git_artifact`] does 2 and 3 in one call. Credentials ([`GitAuth`]) never appear in an
//! error message: URLs are printed without userinfo and secret values are scrubbed.
//!
//! # Example
//! ```no_run
//! # async fn example() -> Result<(), keelson_source::SourceError> {
//! use keelson_source::{FetchOptions, GitReference, ObjectKey, Storage, git_artifact};
//!
//! let storage = Storage::new("/var/lib/keelson/artifacts", "127.0.0.1:9090")?;
//! let options = FetchOptions::new("https://example.com/org/repo", GitReference::branch("main"));
//! let key = ObjectKey { kind: "GitRepository", namespace: "flux-system", name: "repo" };
//! let artifact = git_artifact(&storage, &key, &options, None).await?;
//! println!("{} {}", artifact.revision, artifact.digest);
//! # Ok(())
//! # }
//! ```

pub mod archive;
pub mod auth;
pub mod chartpkg;
pub mod fetch;
pub mod filter;
pub mod helmrepo;
pub mod oci;
pub mod reference;
pub mod semver;
pub mod server;
pub mod storage;
pub mod url;

pub use archive::{ArchiveError, unpack};
pub use auth::{AuthError, BasicAuth, GitAuth};
pub use fetch::{Checkout, FetchError, FetchOptions, Resolved, fetch, resolve};
pub use filter::{Filter, FilterError};
pub use helmrepo::{ChartVersion, HelmRepoAuth, HelmRepoClient, HelmRepoError, Index};
pub use reference::GitReference;
pub use storage::{Artifact, Storage, StorageError};

/// Identifies the object an artifact belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectKey<'a> {
    /// The kind, for example `GitRepository` (lower-cased in the path).
    pub kind: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The name.
    pub name: &'a str,
}

/// Why [`git_artifact`] failed; [`SourceError::reason`] gives the Flux condition reason.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Fetching or checking out failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The ignore rules are invalid.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// Writing the artifact failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The temporary checkout directory could not be created.
    #[error("failed to create a temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
}

/// Flux's reason for a failure to write an artifact.
pub const REASON_ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
/// Flux's reason for a failure to use the storage.
pub const REASON_STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";

impl SourceError {
    /// The Flux Ready=False reason: `URLInvalid`, `AuthenticationFailed`, `GitOperationFailed`,
    /// `ArchiveOperationFailed` or `StorageOperationFailed`.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Fetch(e) => e.reason(),
            SourceError::Filter(_) => REASON_ARCHIVE_OPERATION_FAILED,
            SourceError::Storage(StorageError::Archive(_)) => REASON_ARCHIVE_OPERATION_FAILED,
            SourceError::Storage(_) | SourceError::TempDir(_) => REASON_STORAGE_OPERATION_FAILED,
        }
    }

    /// Whether retrying without a spec change cannot help (Flux: Stalled).
    pub fn is_stalled(&self) -> bool {
        match self {
            SourceError::Fetch(e) => e.is_stalled(),
            SourceError::Filter(FilterError::Pattern { .. }) => true,
            _ => false,
        }
    }
}

/// Fetches `options`, filters the tree with Flux's rules plus `spec_ignore`, stores the archive
/// as `<kind>/<ns>/<name>/<commit>.tar.gz` and garbage-collects older artifacts of the object.
pub async fn git_artifact(
    storage: &Storage,
    key: &ObjectKey<'_>,
    options: &FetchOptions,
    spec_ignore: Option<&str>,
) -> Result<Artifact, SourceError> {
    let work = tempfile::Builder::new()
        .prefix("keelson-checkout-")
        .tempdir()
        .map_err(SourceError::TempDir)?;
    let dest = work.path().join("tree");
    let checkout = fetch(options, &dest).await?;
    let storage = storage.clone();
    let key_path = Storage::artifact_path(
        key.kind,
        key.namespace,
        key.name,
        &format!("{}.tar.gz", checkout.resolved.commit),
    )?;
    let spec_ignore = spec_ignore.map(str::to_string);
    let task = tokio::task::spawn_blocking(move || -> Result<Artifact, SourceError> {
        let filter = Filter::for_dir(&checkout.path, spec_ignore.as_deref())?;
        let artifact = storage.archive(
            &key_path,
            &checkout.resolved.revision,
            &checkout.path,
            &filter,
        )?;
        storage.garbage_collect(&artifact)?;
        drop(work);
        Ok(artifact)
    });
    match task.await {
        Ok(result) => result,
        Err(join) => Err(SourceError::TempDir(std::io::Error::other(
            join.to_string(),
        ))),
    }
}
