//! Installing the bundle on a cluster and removing it again.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use keelson_api::{GitRepository, Kustomization};
use keelson_apply::{Applier, ApplyOptions, Change, health::Health};
use keelson_manifest::ObjectId;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::manifests::{CONTROLLER_NAME, InstallOptions, components};

/// The field manager keelson's installer writes with.
pub const FIELD_MANAGER: &str = "keelson";

/// Receives progress messages of long operations (the CLI prints them).
pub trait Progress: Sync {
    /// One step has started or finished.
    fn step(&self, message: &str);
}

/// Reports nothing.
impl Progress for () {
    fn step(&self, _message: &str) {}
}

/// Why an install failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Applying the bundle failed.
    #[error("failed to apply the install bundle")]
    Apply(#[source] keelson_apply::ApplyError),
    /// The controller did not become Available in time.
    #[error(
        "the controller Deployment {namespace}/{CONTROLLER_NAME} is not Available after {timeout:?}: {state}"
    )]
    NotAvailable {
        /// The namespace.
        namespace: String,
        /// How long we waited.
        timeout: Duration,
        /// What kstatus said last.
        state: String,
    },
}

/// Applies `objects` (an install bundle, possibly with more objects) with server-side apply, CRDs
/// first, and waits until every Deployment among them is Available.
pub async fn apply_and_wait(
    client: &Client,
    objects: Vec<Value>,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Vec<Change>, InstallError> {
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let deployments: Vec<ObjectId> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .map(ObjectId::of)
        .collect();
    progress.step(&format!("applying {} objects", objects.len()));
    let options = ApplyOptions {
        force: true,
        ..ApplyOptions::default()
    };
    let result = applier
        .apply(objects, &options)
        .await
        .map_err(InstallError::Apply)?;
    for change in &result.changes {
        progress.step(&format!("{} {}", change.id, change.action));
    }
    for id in &deployments {
        progress.step(&format!("waiting for {id} to become Available"));
    }
    match applier
        .wait_healthy(&deployments, timeout)
        .await
        .map_err(InstallError::Apply)?
    {
        Ok(()) => Ok(result.changes),
        Err(pending) => Err(InstallError::NotAvailable {
            namespace: deployments
                .first()
                .map(|d| d.namespace.clone())
                .unwrap_or_default(),
            timeout,
            state: pending
                .iter()
                .map(|(id, h)| format!("{id}: {}", describe(h)))
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

/// Installs the bundle for `options` and waits until the controller is Available.
pub async fn install(
    client: &Client,
    options: &InstallOptions,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Vec<Change>, InstallError> {
    apply_and_wait(client, components(options), timeout, progress).await
}

fn describe(health: &Health) -> String {
    match health {
        Health::InProgress(m) | Health::Failed(m) => m.clone(),
        other => format!("{other:?}"),
    }
}

/// What `uninstall` removes.
#[derive(Debug, Clone, Default)]
pub struct UninstallOptions {
    /// Keep the namespace.
    pub keep_namespace: bool,
    /// Keep the CRDs (and so every GitRepository and Kustomization outside the namespace).
    pub keep_crds: bool,
    /// Let the controller prune what the Kustomizations applied, instead of leaving the
    /// workloads in place (the default removes the finalizers first).
    pub prune_workloads: bool,
    /// Only report what would be deleted.
    pub dry_run: bool,
}

/// Why an uninstall failed.
#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    /// An API call failed.
    #[error("failed to {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// Deleting the bundle's objects failed.
    #[error("failed to delete the install bundle")]
    Delete(#[source] keelson_apply::ApplyError),
}

/// Removes keelson from the cluster: its custom resources (keeping what they applied unless
/// asked), then the bundle in reverse order. Returns what was (or would be) deleted.
pub async fn uninstall(
    client: &Client,
    install: &InstallOptions,
    options: &UninstallOptions,
    progress: &dyn Progress,
) -> Result<Vec<String>, UninstallError> {
    let mut removed = Vec::new();
    // Without the CRDs every GitRepository and Kustomization goes; with them, only the
    // namespace's own.
    let scope = options.keep_crds.then_some(install.namespace.as_str());
    removed.extend(
        delete_custom::<Kustomization>(client, scope, "Kustomization", options, progress).await?,
    );
    removed.extend(
        delete_custom::<GitRepository>(client, scope, "GitRepository", options, progress).await?,
    );
    let ids: Vec<ObjectId> = components(install)
        .iter()
        .map(ObjectId::of)
        .filter(|id| !(options.keep_crds && id.kind == "CustomResourceDefinition"))
        .filter(|id| !(options.keep_namespace && id.kind == "Namespace"))
        .collect();
    if options.dry_run {
        removed.extend(ids.iter().map(ToString::to_string));
        return Ok(removed);
    }
    // The CRDs carry prune: disabled (so no Kustomization deletes them); delete them by name.
    let (crds, rest): (Vec<ObjectId>, Vec<ObjectId>) = ids
        .into_iter()
        .partition(|id| id.kind == "CustomResourceDefinition");
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let changes = applier
        .prune(rest, &BTreeMap::new())
        .await
        .map_err(UninstallError::Delete)?;
    for change in changes {
        progress.step(&format!("{} {}", change.id, change.action));
        removed.push(change.id.to_string());
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for id in crds {
        match api.delete(&id.name, &DeleteParams::background()).await {
            Ok(_) => {
                progress.step(&format!("{id} deleted"));
                removed.push(id.to_string());
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(UninstallError::Kube {
                    context: format!("delete {id}"),
                    source,
                });
            }
        }
    }
    Ok(removed)
}

async fn delete_custom<K>(
    client: &Client,
    namespace: Option<&str>,
    kind: &str,
    options: &UninstallOptions,
    progress: &dyn Progress,
) -> Result<Vec<String>, UninstallError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let all: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list = match all.list(&ListParams::default()).await {
        Ok(list) => list,
        // The CRD is not installed: nothing to delete.
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
        Err(source) => {
            return Err(UninstallError::Kube {
                context: format!("list {kind} objects"),
                source,
            });
        }
    };
    let mut removed = Vec::new();
    for object in list {
        let ns = object.namespace().unwrap_or_default();
        let name = object.name_any();
        let label = format!("{kind}/{ns}/{name}");
        removed.push(label.clone());
        if options.dry_run {
            continue;
        }
        let api: Api<K> = Api::namespaced(client.clone(), &ns);
        if !options.prune_workloads && !object.finalizers().is_empty() {
            let patch = serde_json::json!({ "metadata": { "finalizers": null } });
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|source| UninstallError::Kube {
                    context: format!("remove the finalizers of {label}"),
                    source,
                })?;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => progress.step(&format!("{label} deleted")),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(UninstallError::Kube {
                    context: format!("delete {label}"),
                    source,
                });
            }
        }
    }
    Ok(removed)
}
