//! The Kustomization reconciler.
//!
//! Gates first — deleted? finalize; suspended? stop; source ready? dependencies ready? — then
//! the steps, each failure with its own Ready=False reason: fetch the artifact, build it with
//! the kustomize engine, substitute variables, apply in stages, prune what left the
//! inventory, assess health, report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use keelson_api::condition::{self, reasons, types};
use keelson_api::kustomization::{ResourceInventory, ResourceRef};
use keelson_api::{
    GitRepository, Kustomization, KustomizationStatus, OCIRepository, RECONCILE_REQUESTED_AT,
};
use keelson_apply::{ApplyOptions, Inventory};
use keelson_manifest::ObjectId;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::Value;

use crate::context::{Context, now};

/// A failed step: its Ready reason and a message naming what failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    reason: &'static str,
    message: String,
    stalled: bool,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            stalled: false,
        }
    }
}

pub async fn run(ctx: Arc<Context>) {
    let api: Api<Kustomization> = ctx.watched();
    let controller = crate::runner::controller_for(api.clone(), &ctx.run);
    let store = controller.store();
    let dependents = store.clone();
    let oci_store = store.clone();
    let repos: Api<GitRepository> = ctx.watched();
    let oci_repos: Api<OCIRepository> = ctx.watched();
    controller
        // A new artifact triggers the Kustomizations that read it.
        .watches(repos, watcher::Config::default(), move |repo| {
            readers_of(&store, "GitRepository", &repo)
        })
        .watches(oci_repos, watcher::Config::default(), move |repo| {
            readers_of(&oci_store, "OCIRepository", &repo)
        })
        // A Kustomization that changes (becomes Ready) triggers those that depend on it.
        .watches(api, watcher::Config::default(), move |dep| {
            crate::runner::dependents_of(&dependents, &dep, |k: &Kustomization| &k.spec.depends_on)
        })
        .run(crate::runner::traced(reconcile), error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "kustomization reconcile error");
            }
        })
        .await;
}

/// The Kustomizations whose `sourceRef` is `kind` `source`.
fn readers_of<S: Resource>(
    store: &kube::runtime::reflector::Store<Kustomization>,
    kind: &str,
    source: &S,
) -> Vec<ObjectRef<Kustomization>> {
    let (ns, name) = (source.namespace().unwrap_or_default(), source.name_any());
    store
        .state()
        .iter()
        .filter(|k| {
            k.spec.source_ref.kind == kind
                && k.spec.source_ref.name == name
                && k.source_namespace().as_deref() == Some(ns.as_str())
        })
        .map(|k| ObjectRef::from_obj(k.as_ref()))
        .collect()
}

fn error_policy(ks: Arc<Kustomization>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(ks.spec.retry_interval().as_std())
}

