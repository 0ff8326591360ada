//! Staged server-side apply with a dry-run per stage, and pruning.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use keelson_manifest::ObjectId;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::error::{ApplyError, ObjectError};
use crate::inventory::Inventory;
use crate::resolve::Resolver;
use crate::stage::{Stage, kind_rank, stage_of};

/// How many objects are sent to the apiserver at once.
pub(crate) const CONCURRENCY: usize = 8;

/// The server-side apply policy of one object, from the `kustomize.toolkit.fluxcd.io/ssa`
/// annotation or label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SsaPolicy {
    /// Apply and take ownership of every field in the manifest (the default).
    #[default]
    Override,
    /// Apply, leaving fields other managers own to them.
    Merge,
    /// Create the object if it does not exist; never change it afterwards.
    IfNotPresent,
    /// Never apply the object.
    Ignore,
}

impl SsaPolicy {
    /// The policy an object asks for.
    pub fn of(object: &Value) -> Self {
        let meta = &object["metadata"];
        let value = meta["annotations"][SSA_KEY]
            .as_str()
            .or_else(|| meta["labels"][SSA_KEY].as_str())
            .unwrap_or_default();
        match value.to_ascii_lowercase().as_str() {
            "merge" => Self::Merge,
            "ifnotpresent" => Self::IfNotPresent,
            "ignore" => Self::Ignore,
            _ => Self::Override,
        }
    }
}

const SSA_KEY: &str = "kustomize.toolkit.fluxcd.io/ssa";
const PRUNE_KEY: &str = "kustomize.toolkit.fluxcd.io/prune";
const FORCE_KEY: &str = "kustomize.toolkit.fluxcd.io/force";

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed.
    Configured,
    /// It existed and already matched.
    Unchanged,
    /// It was deleted and created again (immutable fields changed, `force`).
    Recreated,
    /// It was left alone (ssa policy, or prune disabled).
    Skipped,
    /// It was deleted.
    Deleted,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Recreated => "recreated",
            Action::Skipped => "skipped",
            Action::Deleted => "deleted",
        })
    }
}

/// One object's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The object.
    pub id: ObjectId,
    /// What happened to it.
    pub action: Action,
}

/// Settings of one apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// Labels set on every applied object (Flux's owner labels); prune only deletes objects that
    /// carry them.
    pub owner_labels: BTreeMap<String, String>,
    /// How long to wait for CRDs applied in the first stage to become Established.
    pub crd_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            force: false,
            owner_labels: BTreeMap::new(),
            crd_timeout: Duration::from_secs(60),
        }
    }
}

/// The outcome of [`Applier::apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyResult {
    /// One entry per input object, in apply order.
    pub changes: Vec<Change>,
    /// The inventory of the applied set.
    pub inventory: Inventory,
}

/// Applies sets of objects with server-side apply under one field manager.
pub struct Applier {
    client: Client,
    field_manager: String,
    resolver: Resolver,
}

struct Planned {
    id: ObjectId,
    object: Value,
    policy: SsaPolicy,
}

enum Verdict {
    Apply { exists: bool },
    Unchanged,
    Skip,
    Recreate,
}

impl Applier {
    /// An applier that writes with `field_manager` (Flux: `kustomize-controller`).
    pub fn new(client: Client, field_manager: impl Into<String>) -> Self {
        Self {
            client,
            field_manager: field_manager.into(),
            resolver: Resolver::default(),
        }
    }

    /// Applies `objects` in stages; see the crate documentation.
    ///
    /// Fails before changing the cluster if an object is incomplete, duplicated, or of a kind
    /// the cluster does not serve; a stage whose dry-run fails is not applied at all.
    pub async fn apply(
        &self,
        objects: Vec<Value>,
        options: &ApplyOptions,
    ) -> Result<ApplyResult, ApplyError> {
        let plan = self.plan(objects, options)?;
        let inventory = Inventory::of(plan.iter().map(|p| &p.id));
        let mut changes = Vec::with_capacity(plan.len());
        for stage in Stage::ALL {
            let batch: Vec<&Planned> = plan.iter().filter(|p| stage_of(&p.id) == stage).collect();
            if batch.is_empty() {
                continue;
            }
            let verdicts = self.dry_run(&batch, options).await?;
            changes.extend(self.write(&batch, verdicts).await?);
            if stage == Stage::Cluster {
                self.wait_for_crds(&batch, options.crd_timeout).await?;
            }
        }
        Ok(ApplyResult { changes, inventory })
    }

