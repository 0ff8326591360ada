//! The GitRepository reconciler: resolve the reference, fetch when the revision changed, store
//! a filtered tarball, report it in status.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use keelson_api::condition::{self, reasons, types};
use keelson_api::meta::Artifact;
use keelson_api::{GitRepository, GitRepositoryStatus, RECONCILE_REQUESTED_AT};
use keelson_source::{FetchOptions, GitAuth, GitReference, ObjectKey, SourceError};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::context::{Context, now};

/// A reconcile failure: the reason, the message and whether retrying can help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    reason: &'static str,
    message: String,
    stalled: bool,
}

pub async fn run(ctx: Arc<Context>) {
    let api: Api<GitRepository> = ctx.watched();
    crate::runner::controller_for(api, &ctx.run)
        .run(crate::runner::traced(reconcile), error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "gitrepository reconcile error");
            }
        })
        .await;
}

fn error_policy(repo: Arc<GitRepository>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(repo.spec.interval.as_std())
}

async fn reconcile(repo: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    if repo.meta().deletion_timestamp.is_some() || repo.spec.suspended() {
        return Ok(Action::await_change());
    }
    let ns = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let mut status = repo.status.clone().unwrap_or_default();
    let generation = repo.meta().generation;
    let outcome = reconcile_inner(&repo, &ctx, &ns, &name, &status).await;
    let previous = status.artifact.as_ref().map(|a| a.revision.clone());
    match &outcome {
        Ok(artifact) => {
            let message = format!("stored artifact for revision '{}'", artifact.revision);
            condition::set(
                &mut status.conditions,
                types::READY,
                true,
                reasons::SUCCEEDED,
                &message,
                generation,
                now(),
            );
            condition::set(
                &mut status.conditions,
                types::ARTIFACT_IN_STORAGE,
                true,
                reasons::SUCCEEDED,
                &message,
                generation,
                now(),
            );
            condition::remove(&mut status.conditions, types::FETCH_FAILED);
            condition::remove(&mut status.conditions, types::STALLED);
            condition::remove(&mut status.conditions, types::RECONCILING);
            status.artifact = Some(artifact.clone());
            status.observed_ignore = repo.spec.ignore.clone();
            status.observed_generation = generation;
            if previous.as_deref() != Some(artifact.revision.as_str()) {
                tracing::info!(namespace = %ns, name = %name, revision = %artifact.revision, "gitrepository: stored artifact for a new revision");
                ctx.event(
                    repo.as_ref(),
                    false,
                    reasons::NEW_REVISION,
                    format!("stored artifact for commit '{}'", artifact.revision),
                )
                .await;
            }
        }
        Err(failure) => {
            tracing::warn!(namespace = %ns, name = %name, reason = failure.reason, message = %failure.message, stalled = failure.stalled, "gitrepository: reconcile failed");
            condition::set(
                &mut status.conditions,
                types::READY,
                false,
                failure.reason,
                &failure.message,
                generation,
                now(),
            );
            condition::set(
                &mut status.conditions,
                types::FETCH_FAILED,
                true,
                failure.reason,
                &failure.message,
                generation,
                now(),
            );
            if failure.stalled {
                condition::set(
                    &mut status.conditions,
                    types::STALLED,
                    true,
                    failure.reason,
                    &failure.message,
                    generation,
                    now(),
                );
                status.observed_generation = generation;
            }
            ctx.event(repo.as_ref(), true, failure.reason, failure.message.clone())
                .await;
        }
    }
    let unsupported = repo.spec.unsupported_fields();
    if unsupported.is_empty() {
        condition::remove(&mut status.conditions, types::UNSUPPORTED_FIELDS);
    } else {
        let message = format!("keelson accepts but ignores: {}", unsupported.join(", "));
        condition::set(
            &mut status.conditions,
            types::UNSUPPORTED_FIELDS,
            true,
            reasons::UNSUPPORTED,
            message,
            generation,
            now(),
        );
    }
    status.last_handled_reconcile_at = repo.annotations().get(RECONCILE_REQUESTED_AT).cloned();
    ctx.patch_status::<GitRepository>(&ns, &name, &status)
        .await?;
    match outcome {
        Err(failure) if failure.stalled => Ok(Action::await_change()),
        _ => Ok(Action::requeue(repo.spec.interval.as_std())),
    }
}

async fn reconcile_inner(
    repo: &GitRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
    status: &GitRepositoryStatus,
) -> Result<Artifact, Failure> {
    let options = fetch_options(repo, ctx, ns).await?;
    let key = ObjectKey {
        kind: "GitRepository",
        namespace: ns,
        name,
    };
    // Ask the remote first: an unchanged revision with an intact artifact needs no fetch.
    let resolved = keelson_source::resolve(&options)
        .await
        .map_err(fetch_failure)?;
    if let Some(current) = &status.artifact {
        let same_ignore = status.observed_ignore == repo.spec.ignore;
        let local = ctx.storage.local_path(&current.path);
        if current.revision == resolved.revision && same_ignore && local.is_file() {
            tracing::debug!(namespace = %ns, name = %name, revision = %current.revision, "gitrepository: no change, artifact kept");
            return Ok(current.clone());
        }
    }
    let artifact =
        keelson_source::git_artifact(&ctx.storage, &key, &options, repo.spec.ignore.as_deref())
            .await
            .map_err(|err| match err {
                SourceError::Fetch(e) => fetch_failure(e),
                other => Failure {
                    reason: reasons::STORAGE_OPERATION_FAILED,
                    message: other.to_string(),
                    stalled: false,
                },
            })?;
    Ok(to_api(artifact))
}

async fn fetch_options(
    repo: &GitRepository,
    ctx: &Context,
    ns: &str,
) -> Result<FetchOptions, Failure> {
    let r = repo.spec.reference.clone().unwrap_or_default();
    let reference = GitReference {
        branch: r.branch,
        tag: r.tag,
        semver: r.semver,
        name: r.name,
        commit: r.commit,
    };
    let mut options = FetchOptions::new(repo.spec.url.clone(), reference);
    options.timeout = repo.spec.timeout().as_std();
    if let Some(secret_ref) = &repo.spec.secret_ref {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
        let secret = secrets
            .get_opt(&secret_ref.name)
            .await
            .map_err(|e| Failure {
                reason: reasons::AUTHENTICATION_FAILED,
                message: format!("failed to get secret '{ns}/{}': {e}", secret_ref.name),
                stalled: false,
            })?;
        let Some(secret) = secret else {
            return Err(Failure {
                reason: reasons::AUTHENTICATION_FAILED,
                message: format!("secret '{ns}/{}' not found", secret_ref.name),
                stalled: false,
            });
        };
        let data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        options.auth = GitAuth::from_secret_data(&data).map_err(|e| Failure {
            reason: reasons::AUTHENTICATION_FAILED,
            message: format!("invalid secret '{ns}/{}': {e}", secret_ref.name),
            stalled: true,
        })?;
    }
    Ok(options)
}

fn fetch_failure(err: keelson_source::FetchError) -> Failure {
    Failure {
        reason: err.reason(),
        stalled: err.is_stalled(),
        message: err.to_string(),
    }
}

fn to_api(artifact: keelson_source::Artifact) -> Artifact {
    let time = k8s_openapi::jiff::Timestamp::try_from(artifact.last_update_time)
        .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now());
    Artifact {
        path: artifact.path,
        url: artifact.url,
        revision: artifact.revision,
        digest: Some(artifact.digest),
        last_update_time: time.to_string(),
        size: i64::try_from(artifact.size).ok(),
        metadata: None,
    }
}