async fn reconcile(ks: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    let ns = ks.namespace().unwrap_or_default();
    let name = ks.name_any();
    let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);

    // Gate: deleted → prune what we applied (unless orphaning), then let it go.
    if ks.meta().deletion_timestamp.is_some() {
        if crate::runner::has_finalizer(ks.as_ref()) {
            finalize(&ks, &ctx).await;
            crate::runner::remove_finalizer(&api, ks.as_ref()).await?;
        }
        return Ok(Action::await_change());
    }
    crate::runner::add_finalizer(&api, ks.as_ref()).await?;
    // Gate: suspended.
    if ks.spec.suspended() {
        return Ok(Action::await_change());
    }

    let generation = ks.meta().generation;
    let mut status = ks.status.clone().unwrap_or_default();
    status.last_handled_reconcile_at = ks.annotations().get(RECONCILE_REQUESTED_AT).cloned();

    // Gate: remote clusters are not supported yet — say so rather than apply locally.
    if ks.spec.kube_config.is_some() {
        let failure = Failure {
            reason: reasons::UNSUPPORTED,
            message: "spec.kubeConfig (remote clusters) is not supported by keelson yet".into(),
            stalled: true,
        };
        return report(&ks, &ctx, status, Err(failure), Duration::MAX).await;
    }
    // Gate: the source has an artifact.
    let artifact = match source_artifact(&ks, &ctx).await {
        Ok(a) => a,
        Err(failure) => {
            return report(
                &ks,
                &ctx,
                status,
                Err(failure),
                ks.spec.retry_interval().as_std(),
            )
            .await;
        }
    };
    // Gate: dependencies are ready.
    if let Err(failure) = dependencies_ready(&ks, &ctx).await {
        let retry = if failure.stalled {
            Duration::MAX
        } else {
            ctx.requeue_dependency
        };
        return report(&ks, &ctx, status, Err(failure), retry).await;
    }

    status.last_attempted_revision = Some(artifact.revision.clone());
    if status.last_applied_revision.as_deref() != Some(artifact.revision.as_str()) {
        let message = format!("Fetching manifests for revision {}", artifact.revision);
        condition::set(
            &mut status.conditions,
            types::RECONCILING,
            true,
            reasons::PROGRESSING,
            message,
            generation,
            now(),
        );
        ctx.patch_status::<Kustomization>(&ns, &name, &status)
            .await?;
    }
    let outcome = apply_revision(&ks, &ctx, &artifact, &mut status).await;
    let retry = ks.spec.retry_interval().as_std();
    let requeue = match &outcome {
        Ok(_) => ks.spec.interval.as_std(),
        // The source's status names an artifact this controller's storage lacks: a new leader
        // or a restarted Pod starts with empty storage, and its source reconcile stores the
        // artifact again within moments — check back soon, not after retryInterval.
        Err(failure)
            if failure.reason == reasons::ARTIFACT_FAILED
                && !ctx.storage.local_path(&artifact.path).is_file() =>
        {
            ctx.requeue_dependency.min(retry)
        }
        Err(_) => retry,
    };
    report(
        &ks,
        &ctx,
        status,
        outcome.map(|_| artifact.revision),
        requeue,
    )
    .await
}

/// The steps for one revision: fetch → build → substitute → apply → prune → assess.
async fn apply_revision(
    ks: &Kustomization,
    ctx: &Context,
    artifact: &keelson_api::meta::Artifact,
    status: &mut KustomizationStatus,
) -> Result<(), Failure> {
    let work = tempfile::Builder::new()
        .prefix("keelson-ks-")
        .tempdir()
        .map_err(|e| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("failed to create a work directory: {e}"),
            )
        })?;
    let root = work.path().join("src");
    fetch(ctx, artifact, &root).await?;
    let identities = decryption_keys(ks, ctx).await?;
    let mut objects = build(ks, &root, identities).await?;
    substitute(ks, ctx, &mut objects).await?;
    crate::overlay::common_metadata(&mut objects, &ks.spec);
    let applier = applier_for(ks, ctx)?;
    record_planned(ks, ctx, &objects, status).await?;
    let owner = owner_labels(ks);
    let options = ApplyOptions {
        force: ks.spec.force,
        owner_labels: owner.clone(),
        ..Default::default()
    };
    let applied = applier
        .apply(objects, &options)
        .await
        .map_err(|e| Failure::new(reasons::RECONCILIATION_FAILED, chain(&e)))?;
    let changed: Vec<String> = applied
        .changes
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                keelson_apply::Action::Unchanged | keelson_apply::Action::Skipped
            )
        })
        .map(|c| format!("{} {}", c.id, c.action))
        .collect();
    if !changed.is_empty() {
        ctx.event(ks, false, "Progressing", changed.join("\n"))
            .await;
    }
    // The new inventory is recorded even if prune or health fail: it is what is applied now.
    let old = old_inventory(status);
    status.inventory = Some(status_inventory(&applied.inventory));
    if ks.spec.prune {
        let stale = old.missing_from(&applied.inventory);
        let pruned = applier
            .prune(stale, &owner)
            .await
            .map_err(|e| Failure::new(reasons::PRUNE_FAILED, chain(&e)))?;
        let deleted: Vec<String> = pruned
            .iter()
            .filter(|c| c.action == keelson_apply::Action::Deleted)
            .map(|c| format!("{} deleted", c.id))
            .collect();
        if !deleted.is_empty() {
            ctx.event(ks, false, "Progressing", deleted.join("\n"))
                .await;
        }
    }
    assess(ks, &applier, &applied.inventory, status).await
}

