//! How every reconciler is driven.
//!
//! - [`controller_for`]: the primary watch reacts to spec (generation) and annotation changes only,
//!   as Flux's `GenerationChangedPredicate` + `ReconcileRequestedPredicate` — never to the status
//!   the reconciler writes itself, which would make a failing object reconcile in a tight loop.
//! - [`traced`]: one tracing span per reconcile, carrying the object's kind, name and namespace
//!   and a reconcile id — the fields Flux's controllers put on every log line (`controllerKind`,
//!   `name`, `namespace`, `reconcileID`). Everything logged while reconciling an object (its
//!   events too) inherits them, which is what lets `keelson logs --kind K --name N` pick one
//!   object's lines.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Api, Resource, ResourceExt};
use tracing::Instrument as _;

/// A controller over `api` whose objects trigger a reconcile when created, when their spec
/// changes (generation), when an annotation changes (`reconcile.fluxcd.io/requestedAt`, …), when
/// their deletion starts and when they are deleted — not when only their status changes.
///
/// It runs `settings.concurrent` reconciles at a time, watches only objects matching
/// `settings.label_selector`, reports its first full list to `settings.synced`, and shuts down
/// gracefully (no new reconciles, running ones finish) when `settings.shutdown` resolves.
pub(crate) fn controller_for<K>(
    api: Api<K>,
    settings: &crate::context::RunSettings,
) -> Controller<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let mut last: HashMap<(Option<String>, String), u64> = HashMap::new();
    let mut config = watcher::Config::default();
    if let Some(selector) = &settings.label_selector {
        config = config.labels(selector);
    }
    let synced = settings.synced.clone();
    let objects = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .filter_map(move |event| {
            let passed = match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    let hash = trigger_hash(&object);
                    let key = (object.namespace(), object.name_any());
                    (last.insert(key, hash) != Some(hash)).then_some(Ok(object))
                }
                Ok(watcher::Event::Delete(object)) => {
                    last.remove(&(object.namespace(), object.name_any()));
                    Some(Ok(object))
                }
                Ok(watcher::Event::InitDone) => {
                    synced.mark(&K::kind(&()));
                    None
                }
                Ok(watcher::Event::Init) => None,
                Err(err) => Some(Err(err)),
            };
            std::future::ready(passed)
        });
    Controller::for_stream(objects, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(settings.concurrent))
        .graceful_shutdown_on(settings.shutdown.clone())
}

/// What a change must touch to trigger a reconcile.
fn trigger_hash<K: Resource>(object: &K) -> u64 {
    let meta = object.meta();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    hasher.finish()
}

/// The span of one reconcile of `object`.
pub(crate) fn reconcile_span<K: Resource<DynamicType = ()>>(object: &K) -> tracing::Span {
    tracing::info_span!(
        "reconcile",
        controllerKind = %K::kind(&()),
        name = %object.name_any(),
        namespace = %object.namespace().unwrap_or_default(),
        reconcileID = %reconcile_id(),
    )
}

/// Wraps a reconcile function: each call runs inside [`reconcile_span`] and ends with one line
/// saying how long it took (info) or why it failed (error), as Flux logs
/// "Reconciliation finished in …".
pub(crate) fn traced<K, C, E, F, Fut>(
    reconcile: F,
) -> impl FnMut(Arc<K>, Arc<C>) -> BoxFuture<'static, Result<Action, E>>
where
    K: Resource<DynamicType = ()> + Send + Sync + 'static,
    C: Send + Sync + 'static,
    E: std::fmt::Display + Send + 'static,
    F: Fn(Arc<K>, Arc<C>) -> Fut,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    move |object, ctx| {
        let span = reconcile_span(object.as_ref());
        let started = Instant::now();
        let work = reconcile(object, ctx);
        async move {
            let result = work.await;
            let seconds = started.elapsed().as_secs_f64();
            match &result {
                Ok(_) => tracing::info!("reconciliation finished in {seconds:.3}s"),
                Err(err) => {
                    tracing::error!(error = %err, "reconciliation failed after {seconds:.3}s")
                }
            }
            result
        }
        .instrument(span)
        .boxed()
    }
}

/// A fresh reconcile id (a random UUID, as Flux's controller-runtime gives each reconcile).
fn reconcile_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The objects of `store` whose `dependsOn` (from `depends_on`) names `dependency` — a
/// namespace-less entry means the dependent's own namespace. A dependency that changes (becomes
/// Ready) triggers them.
pub(crate) fn dependents_of<K>(
    store: &reflector::Store<K>,
    dependency: &K,
    depends_on: impl Fn(&K) -> &[keelson_api::meta::DependencyReference],
) -> Vec<reflector::ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (ns, name) = (
        dependency.namespace().unwrap_or_default(),
        dependency.name_any(),
    );
    store
        .state()
        .iter()
        .filter(|k| {
            let own = k.namespace().unwrap_or_default();
            depends_on(k)
                .iter()
                .any(|d| d.name == name && d.namespace.as_deref().unwrap_or(own.as_str()) == ns)
        })
        .map(|k| reflector::ObjectRef::from_obj(k.as_ref()))
        .collect()
}

/// Flux's finalizer: the reconciler handles the object's deletion (uninstall, prune) first.
pub(crate) const FINALIZER: &str = "finalizers.fluxcd.io";

/// Whether `object` carries [`FINALIZER`].
pub(crate) fn has_finalizer<K: Resource>(object: &K) -> bool {
    object.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds [`FINALIZER`] to `object` unless it is there.
pub(crate) async fn add_finalizer<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if has_finalizer(object) {
        return Ok(());
    }
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    merge_metadata(api, object, serde_json::json!({"finalizers": finalizers})).await
}

/// Removes [`FINALIZER`] from `object` (guarded by its resourceVersion), letting it go.
pub(crate) async fn remove_finalizer<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let rest: Vec<&String> = object
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .collect();
    let metadata =
        serde_json::json!({"finalizers": rest, "resourceVersion": object.resource_version()});
    merge_metadata(api, object, metadata).await
}

/// Merge-patches `metadata` into `object`.
async fn merge_metadata<K>(
    api: &Api<K>,
    object: &K,
    metadata: serde_json::Value,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({ "metadata": metadata });
    api.patch(
        &object.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