    /// Validates the input, adds the owner labels and orders the objects.
    fn plan(
        &self,
        objects: Vec<Value>,
        options: &ApplyOptions,
    ) -> Result<Vec<Planned>, ApplyError> {
        let mut seen = HashSet::new();
        let mut plan = Vec::with_capacity(objects.len());
        for (index, mut object) in objects.into_iter().enumerate() {
            let id = ObjectId::of(&object);
            for (field, value) in [
                ("apiVersion", &id.version),
                ("kind", &id.kind),
                ("metadata.name", &id.name),
            ] {
                if value.is_empty() {
                    return Err(ApplyError::Incomplete { index, field });
                }
            }
            if !seen.insert(id.inventory_id()) {
                return Err(ApplyError::Duplicate(Box::new(id)));
            }
            if !options.owner_labels.is_empty() {
                let labels = &mut object["metadata"]["labels"];
                if !labels.is_object() {
                    *labels = Value::Object(Default::default());
                }
                for (k, v) in &options.owner_labels {
                    labels[k] = Value::String(v.clone());
                }
            }
            let policy = SsaPolicy::of(&object);
            plan.push(Planned { id, object, policy });
        }
        plan.sort_by(|a, b| {
            (
                stage_of(&a.id),
                kind_rank(&a.id.kind),
                &a.id.namespace,
                &a.id.name,
            )
                .cmp(&(
                    stage_of(&b.id),
                    kind_rank(&b.id.kind),
                    &b.id.namespace,
                    &b.id.name,
                ))
        });
        Ok(plan)
    }

    fn params(&self, dry_run: bool) -> PatchParams {
        let mut params = PatchParams::apply(&self.field_manager).force();
        params.dry_run = dry_run;
        params
    }

    /// Dry-runs every object of a stage and decides what to do with each.
    async fn dry_run(
        &self,
        batch: &[&Planned],
        options: &ApplyOptions,
    ) -> Result<Vec<Verdict>, ApplyError> {
        // Indices rather than references as the stream items: closures over borrowed items
        // make the future's Send bound higher-ranked, which rustc cannot prove (rust#102211).
        let results: Vec<Result<Verdict, ApplyError>> = stream::iter(0..batch.len())
            .map(|i| self.verdict(batch[i], options))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        gather(results, ApplyError::DryRun)
    }

    async fn verdict(
        &self,
        planned: &Planned,
        options: &ApplyOptions,
    ) -> Result<Verdict, ApplyError> {
        let id = &planned.id;
        if planned.policy == SsaPolicy::Ignore {
            return Ok(Verdict::Skip);
        }
        let (api, _) = self.resolver.api(&self.client, id).await?;
        let live = api
            .get_opt(&id.name)
            .await
            .map_err(|source| ApplyError::Kube {
                context: format!("reading {id}"),
                source,
            })?;
        if live.is_some() && planned.policy == SsaPolicy::IfNotPresent {
            return Ok(Verdict::Skip);
        }
        let dry = api
            .patch(&id.name, &self.params(true), &Patch::Apply(&planned.object))
            .await;
        match dry {
            Ok(result) => {
                let Some(mut live) = live else {
                    return Ok(Verdict::Apply { exists: false });
                };
                // The dry-run is computed from the object as it is at that moment; if another
                // controller wrote it since our read (status, revision annotations), read it again
                // so both sides of the comparison are the same version.
                if live.metadata.resource_version != result.metadata.resource_version
                    && let Some(fresh) =
                        api.get_opt(&id.name)
                            .await
                            .map_err(|source| ApplyError::Kube {
                                context: format!("reading {id}"),
                                source,
                            })?
                {
                    live = fresh;
                }
                if same(&live, &result) {
                    Ok(Verdict::Unchanged)
                } else {
                    Ok(Verdict::Apply { exists: true })
                }
            }
            Err(kube::Error::Api(status))
                if is_immutable(&status.message) && may_force(planned, options) =>
            {
                Ok(Verdict::Recreate)
            }
            Err(kube::Error::Api(status)) => Err(ApplyError::DryRun(vec![ObjectError {
                id: id.clone(),
                message: status.message.clone(),
            }])),
            Err(source) => Err(ApplyError::Kube {
                context: format!("dry-running {id}"),
                source,
            }),
        }
    }