/// The status form of an inventory.
fn status_inventory(inventory: &Inventory) -> ResourceInventory {
    ResourceInventory {
        entries: inventory
            .entries()
            .map(|(id, v)| ResourceRef {
                id: id.into(),
                v: v.into(),
            })
            .collect(),
    }
}

/// Before anything is applied, widens the recorded inventory to include every object of the
/// new revision. Should the controller stop half-way through the apply, the next reconcile then
/// knows about each object it may have created and prunes those that left Git — no orphans.
/// (Only objects carrying this Kustomization's owner labels are ever pruned.)
async fn record_planned(
    ks: &Kustomization,
    ctx: &Context,
    objects: &[Value],
    status: &mut KustomizationStatus,
) -> Result<(), Failure> {
    let old = old_inventory(status);
    let ids: Vec<ObjectId> = objects.iter().map(ObjectId::of).collect();
    let planned = Inventory::of(&ids);
    if planned.missing_from(&old).is_empty() {
        return Ok(());
    }
    let union = Inventory::from_entries(
        old.entries()
            .chain(planned.entries())
            .map(|(id, v)| (id.to_string(), v.to_string())),
    );
    status.inventory = Some(status_inventory(&union));
    ctx.patch_status::<Kustomization>(&ks.namespace().unwrap_or_default(), &ks.name_any(), status)
        .await
        .map_err(|e| {
            Failure::new(
                reasons::RECONCILIATION_FAILED,
                format!("failed to record the planned inventory: {e}"),
            )
        })
}

/// The applier for this Kustomization: the controller's own, or one impersonating
/// `spec.serviceAccountName` (else the controller's default ServiceAccount, if set).
fn applier_for(ks: &Kustomization, ctx: &Context) -> Result<Arc<keelson_apply::Applier>, Failure> {
    let account = ks
        .spec
        .service_account_name
        .as_deref()
        .or(ctx.default_service_account.as_deref());
    match account {
        None => Ok(ctx.applier.clone()),
        Some(sa) => ctx
            .impersonating(&ks.namespace().unwrap_or_default(), sa)
            .map_err(|message| Failure::new(reasons::RECONCILIATION_FAILED, message)),
    }
}

async fn source_artifact(
    ks: &Kustomization,
    ctx: &Context,
) -> Result<keelson_api::meta::Artifact, Failure> {
    let source = &ks.spec.source_ref;
    let ns = ks.source_namespace().unwrap_or_default();
    match source.kind.as_str() {
        "GitRepository" => {
            artifact_of::<GitRepository>(ctx, &ns, &source.name, |r| {
                r.status.and_then(|s| s.artifact)
            })
            .await
        }
        "OCIRepository" => {
            artifact_of::<OCIRepository>(ctx, &ns, &source.name, |r| {
                r.status.and_then(|s| s.artifact)
            })
            .await
        }
        other => Err(Failure {
            reason: reasons::ARTIFACT_FAILED,
            message: format!(
                "source kind '{other}' is not supported by keelson yet (GitRepository and OCIRepository are)"
            ),
            stalled: true,
        }),
    }
}

/// The artifact of source `K` `ns/name`, with Flux's messages when it is missing or not ready.
async fn artifact_of<K>(
    ctx: &Context,
    ns: &str,
    name: &str,
    artifact: impl FnOnce(K) -> Option<keelson_api::meta::Artifact>,
) -> Result<keelson_api::meta::Artifact, Failure>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let kind = K::kind(&());
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let object = api
        .get_opt(name)
        .await
        .map_err(|e| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("failed to get source: {e}"),
            )
        })?
        .ok_or_else(|| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("Source '{kind}/{ns}/{name}' not found"),
            )
        })?;
    artifact(object).ok_or_else(|| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!("Source '{kind}/{ns}/{name}' is not ready, artifact not found"),
        )
    })
}

