//! The Flux kinds the operator commands (`get`, `reconcile`, `suspend`, `resume`, `export`) act
//! on: each is its API resource, its display name and how to read its revision, so that adding
//! a kind to every command is one constructor here and one subcommand variant there.

use keelson_api::{
    GitRepository, HelmChart, HelmRelease, HelmRepository, Kustomization, OCIRepository,
};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

/// A Flux kind.
#[derive(Debug, Clone)]
pub struct FluxKind {
    /// The kind, e.g. `GitRepository`.
    pub kind: &'static str,
    /// Its API resource.
    pub resource: ApiResource,
    /// The REVISION column of an object (empty when there is none yet).
    pub revision: fn(&Value) -> String,
}

/// The string at `path` in `value`, or empty.
pub fn text_at(value: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The condition of type `type_` in an object's `status.conditions`.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn artifact_revision(object: &Value) -> String {
    text_at(object, &["status", "artifact", "revision"])
}

impl FluxKind {
    /// `source.toolkit.fluxcd.io/v1` GitRepository; its revision is the stored artifact's.
    pub fn git_repository() -> Self {
        Self {
            kind: "GitRepository",
            resource: ApiResource::erase::<GitRepository>(&()),
            revision: artifact_revision,
        }
    }

    /// `source.toolkit.fluxcd.io/v1` OCIRepository; its revision is the stored artifact's
    /// (`<tag>@sha256:<digest>`).
    pub fn oci_repository() -> Self {
        Self {
            kind: "OCIRepository",
            resource: ApiResource::erase::<OCIRepository>(&()),
            revision: artifact_revision,
        }
    }

    /// `source.toolkit.fluxcd.io/v1` HelmRepository; its revision is the index's digest (an OCI
    /// HelmRepository has none, as in Flux).
    pub fn helm_repository() -> Self {
        Self {
            kind: "HelmRepository",
            resource: ApiResource::erase::<HelmRepository>(&()),
            revision: artifact_revision,
        }
    }

    /// `source.toolkit.fluxcd.io/v1` HelmChart; its revision is the chart version stored.
    pub fn helm_chart() -> Self {
        Self {
            kind: "HelmChart",
            resource: ApiResource::erase::<HelmChart>(&()),
            revision: artifact_revision,
        }
    }

    /// `kustomize.toolkit.fluxcd.io/v1` Kustomization; its revision is the last applied one.
    pub fn kustomization() -> Self {
        Self {
            kind: "Kustomization",
            resource: ApiResource::erase::<Kustomization>(&()),
            revision: |object| text_at(object, &["status", "lastAppliedRevision"]),
        }
    }

    /// `helm.toolkit.fluxcd.io/v2` HelmRelease; its revision is the chart version of the newest
    /// release in its history, as `flux get helmreleases` prints it.
    pub fn helm_release() -> Self {
        Self {
            kind: "HelmRelease",
            resource: ApiResource::erase::<HelmRelease>(&()),
            revision: |object| {
                object
                    .pointer("/status/history/0/chartVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            },
        }
    }

    /// The source kinds, in `flux get sources all` order.
    pub fn sources() -> Vec<Self> {
        vec![
            Self::git_repository(),
            Self::oci_repository(),
            Self::helm_repository(),
            Self::helm_chart(),
        ]
    }

    /// Every kind, sources first (`get all`).
    pub fn all() -> Vec<Self> {
        let mut kinds = Self::sources();
        kinds.extend([Self::kustomization(), Self::helm_release()]);
        kinds
    }

    /// The kind named `kind` (as written in a `sourceRef` or `chartRef`).
    pub fn by_name(kind: &str) -> Option<Self> {
        Self::all().into_iter().find(|k| k.kind == kind)
    }

    /// The API of this kind in `ns`.
    pub fn api(&self, client: &Client, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), ns, &self.resource)
    }
}