    /// Applies what the dry-run found changed, recreating where forced.
    async fn write(
        &self,
        batch: &[&Planned],
        verdicts: Vec<Verdict>,
    ) -> Result<Vec<Change>, ApplyError> {
        let work = verdicts.into_iter().enumerate().map(|(i, v)| async move {
            let p = batch[i];
            let action = match v {
                Verdict::Skip => {
                    return Ok(Change {
                        id: p.id.clone(),
                        action: Action::Skipped,
                    });
                }
                Verdict::Unchanged => {
                    return Ok(Change {
                        id: p.id.clone(),
                        action: Action::Unchanged,
                    });
                }
                Verdict::Apply { exists: true } => Action::Configured,
                Verdict::Apply { exists: false } => Action::Created,
                Verdict::Recreate => {
                    self.delete_and_wait(&p.id).await?;
                    Action::Recreated
                }
            };
            let (api, _) = self.resolver.api(&self.client, &p.id).await?;
            match api
                .patch(&p.id.name, &self.params(false), &Patch::Apply(&p.object))
                .await
            {
                Ok(_) => Ok(Change {
                    id: p.id.clone(),
                    action,
                }),
                Err(kube::Error::Api(status)) => Err(ObjectError {
                    id: p.id.clone(),
                    message: status.message.clone(),
                }
                .into_apply()),
                Err(source) => Err(ApplyError::Kube {
                    context: format!("applying {}", p.id),
                    source,
                }),
            }
        });
        let results: Vec<Result<Change, ApplyError>> =
            stream::iter(work).buffered(CONCURRENCY).collect().await;
        gather(results, ApplyError::Apply)
    }