/// Every dependency exists, is Ready and has applied its source's latest revision; a cycle is
/// reported as such (and is stalled: retrying cannot fix it).
async fn dependencies_ready(ks: &Kustomization, ctx: &Context) -> Result<(), Failure> {
    let own_ns = ks.namespace().unwrap_or_default();
    let me = (own_ns.clone(), ks.name_any());
    // Walk the dependency graph breadth-first looking for ourselves.
    let mut queue: Vec<(String, String)> = deps_of(ks, &own_ns);
    let mut seen = BTreeSet::new();
    while let Some(next) = queue.pop() {
        if next == me {
            return Err(Failure {
                reason: reasons::DEPENDENCY_CYCLE,
                message: format!(
                    "circular dependency: {}/{} depends on itself through dependsOn",
                    me.0, me.1
                ),
                stalled: true,
            });
        }
        if !seen.insert(next.clone()) {
            continue;
        }
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &next.0);
        if let Ok(Some(dep)) = api.get_opt(&next.1).await {
            queue.extend(deps_of(&dep, &next.0));
        }
    }
    for dep_ref in &ks.spec.depends_on {
        let ns = dep_ref.namespace.clone().unwrap_or_else(|| own_ns.clone());
        let name = &dep_ref.name;
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);
        let dep = api
            .get_opt(name)
            .await
            .map_err(|e| {
                Failure::new(
                    reasons::DEPENDENCY_NOT_READY,
                    format!("unable to get dependency '{ns}/{name}': {e}"),
                )
            })?
            .ok_or_else(|| {
                Failure::new(
                    reasons::DEPENDENCY_NOT_READY,
                    format!("dependency '{ns}/{name}' not found"),
                )
            })?;
        // A readyExpr replaces the built-in readiness check (Flux's default behaviour).
        if let Some(expr) = dep_ref
            .ready_expr
            .as_deref()
            .filter(|e| !e.trim().is_empty())
        {
            let as_value = |k: &Kustomization| serde_json::to_value(k).unwrap_or(Value::Null);
            match crate::health_expr::ready_expr(expr, &as_value(&dep), &as_value(ks)) {
                Ok(true) => continue,
                Ok(false) => {
                    return Err(Failure::new(
                        reasons::DEPENDENCY_NOT_READY,
                        format!("dependency '{ns}/{name}' is not ready according to readyExpr"),
                    ));
                }
                Err(message) if message.starts_with("invalid readyExpr") => {
                    return Err(Failure {
                        reason: reasons::INVALID_CEL_EXPRESSION,
                        message: format!("dependsOn '{ns}/{name}': {message}"),
                        stalled: true,
                    });
                }
                Err(message) => {
                    return Err(Failure::new(
                        reasons::DEPENDENCY_NOT_READY,
                        format!("dependency '{ns}/{name}': {message}"),
                    ));
                }
            }
        }
        let status = dep.status.clone().unwrap_or_default();
        let ready = condition::is_true(&status.conditions, types::READY)
            && status.observed_generation == dep.meta().generation;
        // Ready at the latest revision of its source, not an older one.
        let current = status.last_applied_revision.is_some()
            && status.last_applied_revision == status.last_attempted_revision;
        if !ready || !current {
            return Err(Failure::new(
                reasons::DEPENDENCY_NOT_READY,
                format!("dependency '{ns}/{name}' is not ready"),
            ));
        }
    }
    Ok(())
}

fn deps_of(ks: &Kustomization, own_ns: &str) -> Vec<(String, String)> {
    ks.spec
        .depends_on
        .iter()
        .map(|d| {
            (
                d.namespace.clone().unwrap_or_else(|| own_ns.to_string()),
                d.name.clone(),
            )
        })
        .collect()
}

