//! Helm's release actions on a cluster, with server-side apply: install, upgrade, rollback,
//! uninstall and test. Each action writes the release record as Helm does — a new version in
//! a pending state, hooks, apply, wait, hooks, then `deployed` (the previous one `superseded`)
//! or `failed` with Helm's description — so the helm CLI sees the same history.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use keelson_apply::{Applier, ApplyError, ApplyOptions};
use keelson_manifest::ObjectId;
use serde_json::{Map, Value};

use crate::model::{Info, Release, status};
use crate::render::{Rendered, objects_of};
use crate::storage::{Storage, StorageError};

/// Label Helm sets on every object of a release.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Annotation naming the release that owns an object.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Annotation naming the namespace of the release that owns an object.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// Annotation that keeps an object when the release no longer has it or is uninstalled.
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// A failed action.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The release storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Applying, deleting or reading objects failed.
    #[error("{context}: {source}")]
    Apply {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: ApplyError,
    },
    /// A hook failed.
    #[error("{event} hook {hook} failed: {message}")]
    Hook {
        /// The event.
        event: String,
        /// `Kind/name`.
        hook: String,
        /// What happened.
        message: String,
    },
    /// Objects did not become ready in time.
    #[error("{0}")]
    Wait(String),
    /// The stored manifest cannot be parsed.
    #[error("failed to parse the manifest of release {release}: {message}")]
    Manifest {
        /// `name.vN`.
        release: String,
        /// What is wrong.
        message: String,
    },
    /// There is nothing to act on.
    #[error("{0}")]
    NoRelease(String),
}

impl ActionError {
    pub(crate) fn apply(context: impl Into<String>, source: ApplyError) -> Self {
        ActionError::Apply {
            context: context.into(),
            source,
        }
    }
}

/// How CRDs of the chart's `crds/` directory are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrdPolicy {
    /// Neither created nor updated.
    Skip,
    /// Created when missing, never updated.
    #[default]
    Create,
    /// Created when missing, updated when present.
    CreateReplace,
}

impl CrdPolicy {
    /// From Flux's spelling (`Skip`, `Create`, `CreateReplace`).
    pub fn parse(s: &str) -> Self {
        match s {
            "Skip" => Self::Skip,
            "CreateReplace" => Self::CreateReplace,
            _ => Self::Create,
        }
    }
}

/// What an action needs to know about the release.
#[derive(Clone)]
pub struct Request {
    /// Release name.
    pub name: String,
    /// The namespace objects are installed into.
    pub namespace: String,
    /// The release storage.
    pub storage: Storage,
    /// Labels set on every object (Flux's `helm.toolkit.fluxcd.io/name`/`namespace`).
    pub owner_labels: BTreeMap<String, String>,
    /// Extra labels and annotations for every object (`spec.commonMetadata`).
    pub common_labels: BTreeMap<String, String>,
    /// Extra annotations for every object (`spec.commonMetadata`).
    pub common_annotations: BTreeMap<String, String>,
    /// Timeout of each wait (hooks, readiness).
    pub timeout: Duration,
    /// Wait for the objects to become ready.
    pub wait: bool,
    /// Wait for Jobs to complete too.
    pub wait_for_jobs: bool,
    /// Skip hooks.
    pub disable_hooks: bool,
    /// Release versions kept (0: all).
    pub max_history: i64,
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// CRD handling.
    pub crds: CrdPolicy,
    /// Create the target namespace when missing.
    pub create_namespace: bool,
    /// Keep the history on uninstall.
    pub keep_history: bool,
}

/// What a release version holds besides its bookkeeping.
struct Content {
    chart: Value,
    config: Map<String, Value>,
    manifest: String,
    hooks: Vec<crate::model::Hook>,
    notes: String,
}

impl Content {
    fn of(rendered: &Rendered, config: Map<String, Value>) -> Self {
        Self {
            chart: rendered.chart_json.clone(),
            config,
            manifest: rendered.manifest.clone(),
            hooks: rendered.hooks.clone(),
            notes: rendered.notes.clone(),
        }
    }
}

/// Runs release actions with one field manager.
pub struct Engine {
    /// The applier (field manager `helm-controller`).
    pub applier: Applier,
}

/// The current time as Go's RFC 3339 with nanoseconds, as Helm writes release times.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

