//! What every reconcile needs: the client, the artifact storage, the applier and the event
//! recorder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;

use crate::events::EventRecorder;

/// Shared state of the reconcilers.
pub struct Context {
    /// The cluster client.
    pub client: Client,
    /// Where artifacts are stored.
    pub storage: keelson_source::Storage,
    /// Applies Kustomization objects (keeps a discovery cache across reconciles).
    pub applier: Arc<keelson_apply::Applier>,
    /// How soon a Kustomization waiting for dependencies is checked again.
    pub requeue_dependency: Duration,
    /// The only namespace watched, if any.
    pub namespace: Option<String>,
    /// The configuration of `client`, for impersonating ServiceAccounts.
    pub kube_config: Option<kube::Config>,
    /// ServiceAccount impersonated when a Kustomization names none.
    pub default_service_account: Option<String>,
    /// Appliers of impersonated ServiceAccounts, by `namespace/name` (each keeps its own
    /// discovery cache).
    impersonated: Mutex<HashMap<String, Arc<keelson_apply::Applier>>>,
    recorder: EventRecorder,
    /// How the reconcilers run (concurrency, label selector, shutdown, sync reporting).
    pub run: RunSettings,
}

/// A future that resolves when the controller is to stop; cloned into every reconciler.
pub type Shutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// A [`Shutdown`] that never comes.
pub fn never() -> Shutdown {
    use futures::FutureExt as _;
    futures::future::pending::<()>().boxed().shared()
}

/// How the reconcilers run.
#[derive(Clone)]
pub struct RunSettings {
    /// Reconciles of one kind at a time (Flux's `--concurrent`).
    pub concurrent: u16,
    /// Only objects matching this label selector are reconciled (Flux's
    /// `--watch-label-selector`).
    pub label_selector: Option<String>,
    /// Stops taking work when it resolves; running reconciles finish.
    pub shutdown: Shutdown,
    /// Which reconcilers have listed their objects once.
    pub synced: Arc<Synced>,
}

impl std::fmt::Debug for RunSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSettings")
            .field("concurrent", &self.concurrent)
            .field("label_selector", &self.label_selector)
            .field("synced", &self.synced)
            .finish_non_exhaustive()
    }
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            concurrent: crate::DEFAULT_CONCURRENT,
            label_selector: None,
            shutdown: never(),
            synced: Arc::default(),
        }
    }
}

/// Which reconcilers' primary watches have finished their first list: the controller's caches
/// are synced (what readiness reports) when all have.
#[derive(Debug, Default)]
pub struct Synced {
    expected: std::sync::atomic::AtomicUsize,
    kinds: Mutex<std::collections::BTreeSet<String>>,
}

impl Synced {
    pub(crate) fn expect(&self, kinds: usize) {
        self.expected
            .store(kinds, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn mark(&self, kind: &str) {
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.insert(kind.to_string());
        }
    }

    /// Whether every reconciler has listed its objects once.
    pub fn all(&self) -> bool {
        let expected = self.expected.load(std::sync::atomic::Ordering::SeqCst);
        let done = self.kinds.lock().map_or(0, |k| k.len());
        expected > 0 && done >= expected
    }
}

impl Context {
    /// A context for `client` and `storage`.
    pub fn new(
        client: Client,
        storage: keelson_source::Storage,
        requeue_dependency: Duration,
        namespace: Option<String>,
    ) -> Self {
        let applier = Arc::new(keelson_apply::Applier::new(
            client.clone(),
            keelson_api::kustomization::FIELD_MANAGER,
        ));
        let recorder =
            EventRecorder::new(client.clone(), "keelson", std::env::var("HOSTNAME").ok());
        Self {
            client,
            storage,
            applier,
            requeue_dependency,
            namespace,
            kube_config: None,
            default_service_account: None,
            impersonated: Mutex::new(HashMap::new()),
            recorder,
            run: RunSettings::default(),
        }
    }