/// Unpacks the artifact from the local storage into `root`.
async fn fetch(
    ctx: &Context,
    artifact: &keelson_api::meta::Artifact,
    root: &Path,
) -> Result<(), Failure> {
    let path = ctx.storage.local_path(&artifact.path);
    let root = root.to_path_buf();
    let revision = artifact.revision.clone();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| {
            let message = if e.kind() == std::io::ErrorKind::NotFound {
                format!("artifact for revision {revision} is not in storage yet (its source stores it again after a controller restart)")
            } else {
                format!("failed to open artifact for revision {revision}: {e}")
            };
            Failure::new(reasons::ARTIFACT_FAILED, message)
        })?;
        keelson_source::unpack(std::io::BufReader::new(file), &root).map_err(|e| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("failed to unpack artifact for revision {revision}: {e}"),
            )
        })
    })
    .await
    .map_err(|e| Failure::new(reasons::ARTIFACT_FAILED, e.to_string()))?
}

/// Builds `spec.path` of the unpacked tree with Flux's settings and load restrictor.
/// The age identities of `spec.decryption`, if set (keys never leave memory).
async fn decryption_keys(
    ks: &Kustomization,
    ctx: &Context,
) -> Result<Option<keelson_sops::Identities>, Failure> {
    let Some(decryption) = &ks.spec.decryption else {
        return Ok(None);
    };
    if decryption.provider != "sops" {
        return Err(Failure {
            reason: reasons::DECRYPTION_FAILED,
            message: format!(
                "decryption provider '{}' is not supported (only sops)",
                decryption.provider
            ),
            stalled: true,
        });
    }
    let Some(secret_ref) = &decryption.secret_ref else {
        return Ok(Some(keelson_sops::Identities::new()));
    };
    let ns = ks.namespace().unwrap_or_default();
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&secret_ref.name)
        .await
        .map_err(|e| {
            Failure::new(
                reasons::DECRYPTION_FAILED,
                format!(
                    "failed to get decryption Secret '{ns}/{}': {e}",
                    secret_ref.name
                ),
            )
        })?
        .ok_or_else(|| {
            Failure::new(
                reasons::DECRYPTION_FAILED,
                format!("decryption Secret '{ns}/{}' not found", secret_ref.name),
            )
        })?;
    let data = secret.data.unwrap_or_default();
    keelson_sops::kube::identities_from_secret(
        data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())),
    )
    .map(Some)
    .map_err(|e| {
        Failure::new(
            reasons::DECRYPTION_FAILED,
            format!("invalid keys in Secret '{ns}/{}': {e}", secret_ref.name),
        )
    })
}

async fn build(
    ks: &Kustomization,
    root: &Path,
    identities: Option<keelson_sops::Identities>,
) -> Result<Vec<Value>, Failure> {
    let rel = ks.spec.path.clone().unwrap_or_default();
    let dir = confined(root, &rel).ok_or_else(|| {
        Failure::new(
            reasons::BUILD_FAILED,
            format!("path '{rel}' points outside the source"),
        )
    })?;
    if !dir.is_dir() {
        return Err(Failure::new(
            reasons::ARTIFACT_FAILED,
            format!("kustomization path not found: '{rel}' does not exist in the source"),
        ));
    }
    let spec = ks.spec.clone();
    let root_display = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crate::overlay::prepare(&dir, &spec).map_err(|e| {
            Failure::new(reasons::BUILD_FAILED, scrub(&e.to_string(), &root_display))
        })?;
        let options = keelson_kustomize::Options {
            load_restrictor: keelson_kustomize::LoadRestrictor::None,
        };
        // Nothing outside the artifact is read, even through a symlink (artifacts hold none
        // today; this keeps it so whatever a source puts in them).
        let disk = keelson_kustomize::RealFs::new(&root_display)
            .map_err(|e| Failure::new(reasons::ARTIFACT_FAILED, e.to_string()))?;
        let result = match identities {
            Some(ids) => keelson_kustomize::build(
                &crate::decrypt::DecryptingFs::new(disk, ids),
                &dir,
                &options,
            ),
            None => keelson_kustomize::build(&disk, &dir, &options),
        };
        result.map_err(|e| {
            let message = scrub(&e.to_string(), &root_display);
            let reason = if message.contains("failed to decrypt") {
                reasons::DECRYPTION_FAILED
            } else {
                reasons::BUILD_FAILED
            };
            Failure::new(reason, message)
        })
    })
    .await
    .map_err(|e| Failure::new(reasons::BUILD_FAILED, e.to_string()))?
}

