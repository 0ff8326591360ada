//! The OCIRepository reconciler (`source.toolkit.fluxcd.io/v1`).
//!
//! Each reconcile parses `spec.url`, reads the credentials (`spec.secretRef`, a
//! `kubernetes.io/dockerconfigjson` Secret) and CA (`spec.certSecretRef`), resolves `spec.ref`
//! (digest, else the highest tag matching the semver range, else the tag, else `latest`) to a
//! manifest digest with one HEAD request, and only when the revision
//! `<tag>@sha256:<digest>` differs from the stored artifact's (or `ignore` / `layerSelector`
//! changed) pulls the manifest and the selected layer. `extract` (the default) unpacks the layer
//! and archives the tree with the ignore rules, `copy` keeps the layer as it is; either is stored
//! as `ocirepository/<ns>/<name>/<digest>.tar.gz` with `latest.tar.gz` linked to it
//! (`status.url`). Conditions and reasons are Flux's: Ready / ArtifactInStorage with
//! `stored artifact for digest '<revision>'`, FetchFailed with `URLInvalid` (stalled),
//! `AuthenticationFailed`, `ReadOperationFailed` (no tag matches), `OCIArtifactPullFailed`,
//! `OCIArtifactLayerOperationFailed`.

use std::sync::Arc;

use futures::StreamExt;
use keelson_api::condition::{self, reasons, types};
use keelson_api::meta::Artifact;
use keelson_api::{OCIRepository, RECONCILE_REQUESTED_AT};
use keelson_source::oci::{OciError, OciRef, OciRepo, docker_config_auth, parse_url};
use keelson_source::{Filter, Storage};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::context::{Context, now};
use crate::helmrepository::{
    Failure, record_failure, secret_data, storage_failure, to_api, to_source,
};

/// `spec.layerSelector.operation` values.
const EXTRACT: &str = "extract";
const COPY: &str = "copy";

pub async fn run(ctx: Arc<Context>) {
    let api: Api<OCIRepository> = ctx.watched();
    crate::runner::controller_for(api, &ctx.run)
        .run(crate::runner::traced(reconcile), error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "ocirepository reconcile error");
            }
        })
        .await;
}

fn error_policy(repo: Arc<OCIRepository>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(repo.spec.interval.as_std())
}

fn failure(reason: &'static str, message: String) -> Failure {
    Failure {
        reason,
        message,
        stalled: false,
    }
}

async fn reconcile(repo: Arc<OCIRepository>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    let ns = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    if repo.meta().deletion_timestamp.is_some() {
        if let Err(err) = ctx.storage.remove_all("OCIRepository", &ns, &name) {
            tracing::warn!(%err, "ocirepository: failed to remove artifacts");
        }
        return Ok(Action::await_change());
    }
    if repo.spec.suspended() {
        return Ok(Action::await_change());
    }
    let mut status = repo.status.clone().unwrap_or_default();
    let generation = repo.meta().generation;
    let outcome = reconcile_inner(&repo, &ctx, &ns, &name, &status).await;
    match &outcome {
        Ok(stored) => {
            let message = format!("stored artifact for digest '{}'", stored.artifact.revision);
            for type_ in [types::READY, types::ARTIFACT_IN_STORAGE] {
                condition::set(
                    &mut status.conditions,
                    type_,
                    true,
                    reasons::SUCCEEDED,
                    &message,
                    generation,
                    now(),
                );
            }
            for type_ in [
                types::FETCH_FAILED,
                types::STALLED,
                types::RECONCILING,
                types::ARTIFACT_OUTDATED,
                types::STORAGE_OPERATION_FAILED,
            ] {
                condition::remove(&mut status.conditions, type_);
            }
            if stored.new {
                tracing::info!(namespace = %ns, name = %name, revision = %stored.artifact.revision, "ocirepository: stored a new artifact");
                ctx.event(
                    repo.as_ref(),
                    false,
                    reasons::NEW_ARTIFACT,
                    format!(
                        "stored artifact with revision '{}' from '{}'",
                        stored.artifact.revision, repo.spec.url
                    ),
                )
                .await;
            }
            status.artifact = Some(stored.artifact.clone());
            status.url = Some(stored.url.clone());
            status.observed_ignore = repo.spec.ignore.clone();
            status.observed_layer_selector = repo.spec.layer_selector.clone();
            status.observed_generation = generation;
        }
        Err(failure) => {
            tracing::warn!(namespace = %ns, name = %name, reason = failure.reason, message = %failure.message, "ocirepository: reconcile failed");
            record_failure(&mut status.conditions, failure, generation);
            if failure.stalled {
                status.observed_generation = generation;
            }
            ctx.event(repo.as_ref(), true, failure.reason, failure.message.clone())
                .await;
        }
    }
    status.last_handled_reconcile_at = repo.annotations().get(RECONCILE_REQUESTED_AT).cloned();
    ctx.patch_status::<OCIRepository>(&ns, &name, &status)
        .await?;
    match outcome {
        Err(failure) if failure.stalled => Ok(Action::await_change()),
        _ => Ok(Action::requeue(repo.spec.interval.as_std())),
    }
}