    /// The applier acting as ServiceAccount `namespace/name` (Kubernetes impersonation of
    /// `system:serviceaccount:<namespace>:<name>`), so that apply, prune and health checks
    /// have exactly that account's permissions.
    pub fn impersonating(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<keelson_apply::Applier>, String> {
        let key = format!("{namespace}/{name}");
        let mut cache = self
            .impersonated
            .lock()
            .map_err(|_| "impersonation cache poisoned".to_string())?;
        if let Some(applier) = cache.get(&key) {
            return Ok(applier.clone());
        }
        let mut config = self.kube_config.clone().ok_or_else(|| {
            format!(
                "cannot impersonate ServiceAccount '{key}': the controller was started without its kubeconfig"
            )
        })?;
        config.auth_info.impersonate = Some(format!("system:serviceaccount:{namespace}:{name}"));
        config.auth_info.impersonate_groups = None;
        let client = Client::try_from(config)
            .map_err(|e| format!("cannot impersonate ServiceAccount '{key}': {e}"))?;
        let applier = Arc::new(keelson_apply::Applier::new(
            client,
            keelson_api::kustomization::FIELD_MANAGER,
        ));
        cache.insert(key, applier.clone());
        Ok(applier)
    }

    /// Merge-patches the status subresource of the namespaced object `ns/name` of kind `K`.
    pub async fn patch_status<K>(
        &self,
        ns: &str,
        name: &str,
        status: &impl serde::Serialize,
    ) -> Result<(), kube::Error>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: kube::Api<K> = kube::Api::namespaced(self.client.clone(), ns);
        let mut status = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
        refresh_condition_generations(&mut status);
        let patch = serde_json::json!({ "status": status });
        let params = kube::api::PatchParams::default();
        api.patch_status(name, &params, &kube::api::Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// An API for `K` over the watched namespace(s).
    pub fn watched<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => kube::Api::namespaced(self.client.clone(), ns),
            None => kube::Api::all(self.client.clone()),
        }
    }

    /// Records a Kubernetes Event on `object`; failures are logged, never fatal.
    pub async fn event<K: kube::Resource<DynamicType = ()>>(
        &self,
        object: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let regarding = object.object_ref(&());
        let note = truncate(note, 1024);
        // Every event is a log line too (inside the reconcile span: it names the object).
        if warning {
            tracing::error!(reason, "{note}");
        } else {
            tracing::info!(reason, "{note}");
        }
        if let Err(err) = self
            .recorder
            .publish(&regarding, warning, reason, "Reconcile", note)
            .await
        {
            tracing::warn!(%err, "failed to record event");
        }
    }
}

/// The current time as an API timestamp.
pub fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Brings every condition's `observedGeneration` up to the status' own: a reconcile that handled
/// a generation speaks for all its conditions, as Flux's controllers do. Without it, a resume
/// (a new generation that needs no upgrade) left `Ready` at the old generation, and `flux
/// resume`/kstatus, which wait for a Ready condition of the current generation, timed out.
/// Conditions newer than the status (set by a reconcile that failed before it handled the
/// generation) are left as they are.
pub(crate) fn refresh_condition_generations(status: &mut serde_json::Value) {
    let Some(observed) = status.get("observedGeneration").and_then(|g| g.as_i64()) else {
        return;
    };
    let Some(conditions) = status.get_mut("conditions").and_then(|c| c.as_array_mut()) else {
        return;
    };
    for condition in conditions {
        let behind = condition
            .get("observedGeneration")
            .and_then(|g| g.as_i64())
            .is_none_or(|g| g < observed);
        if behind && let Some(c) = condition.as_object_mut() {
            c.insert("observedGeneration".into(), observed.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn conditions_follow_the_handled_generation_and_never_go_back() {
        let mut status = json!({
            "observedGeneration": 3,
            "conditions": [
                {"type": "Ready", "status": "True", "observedGeneration": 1},
                {"type": "Released", "status": "True"},
                {"type": "Stalled", "status": "True", "observedGeneration": 4},
            ],
        });
        super::refresh_condition_generations(&mut status);
        let generations: Vec<_> = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["observedGeneration"].clone())
            .collect();
        assert_eq!(generations, [json!(3), json!(3), json!(4)]);
        // A status that handled no generation yet changes nothing.
        let mut fresh = json!({"conditions": [{"type": "Ready", "observedGeneration": 1}]});
        let before = fresh.clone();
        super::refresh_condition_generations(&mut fresh);
        assert_eq!(fresh, before);
    }
}