fn failed_description(action: &str, name: &str, err: &ActionError) -> String {
    match action {
        "install" => format!("Release \"{name}\" failed: {err}"),
        "upgrade" => format!("Upgrade \"{name}\" failed: {err}"),
        "rollback" => format!("Rollback \"{name}\" failed: {err}"),
        _ => format!("{action} of \"{name}\" failed: {err}"),
    }
}

impl Engine {
    /// An engine applying with `field_manager`.
    pub fn new(client: kube::Client, field_manager: &str) -> Self {
        Self {
            applier: Applier::new(client, field_manager),
        }
    }

    /// Gives namespaced objects without a namespace the release namespace, and marks every
    /// object (hooks: only with the owner labels) as belonging to the release as Helm does.
    pub(crate) async fn prepare(
        &self,
        objects: Vec<Value>,
        request: &Request,
        helm_ownership: bool,
    ) -> Result<Vec<Value>, ActionError> {
        let mut out = Vec::with_capacity(objects.len());
        for mut object in objects {
            if !object.is_object() {
                continue;
            }
            if !object["metadata"].is_object() {
                object["metadata"] = Value::Object(Map::new());
            }
            let id = ObjectId::of(&object);
            if id.namespace.is_empty() {
                let namespaced = match self.applier.namespaced(&id).await {
                    Ok(n) => n,
                    // A kind not served yet (its CRD is in the same release): custom resources
                    // are namespaced far more often than not.
                    Err(ApplyError::UnknownKind { .. }) => true,
                    Err(e) => return Err(ActionError::apply(format!("discovering {id}"), e)),
                };
                if namespaced {
                    object["metadata"]["namespace"] = Value::String(request.namespace.clone());
                }
            }
            let meta = &mut object["metadata"];
            for key in ["labels", "annotations"] {
                if !meta[key].is_object() {
                    meta[key] = Value::Object(Map::new());
                }
            }
            for (k, v) in &request.common_labels {
                meta["labels"][k] = Value::String(v.clone());
            }
            for (k, v) in &request.common_annotations {
                meta["annotations"][k] = Value::String(v.clone());
            }
            if helm_ownership {
                meta["labels"][MANAGED_BY_LABEL] = Value::String("Helm".into());
                meta["annotations"][RELEASE_NAME_ANNOTATION] = Value::String(request.name.clone());
                meta["annotations"][RELEASE_NAMESPACE_ANNOTATION] =
                    Value::String(request.namespace.clone());
            }
            out.push(object);
        }
        Ok(out)
    }