/// An error and its causes, outermost first ("applying x: forbidden: …"), so that the
/// condition says why, not only what.
fn chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Error messages name files relative to the source root, not the controller's temp dir.
fn scrub(message: &str, root: &Path) -> String {
    message
        .replace(&format!("{}/", root.display()), "")
        .replace(&root.display().to_string(), ".")
}

/// `root/rel`, or None if `rel` climbs out of `root`.
fn confined(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for part in Path::new(rel).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !out.pop() || !out.starts_with(root) {
                    return None;
                }
            }
            Component::Prefix(_) => return None,
        }
    }
    out.starts_with(root).then_some(out)
}

/// postBuild substitution, strict as Flux: an unset variable without a default fails the build.
async fn substitute(
    ks: &Kustomization,
    ctx: &Context,
    objects: &mut [Value],
) -> Result<(), Failure> {
    if ks.spec.post_build.is_none() {
        return Ok(());
    }
    let failed = |e: crate::render::RenderError| Failure::new(reasons::BUILD_FAILED, e.to_string());
    let vars = crate::render::variables(&ctx.client, ks)
        .await
        .map_err(failed)?;
    crate::render::substitute_objects(objects, &vars).map_err(failed)
}

fn owner_labels(ks: &Kustomization) -> BTreeMap<String, String> {
    crate::render::owner_labels(ks)
}

fn old_inventory(status: &KustomizationStatus) -> Inventory {
    Inventory::from_entries(
        status
            .inventory
            .iter()
            .flat_map(|i| i.entries.iter())
            .map(|e| (e.id.clone(), e.v.clone())),
    )
}

/// Waits for health: every applied object with `wait`, else the named `healthChecks`.
async fn assess(
    ks: &Kustomization,
    applier: &keelson_apply::Applier,
    inventory: &Inventory,
    status: &mut KustomizationStatus,
) -> Result<(), Failure> {
    let generation = ks.meta().generation;
    let own_ns = ks.namespace().unwrap_or_default();
    let ids: Vec<ObjectId> = if ks.spec.wait() {
        inventory.ids()
    } else {
        ks.spec
            .health_checks
            .iter()
            .map(|h| {
                let (group, version) =
                    keelson_manifest::split_api_version(h.api_version.as_deref().unwrap_or("v1"));
                ObjectId {
                    group: group.into(),
                    version: version.into(),
                    kind: h.kind.clone(),
                    namespace: h.namespace.clone().unwrap_or_else(|| own_ns.clone()),
                    name: h.name.clone(),
                }
            })
            .collect()
    };
    if ids.is_empty() {
        condition::remove(&mut status.conditions, types::HEALTHY);
        return Ok(());
    }
    let exprs =
        crate::health_expr::HealthExprs::compile(&ks.spec.health_check_exprs).map_err(|e| {
            Failure {
                reason: reasons::INVALID_CEL_EXPRESSION,
                message: e.to_string(),
                stalled: true,
            }
        })?;
    let timeout = ks.spec.timeout().as_std();
    let judge = |id: &ObjectId, live: &Value| exprs.judge(id, live);
    let verdict = applier
        .wait_healthy_with(&ids, timeout, &judge)
        .await
        .map_err(|e| Failure::new(reasons::HEALTH_CHECK_FAILED, chain(&e)))?;
    match verdict {
        Ok(()) => {
            condition::set(
                &mut status.conditions,
                types::HEALTHY,
                true,
                reasons::SUCCEEDED,
                "Health check passed",
                generation,
                now(),
            );
            Ok(())
        }
        Err(pending) => {
            let list: Vec<String> = pending
                .iter()
                .map(|(id, h)| format!("{id} status: '{h}'"))
                .collect();
            let message = format!("health check failed after {timeout:?}: {}", list.join(", "));
            condition::set(
                &mut status.conditions,
                types::HEALTHY,
                false,
                reasons::HEALTH_CHECK_FAILED,
                &message,
                generation,
                now(),
            );
            Err(Failure::new(reasons::HEALTH_CHECK_FAILED, message))
        }
    }
}

