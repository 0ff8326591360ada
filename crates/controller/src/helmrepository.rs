//! The HelmRepository reconciler.
//!
//! `type: default`: read the credentials (`spec.secretRef`, `spec.certSecretRef`), fetch
//! `index.yaml`, and when its normalised digest differs from the stored artifact's, store it as
//! `helmrepository/<ns>/<name>/index-<hex>.yaml` (revision `sha256:<hex>`, `status.url` the
//! stable `index.yaml` link beside it). `type: oci`: as Flux v2, a static object — nothing is
//! fetched and stale conditions are removed; HelmCharts use its URL and credentials directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use keelson_api::condition::{self, reasons, types};
use keelson_api::meta::Artifact;
use keelson_api::{HelmRepository, RECONCILE_REQUESTED_AT};
use keelson_source::{HelmRepoAuth, HelmRepoClient, HelmRepoError, ObjectKey, Storage};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::Digest;

use crate::context::{Context, now};

/// A reconcile failure: the reason, the message and whether retrying can help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) stalled: bool,
}

pub async fn run(ctx: Arc<Context>) {
    let api: Api<HelmRepository> = ctx.watched();
    crate::runner::controller_for(api, &ctx.run)
        .run(crate::runner::traced(reconcile), error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "helmrepository reconcile error");
            }
        })
        .await;
}

fn error_policy(repo: Arc<HelmRepository>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(repo.spec.interval().as_std())
}

/// The decoded data of Secret `ns/name`; a missing or unreadable Secret is an
/// `AuthenticationFailed` failure.
pub(crate) async fn secret_data(
    ctx: &Context,
    ns: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let secret = secrets.get_opt(name).await.map_err(|e| Failure {
        reason: reasons::AUTHENTICATION_FAILED,
        message: format!("failed to get secret '{ns}/{name}': {e}"),
        stalled: false,
    })?;
    let Some(secret) = secret else {
        return Err(Failure {
            reason: reasons::AUTHENTICATION_FAILED,
            message: format!("failed to get secret '{ns}/{name}': secret not found"),
            stalled: false,
        });
    };
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    for (k, v) in secret.string_data.unwrap_or_default() {
        data.insert(k, v.into_bytes());
    }
    Ok(data)
}

/// A client for the HTTP repository `repo` (in namespace `ns`), with its credentials.
pub(crate) async fn client_for(
    repo: &HelmRepository,
    ctx: &Context,
    ns: &str,
) -> Result<HelmRepoClient, Failure> {
    let secret = match &repo.spec.secret_ref {
        Some(r) => Some(secret_data(ctx, ns, &r.name).await?),
        None => None,
    };
    let cert = match &repo.spec.cert_secret_ref {
        Some(r) => Some(secret_data(ctx, ns, &r.name).await?),
        None => None,
    };
    let mut auth =
        HelmRepoAuth::from_secrets(secret.as_ref(), cert.as_ref()).map_err(repo_failure)?;
    auth.pass_credentials = repo.spec.pass_credentials.unwrap_or(false);
    HelmRepoClient::new(&repo.spec.url, auth, repo.spec.timeout().as_std()).map_err(repo_failure)
}

fn repo_failure(err: HelmRepoError) -> Failure {
    Failure {
        reason: err.index_reason(),
        stalled: err.is_stalled(),
        message: err.to_string(),
    }
}

async fn reconcile(repo: Arc<HelmRepository>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    let ns = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    if repo.meta().deletion_timestamp.is_some() {
        if let Err(err) = ctx.storage.remove_all("HelmRepository", &ns, &name) {
            tracing::warn!(%err, "helmrepository: failed to remove artifacts");
        }
        return Ok(Action::await_change());
    }
    if repo.spec.suspended() {
        return Ok(Action::await_change());
    }
    if repo.spec.is_oci() {
        return static_oci(&repo, &ctx, &ns, &name).await;
    }
    let mut status = repo.status.clone().unwrap_or_default();
    let generation = repo.meta().generation;
    let outcome = reconcile_inner(&repo, &ctx, &ns, &name, status.artifact.as_ref()).await;
    match &outcome {
        Ok((artifact, url, fetched)) => {
            let message = format!("stored artifact for revision '{}'", artifact.revision);
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
            for type_ in [types::FETCH_FAILED, types::STALLED, types::RECONCILING] {
                condition::remove(&mut status.conditions, type_);
            }
            status.artifact = Some(artifact.clone());
            status.url = Some(url.clone());
            status.observed_generation = generation;
            if let Some(note) = fetched {
                tracing::info!(namespace = %ns, name = %name, revision = %artifact.revision, "helmrepository: stored a new index");
                ctx.event(repo.as_ref(), false, reasons::NEW_ARTIFACT, note.clone())
                    .await;
            }
        }
        Err(failure) => {
            tracing::warn!(namespace = %ns, name = %name, reason = failure.reason, message = %failure.message, "helmrepository: reconcile failed");
            record_failure(&mut status.conditions, failure, generation);
            if failure.stalled {
                status.observed_generation = generation;
            }
            ctx.event(repo.as_ref(), true, failure.reason, failure.message.clone())
                .await;
        }
    }
    status.last_handled_reconcile_at = repo.annotations().get(RECONCILE_REQUESTED_AT).cloned();
    ctx.patch_status::<HelmRepository>(&ns, &name, &status)
        .await?;
    match outcome {
        Err(failure) if failure.stalled => Ok(Action::await_change()),
        _ => Ok(Action::requeue(repo.spec.interval().as_std())),
    }
}

