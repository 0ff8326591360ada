//! `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;
use crate::meta::{DependencyReference, LocalObjectReference, NamespacedObjectKindReference};

/// The API group of Kustomizations.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// The field manager used for server-side apply, as Flux's kustomize-controller.
pub const FIELD_MANAGER: &str = "kustomize-controller";
/// Label naming the Kustomization that owns an applied object.
pub const OWNER_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// Label naming the namespace of the Kustomization that owns an applied object.
pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// Annotation/label with value `disabled` that keeps an object from being pruned.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Annotation/label with value `disabled` that turns off postBuild substitution for an object.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// Annotation/label controlling server-side apply: `Ignore`, `IfNotPresent` or `Merge`.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// Annotation/label with value `enabled` that lets `force` recreate an object.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";

/// Builds a path of a source artifact with Kustomize and applies the result to the cluster.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kustomize.toolkit.fluxcd.io",
    version = "v1",
    kind = "Kustomization",
    plural = "kustomizations",
    shortname = "ks",
    category = "flux",
    namespaced,
    status = "KustomizationStatus",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// Labels and annotations added to every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Kustomizations that must be Ready before this one is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Decryption of SOPS-encrypted manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// How often the Kustomization is reconciled.
    pub interval: Duration,
    /// How soon a failed reconcile is retried; defaults to `interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<Duration>,
    /// A kubeconfig for applying to a remote cluster.
    #[schemars(schema_with = "crate::meta::any_object")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<serde_json::Value>,
    /// Path in the source artifact to build; defaults to the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Variable substitution after the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// Delete objects that left the build (garbage collection).
    pub prune: bool,
    /// What happens to applied objects when the Kustomization is deleted:
    /// `MirrorPrune` (default), `Delete`, `WaitForTermination` or `Orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<String>,
    /// Objects whose health is checked after apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<NamespacedObjectKindReference>,
    /// CEL expressions deciding the health of custom resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<CustomHealthCheck>,
    /// Prefix added to the names of all objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Suffix added to the names of all objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// Strategic merge or JSON6902 patches applied after the build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// Image overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// ServiceAccount to impersonate when applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// The source of the manifests.
    pub source_ref: CrossNamespaceSourceReference,
    /// Stops reconciles while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Namespace set on every namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    /// Timeout of apply and health checks; defaults to `interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Recreate objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Wait for every applied object to become Ready (implies health checks of all objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// Kustomize components to include.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Ignore components that do not exist in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_components: Option<bool>,
}

impl KustomizationSpec {
    /// The retry interval: `retryInterval`, else `interval`.
    pub fn retry_interval(&self) -> Duration {
        self.retry_interval
            .clone()
            .unwrap_or_else(|| self.interval.clone())
    }

    /// The timeout: `timeout`, else `interval`.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .clone()
            .unwrap_or_else(|| self.interval.clone())
    }

    /// Whether reconciles are suspended.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }

    /// Whether to wait for all applied objects to become Ready.
    pub fn wait(&self) -> bool {
        self.wait.unwrap_or(false)
    }

    /// Whether the spec changes the kustomization file it builds (targetNamespace,
    /// namePrefix/Suffix, patches, images, components), as Flux's generator does.
    pub fn has_build_settings(&self) -> bool {
        self.target_namespace.is_some()
            || self.name_prefix.is_some()
            || self.name_suffix.is_some()
            || !self.patches.is_empty()
            || !self.images.is_empty()
            || !self.components.is_empty()
    }

    /// Writes the spec's build settings into a kustomization document (the parsed
    /// `kustomization.yaml` of the path, or a generated one): `namespace`, `namePrefix`,
    /// `nameSuffix`, and `patches`, `images`, `components` appended to the file's own.
    pub fn apply_build_settings(&self, doc: &mut serde_json::Value) {
        use serde_json::{Value, json};
        if !doc.is_object() {
            *doc = json!({});
        }
        if let Some(ns) = &self.target_namespace {
            doc["namespace"] = json!(ns);
        }
        if let Some(prefix) = &self.name_prefix {
            doc["namePrefix"] = json!(prefix);
        }
        if let Some(suffix) = &self.name_suffix {
            doc["nameSuffix"] = json!(suffix);
        }
        let to_values = |items: Vec<Result<Value, serde_json::Error>>| -> Vec<Value> {
            items
                .into_iter()
                .map(|v| v.unwrap_or(Value::Null))
                .collect()
        };
        append(
            doc,
            "patches",
            to_values(self.patches.iter().map(serde_json::to_value).collect()),
        );
        append(
            doc,
            "images",
            to_values(self.images.iter().map(serde_json::to_value).collect()),
        );
        append(
            doc,
            "components",
            self.components.iter().map(|c| json!(c)).collect(),
        );
    }
}