/// The artifact after a successful reconcile, its stable URL, and whether it is new.
struct Stored {
    artifact: Artifact,
    url: String,
    new: bool,
}

/// The client for `repo`: URL, `insecure`, CA and credentials.
async fn client_for(repo: &OCIRepository, ctx: &Context, ns: &str) -> Result<OciRepo, Failure> {
    let url = parse_url(&repo.spec.url).map_err(|e| Failure {
        reason: reasons::URL_INVALID,
        message: format!("URL validation failed for '{}': {e}", repo.spec.url),
        stalled: true,
    })?;
    let credentials = match &repo.spec.secret_ref {
        Some(r) => {
            let data = secret_data(ctx, ns, &r.name).await.map_err(|f| {
                failure(
                    reasons::AUTHENTICATION_FAILED,
                    format!("failed to get credential: {}", f.message),
                )
            })?;
            docker_config_auth(&data, &url.registry).map_err(|e| {
                failure(
                    reasons::AUTHENTICATION_FAILED,
                    format!("failed to get credential: {e}"),
                )
            })?
        }
        None => None,
    };
    let ca = match &repo.spec.cert_secret_ref {
        Some(r) => {
            let data = secret_data(ctx, ns, &r.name).await.map_err(|f| {
                failure(
                    reasons::AUTHENTICATION_FAILED,
                    format!(
                        "failed to generate transport for '{}': {}",
                        repo.spec.url, f.message
                    ),
                )
            })?;
            data.get("ca.crt").or_else(|| data.get("caFile")).cloned()
        }
        None => None,
    };
    Ok(OciRepo::new(
        url,
        repo.spec.insecure.unwrap_or(false),
        ca,
        credentials,
        repo.spec.timeout().as_std(),
    ))
}

fn oci_ref(repo: &OCIRepository) -> OciRef {
    let r = repo.spec.reference.clone().unwrap_or_default();
    OciRef {
        digest: r.digest,
        semver: r.semver,
        semver_filter: r.semver_filter,
        tag: r.tag,
    }
}