    async fn delete_and_wait(&self, id: &ObjectId) -> Result<(), ApplyError> {
        let (api, _) = self.resolver.api(&self.client, id).await?;
        let kube_err = |source| ApplyError::Kube {
            context: format!("recreating {id}"),
            source,
        };
        match api.delete(&id.name, &DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(kube_err(e)),
        }
        for _ in 0..300 {
            if api.get_opt(&id.name).await.map_err(kube_err)?.is_none() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(ObjectError {
            id: id.clone(),
            message: "still present 60s after deletion".into(),
        }
        .into_apply())
    }

    async fn wait_for_crds(&self, batch: &[&Planned], timeout: Duration) -> Result<(), ApplyError> {
        let names: Vec<&str> = batch
            .iter()
            .filter(|p| p.id.kind == "CustomResourceDefinition")
            .map(|p| p.id.name.as_str())
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let deadline = tokio::time::Instant::now() + timeout;
        for name in names {
            loop {
                let crd = api.get_opt(name).await.map_err(|source| ApplyError::Kube {
                    context: format!("reading CRD {name}"),
                    source,
                })?;
                let established = crd
                    .and_then(|c| c.status)
                    .and_then(|s| s.conditions)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                if established {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(ApplyError::CrdNotEstablished(format!(
                        "{name} after {timeout:?}"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Deletes the objects of `stale` (objects that left the inventory), last stage first.
    ///
    /// An object is left alone if it is already gone, carries
    /// `kustomize.toolkit.fluxcd.io/prune: disabled`, or does not carry `owner_labels` (it was
    /// taken over by someone else).
    pub async fn prune(
        &self,
        mut stale: Vec<ObjectId>,
        owner_labels: &BTreeMap<String, String>,
    ) -> Result<Vec<Change>, ApplyError> {
        stale.sort_by(|a, b| {
            (stage_of(b), kind_rank(&b.kind), &b.namespace, &b.name).cmp(&(
                stage_of(a),
                kind_rank(&a.kind),
                &a.namespace,
                &a.name,
            ))
        });
        let mut changes = Vec::new();
        let mut failures = Vec::new();
        for mut id in stale {
            if id.version.is_empty() {
                id.version = "v1".into();
            }
            let api = match self.resolver.api(&self.client, &id).await {
                Ok((api, _)) => api,
                // The kind is gone (its CRD was removed): so are its objects.
                Err(ApplyError::UnknownKind { .. }) => continue,
                Err(e) => return Err(e),
            };
            let live = api
                .get_opt(&id.name)
                .await
                .map_err(|source| ApplyError::Kube {
                    context: format!("reading {id}"),
                    source,
                })?;
            let Some(live) = live else { continue };
            let labels = live.metadata.labels.clone().unwrap_or_default();
            let annotations = live.metadata.annotations.clone().unwrap_or_default();
            let disabled = [annotations.get(PRUNE_KEY), labels.get(PRUNE_KEY)]
                .into_iter()
                .flatten()
                .any(|v| v == "disabled");
            let owned = owner_labels.iter().all(|(k, v)| labels.get(k) == Some(v));
            if disabled || !owned {
                changes.push(Change {
                    id,
                    action: Action::Skipped,
                });
                continue;
            }
            match api.delete(&id.name, &DeleteParams::background()).await {
                Ok(_) => changes.push(Change {
                    id,
                    action: Action::Deleted,
                }),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(kube::Error::Api(s)) => failures.push(ObjectError {
                    id,
                    message: s.message.clone(),
                }),
                Err(source) => {
                    return Err(ApplyError::Kube {
                        context: format!("deleting {id}"),
                        source,
                    });
                }
            }
        }
        if failures.is_empty() {
            Ok(changes)
        } else {
            Err(ApplyError::Prune(failures))
        }
    }

    /// Whether objects of `id`'s kind live in namespaces (from discovery).
    pub async fn namespaced(&self, id: &ObjectId) -> Result<bool, ApplyError> {
        Ok(self.resolver.resolve(&self.client, id).await?.namespaced)
    }

    /// What server-side applying `object` would make of it (a dry-run), beside the live object
    /// (`None` when it does not exist); nothing is written. Drift detection compares the two.
    pub async fn preview(&self, object: &Value) -> Result<(Option<Value>, Value), ApplyError> {
        let id = ObjectId::of(object);
        let (api, _) = self.resolver.api(&self.client, &id).await?;
        let kube_err = |source| ApplyError::Kube {
            context: format!("dry-running {id}"),
            source,
        };
        let live = api.get_opt(&id.name).await.map_err(kube_err)?;
        let dry = match api
            .patch(&id.name, &self.params(true), &Patch::Apply(object))
            .await
        {
            Ok(dry) => dry,
            Err(kube::Error::Api(status)) => {
                return Err(ApplyError::DryRun(vec![ObjectError {
                    id: id.clone(),
                    message: status.message.clone(),
                }]));
            }
            Err(e) => return Err(kube_err(e)),
        };
        let value = |o: &DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
        Ok((live.as_ref().map(value), value(&dry)))
    }

    /// The live object, if it exists.
    pub async fn get(&self, id: &ObjectId) -> Result<Option<DynamicObject>, ApplyError> {
        let (api, _) = self.resolver.api(&self.client, id).await?;
        api.get_opt(&id.name)
            .await
            .map_err(|source| ApplyError::Kube {
                context: format!("reading {id}"),
                source,
            })
    }
}

/// Collects per-object outcomes: every object's failure is reported together (wrapped by `wrap`),
/// while any other error ends the operation at once.
fn gather<T>(
    results: Vec<Result<T, ApplyError>>,
    wrap: fn(Vec<ObjectError>) -> ApplyError,
) -> Result<Vec<T>, ApplyError> {
    let mut done = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(item) => done.push(item),
            Err(ApplyError::DryRun(mut e) | ApplyError::Apply(mut e)) => failures.append(&mut e),
            Err(other) => return Err(other),
        }
    }
    if failures.is_empty() {
        Ok(done)
    } else {
        Err(wrap(failures))
    }
}

impl ObjectError {
    fn into_apply(self) -> ApplyError {
        ApplyError::Apply(vec![self])
    }
}

fn may_force(planned: &Planned, options: &ApplyOptions) -> bool {
    let meta = &planned.object["metadata"];
    options.force
        || meta["annotations"][FORCE_KEY] == "enabled"
        || meta["labels"][FORCE_KEY] == "enabled"
}

fn is_immutable(message: &str) -> bool {
    message.contains("field is immutable") || message.contains("immutable field")
}

/// Whether a dry-run result equals the live object, ignoring bookkeeping metadata.
fn same(live: &DynamicObject, dry: &DynamicObject) -> bool {
    normalize(live) == normalize(dry)
}

fn normalize(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "uid",
        ] {
            meta.remove(key);
        }
    }
    value
}