fn append(doc: &mut serde_json::Value, key: &str, items: Vec<serde_json::Value>) {
    if items.is_empty() {
        return;
    }
    let list = &mut doc[key];
    if !list.is_array() {
        *list = serde_json::Value::Array(Vec::new());
    }
    if let Some(list) = list.as_array_mut() {
        list.extend(items);
    }
}

/// Labels and annotations for every applied object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommonMetadata {
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Decryption settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// The decryption provider; only `sops`.
    pub provider: String,
    /// A Secret holding the keys (`*.agekey` entries for age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for KMS workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

/// Variable substitution settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// Variables and their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub substitute: BTreeMap<String, String>,
    /// ConfigMaps and Secrets whose data are variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitute_from: Vec<SubstituteReference>,
}

/// A ConfigMap or Secret holding substitution variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubstituteReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Name of the object, in the Kustomization's namespace.
    pub name: String,
    /// Carry on if the object does not exist (kept as written: `optional: false` stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

impl SubstituteReference {
    /// Whether a missing object is skipped.
    pub fn is_optional(&self) -> bool {
        self.optional.unwrap_or(false)
    }
}

/// A patch and the objects it applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Patch {
    /// A strategic merge patch or a JSON6902 patch, as YAML.
    pub patch: String,
    /// The objects to patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Selects objects by group/version/kind/name/namespace and label/annotation selectors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Annotation selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// Label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// An image override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The image name to match.
    pub name: String,
    /// Replacement name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// Replacement digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// CEL expressions for the health of a custom resource kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// API version of the kind; only its group is matched.
    pub api_version: String,
    /// The kind; when omitted the entry applies to every kind of the group (an entry naming
    /// the kind takes precedence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// True when the object is healthy.
    pub current: String,
    /// True while the object is progressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// True when the object failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A reference to a source, optionally in another namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `GitRepository`, `OCIRepository`, `Bucket` or `ExternalArtifact` (Flux 2.7+); the CRD
    /// refuses other kinds, as Flux's does.
    #[schemars(extend("enum" = ["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"]))]
    pub kind: String,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; defaults to the Kustomization's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The observed state of a Kustomization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationStatus {
    /// The last generation fully handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, Healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last source revision applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The origin revision (from the source's metadata) last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_origin_revision: Option<String>,
    /// The last source revision a reconcile was attempted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The objects applied by the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
}

/// The objects a Kustomization applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceInventory {
    /// One entry per object.
    #[serde(default)]
    pub entries: Vec<ResourceRef>,
}

/// An inventory entry: `id` is `<namespace>_<name>_<group>_<kind>`, `v` the API version.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct ResourceRef {
    /// The object's id.
    pub id: String,
    /// The object's API version (without group).
    pub v: String,
}

impl Kustomization {
    /// The namespace of the source this Kustomization reads.
    pub fn source_namespace(&self) -> Option<String> {
        self.spec
            .source_ref
            .namespace
            .clone()
            .or_else(|| self.metadata.namespace.clone())
    }
}