async fn reconcile_inner(
    repo: &OCIRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
    status: &keelson_api::ocirepository::OCIRepositoryStatus,
) -> Result<Stored, Failure> {
    if repo.spec.verify.is_some() {
        // Never pull unverified what the user asked to be verified.
        return Err(Failure {
            reason: reasons::UNSUPPORTED,
            message: "signature verification (spec.verify) is not supported by keelson yet".into(),
            stalled: true,
        });
    }
    let client = client_for(repo, ctx, ns).await?;
    let selector = repo.spec.layer_selector.clone().unwrap_or_default();
    let media_type = selector.media_type.clone().filter(|m| !m.is_empty());
    let operation = selector
        .operation
        .clone()
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| EXTRACT.into());
    let reference = oci_ref(repo);
    let tag = client
        .select_tag(&reference, media_type.as_deref())
        .await
        .map_err(|e| {
            failure(
                reasons::READ_OPERATION_FAILED,
                format!(
                    "failed to determine the artifact tag for '{}': {e}",
                    repo.spec.url
                ),
            )
        })?;
    let resolved = match tag {
        None => keelson_source::oci::Resolved {
            tag: None,
            digest: reference.digest.clone().unwrap_or_default(),
        },
        Some(tag) => {
            let digest_ref = OciRef {
                tag: Some(tag),
                ..OciRef::default()
            };
            client
                .resolve(&digest_ref, media_type.as_deref())
                .await
                .map_err(|e| {
                    failure(
                        reasons::OCI_PULL_FAILED,
                        format!("failed to determine artifact digest: {e}"),
                    )
                })?
        }
    };
    let revision = resolved.revision();
    let config_unchanged = status.observed_ignore == repo.spec.ignore
        && status.observed_layer_selector == repo.spec.layer_selector;
    if let Some(current) = &status.artifact
        && current.revision == revision
        && config_unchanged
        && ctx.storage.local_path(&current.path).is_file()
    {
        let url = ctx
            .storage
            .symlink(&to_source(current), "latest.tar.gz")
            .map_err(storage_failure)?;
        return Ok(Stored {
            artifact: current.clone(),
            url,
            new: false,
        });
    }
    let pull_failed = |e: OciError| {
        failure(
            reasons::OCI_PULL_FAILED,
            format!("failed to pull artifact from '{}': {e}", repo.spec.url),
        )
    };
    let manifest = client
        .manifest(&resolved.digest)
        .await
        .map_err(pull_failed)?;
    let layer_failed = |e: OciError| match e {
        OciError::NoLayers | OciError::NoLayerWithMediaType(_) => {
            failure(reasons::OCI_LAYER_OPERATION_FAILED, e.to_string())
        }
        other => pull_failed(other),
    };
    let blob = client
        .pull_layer(&manifest, media_type.as_deref())
        .await
        .map_err(layer_failed)?;
    if operation != EXTRACT && operation != COPY {
        return Err(failure(
            reasons::OCI_LAYER_OPERATION_FAILED,
            format!("unsupported layer operation: {operation}"),
        ));
    }
    let file = format!(
        "{}.tar.gz",
        revision.rsplit('@').next().unwrap_or(&revision)
    );
    let path = Storage::artifact_path("OCIRepository", ns, name, &file).map_err(storage_failure)?;
    let storage = ctx.storage.clone();
    let ignore = repo.spec.ignore.clone();
    let metadata = manifest.annotations.clone().filter(|a| !a.is_empty());
    let rev = revision.clone();
    let task = tokio::task::spawn_blocking(move || -> Result<_, Failure> {
        let artifact = if operation == COPY {
            storage
                .store_bytes(&path, &rev, &blob)
                .map_err(storage_failure)?
        } else {
            let work = tempfile::Builder::new()
                .prefix("keelson-oci-")
                .tempdir()
                .map_err(|e| {
                    failure(
                        reasons::STORAGE_OPERATION_FAILED,
                        format!("failed to create temporary working directory: {e}"),
                    )
                })?;
            keelson_source::unpack(blob.as_slice(), work.path()).map_err(|e| {
                failure(
                    reasons::OCI_LAYER_OPERATION_FAILED,
                    format!("failed to extract layer contents from artifact: {e}"),
                )
            })?;
            let filter = Filter::for_dir(work.path(), ignore.as_deref()).map_err(|e| {
                failure(
                    "SourceIgnoreError",
                    format!("failed to load source ignore patterns from repository: {e}"),
                )
            })?;
            storage
                .archive(&path, &rev, work.path(), &filter)
                .map_err(|e| {
                    failure(
                        keelson_source::REASON_ARCHIVE_OPERATION_FAILED,
                        format!("unable to archive artifact to storage: {e}"),
                    )
                })?
        };
        storage
            .garbage_collect(&artifact)
            .map_err(storage_failure)?;
        let url = storage
            .symlink(&artifact, "latest.tar.gz")
            .map_err(storage_failure)?;
        Ok((artifact, url))
    });
    let (artifact, url) = match task.await {
        Ok(result) => result?,
        Err(e) => {
            return Err(failure(reasons::STORAGE_OPERATION_FAILED, e.to_string()));
        }
    };
    let mut artifact = to_api(artifact);
    artifact.metadata = metadata;
    Ok(Stored {
        artifact,
        url,
        new: true,
    })
}