/// Writes the outcome into status (Ready, Reconciling, Stalled, revisions), records an event
/// and schedules the next reconcile.
async fn report(
    ks: &Kustomization,
    ctx: &Context,
    mut status: KustomizationStatus,
    outcome: Result<String, Failure>,
    requeue: Duration,
) -> Result<Action, kube::Error> {
    let generation = ks.meta().generation;
    condition::remove(&mut status.conditions, types::RECONCILING);
    let action = match outcome {
        Ok(revision) => {
            let message = format!("Applied revision: {revision}");
            let changed = status.last_applied_revision.as_deref() != Some(revision.as_str());
            condition::set(
                &mut status.conditions,
                types::READY,
                true,
                reasons::RECONCILIATION_SUCCEEDED,
                &message,
                generation,
                now(),
            );
            condition::remove(&mut status.conditions, types::STALLED);
            status.last_applied_revision = Some(revision);
            status.observed_generation = generation;
            if changed {
                ctx.event(ks, false, reasons::RECONCILIATION_SUCCEEDED, message)
                    .await;
            }
            Action::requeue(requeue)
        }
        Err(failure) => {
            condition::set(
                &mut status.conditions,
                types::READY,
                false,
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
            } else {
                condition::remove(&mut status.conditions, types::STALLED);
                if failure.reason != reasons::DEPENDENCY_NOT_READY {
                    condition::set(
                        &mut status.conditions,
                        types::RECONCILING,
                        true,
                        reasons::PROGRESSING_WITH_RETRY,
                        &failure.message,
                        generation,
                        now(),
                    );
                }
            }
            if failure.reason != reasons::DEPENDENCY_NOT_READY {
                ctx.event(ks, true, failure.reason, failure.message.clone())
                    .await;
            }
            if failure.stalled {
                Action::await_change()
            } else {
                Action::requeue(requeue)
            }
        }
    };
    ctx.patch_status::<Kustomization>(&ks.namespace().unwrap_or_default(), &ks.name_any(), &status)
        .await?;
    Ok(action)
}

/// Deleting a Kustomization prunes its inventory (deletionPolicy MirrorPrune follows
/// spec.prune; Delete always; Orphan never).
async fn finalize(ks: &Kustomization, ctx: &Context) {
    let policy = ks.spec.deletion_policy.as_deref().unwrap_or("MirrorPrune");
    let prune = match policy {
        "Delete" | "WaitForTermination" => true,
        "Orphan" => false,
        _ => ks.spec.prune,
    };
    if !prune {
        return;
    }
    let inventory = ks.status.as_ref().map(old_inventory).unwrap_or_default();
    let stale = inventory.missing_from(&Inventory::default());
    let applier = match applier_for(ks, ctx) {
        Ok(applier) => applier,
        Err(failure) => {
            tracing::warn!(error = %failure, "pruning on deletion skipped");
            return;
        }
    };
    if let Err(err) = applier.prune(stale, &owner_labels(ks)).await {
        tracing::warn!(%err, "pruning on deletion failed");
    }
}

#[cfg(test)]
mod tests {
    use super::confined;
    use std::path::Path;

    #[test]
    fn paths_stay_inside_the_source() {
        let root = Path::new("/tmp/src");
        assert_eq!(confined(root, "./apps/prod"), Some(root.join("apps/prod")));
        assert_eq!(confined(root, ""), Some(root.to_path_buf()));
        assert_eq!(confined(root, "apps/../infra"), Some(root.join("infra")));
        assert_eq!(confined(root, "../etc"), None);
        assert_eq!(confined(root, "/abs/path"), Some(root.join("abs/path")));
    }
}