/// Sets Ready=False and FetchFailed (and Stalled when retrying cannot help).
pub(crate) fn record_failure(
    conditions: &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    failure: &Failure,
    generation: Option<i64>,
) {
    condition::set(
        conditions,
        types::READY,
        false,
        failure.reason,
        &failure.message,
        generation,
        now(),
    );
    condition::set(
        conditions,
        types::FETCH_FAILED,
        true,
        failure.reason,
        &failure.message,
        generation,
        now(),
    );
    if failure.stalled {
        condition::set(
            conditions,
            types::STALLED,
            true,
            failure.reason,
            &failure.message,
            generation,
            now(),
        );
    } else {
        condition::remove(conditions, types::STALLED);
    }
}

/// `type: oci`: Flux keeps no conditions and no artifact on such objects.
async fn static_oci(
    repo: &HelmRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
) -> Result<Action, kube::Error> {
    let status = repo.status.clone().unwrap_or_default();
    if !status.conditions.is_empty() || status.artifact.is_some() || status.url.is_some() {
        let api: Api<HelmRepository> = Api::namespaced(ctx.client.clone(), ns);
        let patch = json!({"status": {"conditions": null, "artifact": null, "url": null,
            "observedGeneration": repo.meta().generation}});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        if let Err(err) = ctx.storage.remove_all("HelmRepository", ns, name) {
            tracing::warn!(%err, "helmrepository: failed to remove artifacts");
        }
    }
    Ok(Action::await_change())
}

/// Fetches the index; returns the artifact, the stable URL, and an event note when a new index
/// was stored.
async fn reconcile_inner(
    repo: &HelmRepository,
    ctx: &Context,
    ns: &str,
    name: &str,
    current: Option<&Artifact>,
) -> Result<(Artifact, String, Option<String>), Failure> {
    let client = client_for(repo, ctx, ns).await?;
    let index = client.fetch_index().await.map_err(|e| Failure {
        reason: e.index_reason(),
        stalled: e.is_stalled(),
        message: format!("failed to fetch Helm repository index: {e}"),
    })?;
    let bytes = index.normalised();
    let hex = hex(&sha2::Sha256::digest(&bytes));
    let revision = format!("sha256:{hex}");
    let storage = ctx.storage.clone();
    let key = ObjectKey {
        kind: "HelmRepository",
        namespace: ns,
        name,
    };
    let path = Storage::artifact_path(
        key.kind,
        key.namespace,
        key.name,
        &format!("index-{hex}.yaml"),
    )
    .map_err(storage_failure)?;
    if let Some(current) = current
        && current.revision == revision
        && ctx.storage.local_path(&current.path).is_file()
    {
        let local = to_source(current);
        let url = storage
            .symlink(&local, "index.yaml")
            .map_err(storage_failure)?;
        return Ok((current.clone(), url, None));
    }
    let size = bytes.len();
    let (charts, versions) = index.counts();
    let task = tokio::task::spawn_blocking(move || {
        let artifact = storage.store_bytes(&path, &revision, &bytes)?;
        storage.garbage_collect(&artifact)?;
        let url = storage.symlink(&artifact, "index.yaml")?;
        Ok::<_, keelson_source::StorageError>((artifact, url))
    });
    let (artifact, url) = match task.await {
        Ok(r) => r.map_err(storage_failure)?,
        Err(e) => {
            return Err(Failure {
                reason: reasons::STORAGE_OPERATION_FAILED,
                message: e.to_string(),
                stalled: false,
            });
        }
    };
    let note = format!(
        "fetched index of size {} from '{}' ({charts} charts, {versions} versions)",
        human_size(size),
        client.url()
    );
    Ok((to_api(artifact), url, Some(note)))
}

pub(crate) fn storage_failure(err: keelson_source::StorageError) -> Failure {
    Failure {
        reason: reasons::STORAGE_OPERATION_FAILED,
        message: err.to_string(),
        stalled: false,
    }
}

fn human_size(bytes: usize) -> String {
    if bytes < 1000 {
        format!("{bytes}B")
    } else if bytes < 1_000_000 {
        format!("{:.2}kB", bytes as f64 / 1000.0)
    } else {
        format!("{:.2}MB", bytes as f64 / 1_000_000.0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The storage's view of an API artifact (for links and garbage collection).
pub(crate) fn to_source(a: &Artifact) -> keelson_source::Artifact {
    keelson_source::Artifact {
        path: a.path.clone(),
        url: a.url.clone(),
        revision: a.revision.clone(),
        digest: a.digest.clone().unwrap_or_default(),
        size: a.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        last_update_time: std::time::SystemTime::now(),
    }
}

/// The API form of a stored artifact.
pub(crate) fn to_api(artifact: keelson_source::Artifact) -> Artifact {
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