    /// Deletes an object and waits until it is gone.
    pub(crate) async fn delete_and_wait(
        &self,
        id: &ObjectId,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let ctx = || format!("deleting {id}");
        let present = self
            .applier
            .get(id)
            .await
            .map_err(|e| ActionError::apply(ctx(), e))?;
        if present.is_none() {
            return Ok(());
        }
        self.applier
            .prune(vec![id.clone()], &BTreeMap::new())
            .await
            .map_err(|e| ActionError::apply(ctx(), e))?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let live = self
                .applier
                .get(id)
                .await
                .map_err(|e| ActionError::apply(ctx(), e))?;
            if live.is_none() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ActionError::Wait(format!(
                    "timed out waiting for {id} to be deleted"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn apply_crds(&self, crds: &[Value], policy: CrdPolicy) -> Result<(), ActionError> {
        if policy == CrdPolicy::Skip || crds.is_empty() {
            return Ok(());
        }
        let mut todo = Vec::new();
        for crd in crds {
            let id = ObjectId::of(crd);
            let exists = self
                .applier
                .get(&id)
                .await
                .map_err(|e| ActionError::apply(format!("reading {id}"), e))?
                .is_some();
            if !exists || policy == CrdPolicy::CreateReplace {
                todo.push(crd.clone());
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        self.applier
            .apply(todo, &ApplyOptions::default())
            .await
            .map_err(|e| ActionError::apply("failed to install CRDs", e))?;
        Ok(())
    }

    async fn ensure_namespace(&self, request: &Request) -> Result<(), ActionError> {
        if !request.create_namespace {
            return Ok(());
        }
        let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": request.namespace}});
        let id = ObjectId::of(&ns);
        let exists = self
            .applier
            .get(&id)
            .await
            .map_err(|e| ActionError::apply("reading the target namespace", e))?
            .is_some();
        if !exists {
            self.applier
                .apply(vec![ns], &ApplyOptions::default())
                .await
                .map_err(|e| ActionError::apply("failed to create the target namespace", e))?;
        }
        Ok(())
    }

    /// Applies the objects, deletes those of `previous` that left, and waits for readiness.
    async fn deploy(
        &self,
        objects: Vec<Value>,
        previous: Option<&str>,
        request: &Request,
    ) -> Result<(), ActionError> {
        let objects = self.prepare(objects, request, true).await?;
        let options = ApplyOptions {
            force: request.force,
            owner_labels: request.owner_labels.clone(),
            ..Default::default()
        };
        let ids: Vec<ObjectId> = objects.iter().map(ObjectId::of).collect();
        self.applier
            .apply(objects, &options)
            .await
            .map_err(|e| ActionError::apply("failed to apply the release manifest", e))?;
        if let Some(previous) = previous {
            let old = objects_of(previous).map_err(|e| ActionError::Manifest {
                release: request.name.clone(),
                message: e.to_string(),
            })?;
            let old = self.prepare(old, request, false).await?;
            let keep: BTreeSet<String> = ids.iter().map(ObjectId::inventory_id).collect();
            let stale: Vec<Value> = old
                .into_iter()
                .filter(|o| !keep.contains(&ObjectId::of(o).inventory_id()))
                .collect();
            self.delete_objects(stale).await?;
        }
        if request.wait {
            let ids: Vec<ObjectId> = ids
                .into_iter()
                .filter(|id| request.wait_for_jobs || id.kind != "Job")
                .collect();
            let verdict = self
                .applier
                .wait_healthy(&ids, request.timeout)
                .await
                .map_err(|e| ActionError::apply("failed to check readiness", e))?;
            if let Err(pending) = verdict {
                let list: Vec<String> = pending
                    .iter()
                    .map(|(id, h)| format!("{id} status: '{h}'"))
                    .collect();
                return Err(ActionError::Wait(format!(
                    "resources not ready after {:?}: {}",
                    request.timeout,
                    list.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Deletes objects last-stage first, leaving those annotated `helm.sh/resource-policy: keep`.
    async fn delete_objects(&self, objects: Vec<Value>) -> Result<(), ActionError> {
        let mut ids = Vec::new();
        for object in objects {
            let id = ObjectId::of(&object);
            let live = self
                .applier
                .get(&id)
                .await
                .or_else(|e| match e {
                    ApplyError::UnknownKind { .. } => Ok(None),
                    e => Err(e),
                })
                .map_err(|e| ActionError::apply(format!("reading {id}"), e))?;
            let Some(live) = live else { continue };
            let keep = live
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(RESOURCE_POLICY_ANNOTATION))
                .is_some_and(|v| v == "keep");
            if !keep {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        self.applier
            .prune(ids, &BTreeMap::new())
            .await
            .map_err(|e| ActionError::apply("failed to delete release objects", e))?;
        Ok(())
    }

    async fn hooks(
        &self,
        release: &mut Release,
        event: &str,
        request: &Request,
    ) -> Result<(), ActionError> {
        if request.disable_hooks {
            return Ok(());
        }
        self.run_hooks(release, event, request, request.timeout)
            .await
    }

    async fn finish(
        &self,
        request: &Request,
        mut release: Release,
        action: &str,
        outcome: Result<(), ActionError>,
        success: &str,
    ) -> Result<Release, (Release, ActionError)> {
        match outcome {
            Ok(()) => {
                release.info.status = status::DEPLOYED.into();
                release.info.description = success.into();
                release.info.last_deployed = Some(now_rfc3339());
                if let Err(e) = self.supersede_others(request, release.version).await {
                    return Err((release, e));
                }
                if let Err(e) = request.storage.update(&release).await {
                    return Err((release, e.into()));
                }
                if let Err(e) = request
                    .storage
                    .limit_history(&request.name, request.max_history)
                    .await
                {
                    tracing::warn!(%e, "failed to limit the release history");
                }
                Ok(release)
            }
            Err(err) => {
                release.info.status = status::FAILED.into();
                release.info.description = failed_description(action, &request.name, &err);
                if let Err(e) = request.storage.update(&release).await {
                    tracing::warn!(%e, "failed to record the failed release");
                }
                if let Err(e) = request
                    .storage
                    .limit_history(&request.name, request.max_history)
                    .await
                {
                    tracing::warn!(%e, "failed to limit the release history");
                }
                Err((release, err))
            }
        }
    }

    /// Marks every other `deployed` version `superseded`.
    async fn supersede_others(&self, request: &Request, version: i64) -> Result<(), ActionError> {
        for mut old in request.storage.history(&request.name).await? {
            if old.version != version && old.info.status == status::DEPLOYED {
                old.info.status = status::SUPERSEDED.into();
                request.storage.update(&old).await?;
            }
        }
        Ok(())
    }

    fn next_release(
        request: &Request,
        content: Content,
        version: i64,
        first_deployed: Option<String>,
        state: &str,
        description: &str,
    ) -> Release {
        let now = now_rfc3339();
        Release {
            name: request.name.clone(),
            info: Info {
                first_deployed: Some(first_deployed.unwrap_or_else(|| now.clone())),
                last_deployed: Some(now),
                deleted: None,
                description: description.into(),
                status: state.into(),
                rollback_revision: 0,
                notes: content.notes,
                extra: Map::new(),
            },
            chart: content.chart,
            config: content.config,
            manifest: content.manifest,
            hooks: content.hooks,
            version,
            namespace: request.namespace.clone(),
            apply_method: Some("ssa".into()),
            extra: Map::new(),
        }
    }

    /// Installs the rendered chart as a new version of the release (after any uninstalled or
    /// failed versions).
    pub async fn install(
        &self,
        request: &Request,
        rendered: &Rendered,
        config: Map<String, Value>,
    ) -> Result<Release, (Option<Release>, ActionError)> {
        let fail = |e: ActionError| (None, e);
        self.ensure_namespace(request).await.map_err(fail)?;
        self.apply_crds(&rendered.crds, request.crds)
            .await
            .map_err(fail)?;
        let last = request
            .storage
            .last(&request.name)
            .await
            .map_err(|e| fail(e.into()))?;
        let version = last.as_ref().map_or(1, |r| r.version + 1);
        let mut release = Self::next_release(
            request,
            Content::of(rendered, config),
            version,
            None,
            status::PENDING_INSTALL,
            "Initial install underway",
        );
        request
            .storage
            .create(&release)
            .await
            .map_err(|e| fail(e.into()))?;
        let outcome = async {
            self.hooks(&mut release, "pre-install", request).await?;
            self.deploy(rendered.objects.clone(), None, request).await?;
            self.hooks(&mut release, "post-install", request).await
        }
        .await;
        self.finish(request, release, "install", outcome, "Install complete")
            .await
            .map_err(|(r, e)| (Some(r), e))
    }

    /// Upgrades the release from its deployed version `current` to the rendered chart.
    pub async fn upgrade(
        &self,
        request: &Request,
        rendered: &Rendered,
        config: Map<String, Value>,
        current: &Release,
    ) -> Result<Release, (Option<Release>, ActionError)> {
        let fail = |e: ActionError| (None, e);
        self.apply_crds(&rendered.crds, request.crds)
            .await
            .map_err(fail)?;
        let last = request
            .storage
            .last(&request.name)
            .await
            .map_err(|e| fail(e.into()))?;
        let version = last.as_ref().map_or(current.version, |r| r.version) + 1;
        let mut release = Self::next_release(
            request,
            Content::of(rendered, config),
            version,
            current.info.first_deployed.clone(),
            status::PENDING_UPGRADE,
            "Preparing upgrade",
        );
        request
            .storage
            .create(&release)
            .await
            .map_err(|e| fail(e.into()))?;
        let outcome = async {
            self.hooks(&mut release, "pre-upgrade", request).await?;
            self.deploy(rendered.objects.clone(), Some(&current.manifest), request)
                .await?;
            self.hooks(&mut release, "post-upgrade", request).await
        }
        .await;
        self.finish(request, release, "upgrade", outcome, "Upgrade complete")
            .await
            .map_err(|(r, e)| (Some(r), e))
    }

    /// Rolls back to version `target` as a new version, replacing what the newest version
    /// applied.
    pub async fn rollback(
        &self,
        request: &Request,
        target: &Release,
    ) -> Result<Release, (Option<Release>, ActionError)> {
        let fail = |e: ActionError| (None, e);
        let last = request
            .storage
            .last(&request.name)
            .await
            .map_err(|e| fail(e.into()))?
            .ok_or_else(|| fail(ActionError::NoRelease("no release to roll back".into())))?;
        let mut hooks = target.hooks.clone();
        for h in &mut hooks {
            h.last_run = Default::default();
        }
        let content = Content {
            chart: target.chart.clone(),
            config: target.config.clone(),
            manifest: target.manifest.clone(),
            hooks,
            notes: target.info.notes.clone(),
        };
        let mut release = Self::next_release(
            request,
            content,
            last.version + 1,
            target.info.first_deployed.clone(),
            status::PENDING_ROLLBACK,
            &format!("Rollback to {}", target.version),
        );
        release.info.rollback_revision = target.version;
        request
            .storage
            .create(&release)
            .await
            .map_err(|e| fail(e.into()))?;
        let objects = objects_of(&target.manifest).map_err(|e| {
            fail(ActionError::Manifest {
                release: format!("{}.v{}", target.name, target.version),
                message: e.to_string(),
            })
        })?;
        let outcome = async {
            self.hooks(&mut release, "pre-rollback", request).await?;
            self.deploy(objects, Some(&last.manifest), request).await?;
            self.hooks(&mut release, "post-rollback", request).await
        }
        .await;
        let description = format!("Rollback to {}", target.version);
        self.finish(request, release, "rollback", outcome, &description)
            .await
            .map_err(|(r, e)| (Some(r), e))
    }

    /// Uninstalls the release: pre-delete hooks, the objects of the newest version (those
    /// annotated `helm.sh/resource-policy: keep` stay), post-delete hooks; the history is deleted
    /// or, with `keep_history`, kept with the newest version marked `uninstalled`.
    pub async fn uninstall(&self, request: &Request) -> Result<Option<Release>, ActionError> {
        let history = request.storage.history(&request.name).await?;
        let Some(mut release) = history.last().cloned() else {
            return Ok(None);
        };
        if release.info.status != status::UNINSTALLED {
            release.info.status = status::UNINSTALLING.into();
            release.info.deleted = Some(now_rfc3339());
            request.storage.update(&release).await?;
            self.hooks(&mut release, "pre-delete", request).await?;
            let objects = objects_of(&release.manifest).map_err(|e| ActionError::Manifest {
                release: format!("{}.v{}", release.name, release.version),
                message: e.to_string(),
            })?;
            let objects = self.prepare(objects, request, false).await?;
            let ids: Vec<ObjectId> = objects.iter().map(ObjectId::of).collect();
            self.delete_objects(objects).await?;
            for id in &ids {
                // Waiting is best effort: finalizers of others may hold objects for long.
                if let Err(e) = self.wait_gone(id, request.timeout).await {
                    tracing::debug!(%e, "object still present after uninstall");
                }
            }
            self.hooks(&mut release, "post-delete", request).await?;
        }
        if request.keep_history {
            release.info.status = status::UNINSTALLED.into();
            release.info.description = "Uninstallation complete".into();
            request.storage.update(&release).await?;
        } else {
            for r in &history {
                request.storage.delete(&r.name, r.version).await?;
            }
        }
        Ok(Some(release))
    }

    async fn wait_gone(&self, id: &ObjectId, timeout: Duration) -> Result<(), ActionError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let live = self
                .applier
                .get(id)
                .await
                .map_err(|e| ActionError::apply(format!("reading {id}"), e))?;
            if live.is_none() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ActionError::Wait(format!("{id} still present")));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The objects of a stored release as they are applied (namespaces filled in).
    pub async fn inventory(
        &self,
        release: &Release,
        request: &Request,
    ) -> Result<Vec<ObjectId>, ActionError> {
        let objects = objects_of(&release.manifest).map_err(|e| ActionError::Manifest {
            release: format!("{}.v{}", release.name, release.version),
            message: e.to_string(),
        })?;
        let objects = self.prepare(objects, request, false).await?;
        Ok(objects.iter().map(ObjectId::of).collect())
    }

    /// Runs the release's test hooks and records their outcome in the stored release.
    pub async fn test(
        &self,
        request: &Request,
        release: &mut Release,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let outcome = self.run_hooks(release, "test", request, timeout).await;
        request.storage.update(release).await?;
        outcome
    }
}
