//! `HelmRelease` (`helm.toolkit.fluxcd.io/v2`), with the defaults Flux's helm-controller applies
//! in code (timeout 5m, maxHistory 5, release name `[targetNamespace-]name`, …) as methods.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;
use crate::kustomization::{
    CommonMetadata, CustomHealthCheck, Image, Patch, ResourceInventory, Selector,
};
pub use crate::meta::DependencyReference;

/// The API group of HelmReleases.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";
/// The field manager used for server-side apply, as Flux's helm-controller.
pub const FIELD_MANAGER: &str = "helm-controller";
/// Label naming the HelmRelease that owns an applied object.
pub const OWNER_NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// Label naming the namespace of the HelmRelease that owns an applied object.
pub const OWNER_NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";
/// Annotation or label with value `disabled` that leaves an object out of drift detection.
pub const DRIFT_DETECTION_ANNOTATION: &str = "helm.toolkit.fluxcd.io/driftDetection";
/// Annotation asking for a one-off release even without changes (its value must equal
/// `reconcile.fluxcd.io/requestedAt`).
pub const FORCE_REQUEST_ANNOTATION: &str = "reconcile.fluxcd.io/forceAt";
/// Annotation asking to reset the failure counters (its value must equal
/// `reconcile.fluxcd.io/requestedAt`).
pub const RESET_REQUEST_ANNOTATION: &str = "reconcile.fluxcd.io/resetAt";
/// The number of release versions kept when `maxHistory` is not set.
pub const DEFAULT_MAX_HISTORY: i64 = 5;
/// The timeout of Helm actions when `timeout` is not set.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// Condition types and reasons specific to HelmReleases (Flux's names).
pub mod conditions {
    /// The last release attempt (install/upgrade) against the latest desired state.
    pub const RELEASED: &str = "Released";
    /// The last test run against the latest desired state.
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// The last remediation (uninstall/rollback) after a failed release.
    pub const REMEDIATED: &str = "Remediated";
    /// keelson also reports drift as a condition when `driftDetection.mode` is `warn`.
    pub const DRIFTED: &str = "Drifted";

    /// The Helm install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// The Helm install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// The Helm upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// The Helm upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// The Helm tests succeeded.
    pub const TEST_SUCCEEDED: &str = "TestSucceeded";
    /// The Helm tests failed.
    pub const TEST_FAILED: &str = "TestFailed";
    /// The Helm rollback succeeded.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// The Helm rollback failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// The Helm uninstall succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// The Helm uninstall failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// The chart artifact could not be fetched or loaded.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The values could not be composed from `values`/`valuesFrom`.
    pub const INIT_FAILED: &str = "InitFailed";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The cluster drifted from the release manifest.
    pub const DRIFT_DETECTED: &str = "DriftDetected";
    /// The cluster matches the release manifest.
    pub const NO_DRIFT_DETECTED: &str = "NoDriftDetected";
    /// Retries are exhausted; a change of the spec (or a reset request) is needed.
    pub const RETRIES_EXHAUSTED: &str = "RetriesExceeded";
}

/// Installs a Helm chart into the cluster and keeps the release in the desired state.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "helm.toolkit.fluxcd.io",
    version = "v2",
    kind = "HelmRelease",
    plural = "helmreleases",
    shortname = "hr",
    category = "flux",
    namespaced,
    status = "HelmReleaseStatus",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    /// The template of the HelmChart created for this release (exclusive with `chartRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// A source object holding the chart artifact: `OCIRepository`, `HelmChart` or
    /// `ExternalArtifact` (exclusive with `chart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<ChartReference>,
    /// How often the release is reconciled.
    pub interval: Duration,
    /// A kubeconfig for a remote cluster (not supported by keelson yet).
    #[schemars(schema_with = "crate::meta::any_object")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<serde_json::Value>,
    /// Stops reconciles while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// The Helm release name; defaults to `[targetNamespace-]name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// The namespace the chart is installed into; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    /// The namespace of the Helm release storage; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_namespace: Option<String>,
    /// HelmReleases that must be Ready first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Timeout of each Helm action (hooks, waits); defaults to `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Release versions kept in storage; 0 keeps all; defaults to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,
    /// ServiceAccount to impersonate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Reuse one client for a whole reconcile (accepted, has no effect in keelson).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    /// Detection (and correction) of changes made to the release's objects in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,
    /// Settings of the install action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
    /// Settings of the upgrade action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    /// Settings of the test action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Settings of the rollback action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Settings of the uninstall action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,
    /// ConfigMaps and Secrets holding values, merged in order before `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,
    /// Inline values, merged last.
    #[schemars(schema_with = "crate::meta::any_object")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Value>,
    /// Labels and annotations added to every object of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Kustomize post-renderers, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_renderers: Vec<PostRenderer>,
    /// Which manifests the post-renderers see: `nohooks`, `combined` or `separate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_render_strategy: Option<String>,
    /// How readiness is awaited: `poller` (kstatus) or `legacy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,
    /// CEL expressions deciding the health of custom resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<CustomHealthCheck>,
}

/// A reference to the chart source of `chartRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChartReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `HelmChart` or `ExternalArtifact`.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The template of the HelmChart object created for `spec.chart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HelmChartTemplate {
    /// Labels and annotations of the HelmChart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<CommonMetadata>,
    /// The HelmChart's spec.
    pub spec: HelmChartTemplateSpec,
}

/// The spec part of [`HelmChartTemplate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name (HelmRepository) or path (GitRepository, Bucket).
    pub chart: String,
    /// Semver constraint; defaults to `*` (the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The source holding the chart.
    pub source_ref: CrossNamespaceObjectReference,
    /// How often the source is checked; defaults to the HelmRelease's interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// `ChartVersion` (default) or `Revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_strategy: Option<String>,
    /// Values files of the chart replacing `values.yaml`, merged in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Ignore values files that do not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_values_files: Option<bool>,
    /// Signature verification of OCI charts (not supported by keelson yet).
    #[schemars(schema_with = "crate::meta::any_object")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<serde_json::Value>,
}

/// A reference to a source object of `spec.chart.spec.sourceRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket`.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A ConfigMap or Secret holding values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Name of the object, in the HelmRelease's namespace.
    pub name: String,
    /// The data key holding the values; defaults to `values.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_key: Option<String>,
    /// A dot path (Helm `--set` syntax) the single value is set at; the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    /// Carry on if the object (not the key) does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Set the value at `targetPath` literally, like `helm --set-literal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<bool>,
}

impl ValuesReference {
    /// The data key: `valuesKey`, else `values.yaml`.
    pub fn key(&self) -> &str {
        self.values_key.as_deref().unwrap_or("values.yaml")
    }

    /// Whether a missing object is ignored.
    pub fn is_optional(&self) -> bool {
        self.optional.unwrap_or(false)
    }
}

/// Drift detection settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftDetection {
    /// `enabled` (correct), `warn` (report) or `disabled` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Changes to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
}

impl DriftDetection {
    /// The mode, `disabled` when unset.
    pub fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or("disabled")
    }
}

/// Paths to leave out of drift detection, for all objects or the selected ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IgnoreRule {
    /// JSON pointers (RFC 6901).
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// A post-renderer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostRenderer {
    /// Kustomize patches and image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizePostRenderer>,
}

/// The kustomize post-renderer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KustomizePostRenderer {
    /// Strategic merge or JSON6902 patches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// Image overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

/// How readiness is awaited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaitStrategy {
    /// `poller` or `legacy`.
    pub name: String,
}

/// A retry strategy of install or upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionStrategy {
    /// `RemediateOnFailure` (default) or `RetryOnFailure`.
    pub name: String,
    /// How soon a failed action is retried with `RetryOnFailure`; defaults to 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<Duration>,
}

/// Settings of the install action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Timeout of the action; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// What to do on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ActionStrategy>,
    /// Remediation of a failed install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Do not take over existing objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_take_ownership: Option<bool>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Do not validate against the OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_open_api_validation: Option<bool>,
    /// Do not validate values against `values.schema.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// Reuse the name of a deleted release kept in history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<bool>,
    /// Deprecated: use `crds: Skip`.
    #[serde(default, rename = "skipCRDs", skip_serializing_if = "Option::is_none")]
    pub skip_crds: Option<bool>,
    /// CRD policy: `Skip`, `Create` (default) or `CreateReplace`.
    #[serde(default, rename = "crds", skip_serializing_if = "Option::is_none")]
    pub crds: Option<String>,
    /// Create the target namespace if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_namespace: Option<bool>,
    /// Use server-side apply (keelson always does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
}

/// Remediation of a failed install (always by uninstall).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Retries before giving up; negative is unlimited; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Skip remediation when tests fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure too, when no retries remain; defaults to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

/// Settings of the upgrade action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Timeout of the action; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// What to do on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ActionStrategy>,
    /// Remediation of a failed upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Do not take over existing objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_take_ownership: Option<bool>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Do not validate against the OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_open_api_validation: Option<bool>,
    /// Do not validate values against `values.schema.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// Replace objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Reuse the last release's values and merge the new ones over them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_values: Option<bool>,
    /// Delete objects created by a failed upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_on_fail: Option<bool>,
    /// CRD policy: `Skip` (default), `Create` or `CreateReplace`.
    #[serde(default, rename = "crds", skip_serializing_if = "Option::is_none")]
    pub crds: Option<String>,
    /// `enabled`, `disabled` or `auto` (keelson always applies server-side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<String>,
    /// `Reinstall` (default) or `InPlaceUpdate` when the chart's name changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_name_change_strategy: Option<String>,
}

/// Remediation of a failed upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Retries before giving up; negative is unlimited; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Skip remediation when tests fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure too; defaults to true when `retries` > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// `rollback` (default) or `uninstall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
}

/// Settings of the test action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Run the chart's tests after install and upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Timeout of the tests; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Do not remediate when tests fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_failures: Option<bool>,
    /// Tests to run or leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<TestFilter>>,
}

/// A test filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestFilter {
    /// Name of the test.
    pub name: String,
    /// Leave the test out instead of selecting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
}

/// Settings of the rollback action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Timeout of the action; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Deprecated and without effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate: Option<bool>,
    /// Replace objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Delete objects created by a failed rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_on_fail: Option<bool>,
    /// `enabled`, `disabled` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<String>,
}

/// Settings of the uninstall action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Timeout of the action; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Keep the release history (marked uninstalled) after removing the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_history: Option<bool>,
    /// Do not wait for the objects to be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// `background` (default), `foreground` or `orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_propagation: Option<String>,
}

/// The observed state of a HelmRelease.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseStatus {
    /// The last generation fully handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the post-renderers of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_post_renderers_digest: Option<String>,
    /// Digest of the common metadata of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_common_metadata_digest: Option<String>,
    /// The last generation a reconcile was attempted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, Released, Remediated, TestSuccess.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `namespace/name` of the HelmChart created for `spec.chart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart: Option<String>,
    /// The namespace of the release storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_namespace: Option<String>,
    /// The releases performed, newest first, up to the last successful one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Snapshot>,
    /// The objects of the current release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// `install` or `upgrade`: the action the failure counters refer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action: Option<String>,
    /// How long the last release action took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action_duration: Option<Duration>,
    /// Failed reconciles against the current desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i64>,
    /// Failed installs against the current desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failures: Option<i64>,
    /// Failed upgrades against the current desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failures: Option<i64>,
    /// The chart revision of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The OCI digest of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision_digest: Option<String>,
    /// Deprecated: SHA-1 of the values of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_values_checksum: Option<String>,
    /// Deprecated: the version of the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_release_revision: Option<i64>,
    /// Digest of the values of the last attempt (`sha256:<hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_config_digest: Option<String>,
    /// The last `reconcile.fluxcd.io/resetAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reset_at: Option<String>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The last `reconcile.fluxcd.io/forceAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_force_at: Option<String>,
}

/// One release version as the controller saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Version of the snapshot format (`v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Digest of the stored release (`sha256:<hex>`).
    pub digest: String,
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Release version.
    pub version: i64,
    /// Release status (`deployed`, `superseded`, `failed`, …).
    pub status: String,
    /// The action that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Chart name.
    pub chart_name: String,
    /// Chart version.
    pub chart_version: String,
    /// Chart appVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Digest of the values (`sha256:<hex>`).
    pub config_digest: String,
    /// When the release was first deployed (RFC 3339).
    pub first_deployed: String,
    /// When this version was deployed (RFC 3339).
    pub last_deployed: String,
    /// When the release was deleted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// Test hooks run for this version, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hooks: Option<BTreeMap<String, TestHookStatus>>,
    /// Digest of the OCI artifact of the chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
}

/// The outcome of one test hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestHookStatus {
    /// When the test last started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<String>,
    /// When the test last completed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<String>,
    /// `Succeeded`, `Failed`, `Running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// Helm's longest release name.
pub const MAX_RELEASE_NAME: usize = 53;

/// Flux's `ShortenName`: a name longer than 53 characters becomes its first 40 bytes, `-` and
/// the first 12 hex digits of its SHA-256, so that long `<targetNamespace>-<name>` releases
/// still install.
pub fn shorten_release_name(name: &str) -> String {
    use sha2::Digest as _;
    if name.len() <= MAX_RELEASE_NAME {
        return name.to_string();
    }
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let keep = MAX_RELEASE_NAME - 13;
    let cut = (0..=keep)
        .rev()
        .find(|&i| name.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}-{hex}", &name[..cut])
}

impl HelmRelease {
    /// The Helm release name: `releaseName`, else `[targetNamespace-]name`, shortened as Flux
    /// does when longer than Helm's 53 characters ([`shorten_release_name`]).
    pub fn release_name(&self) -> String {
        let name = self.metadata.name.clone().unwrap_or_default();
        if let Some(r) = self.spec.release_name.as_deref().filter(|r| !r.is_empty()) {
            return shorten_release_name(r);
        }
        match self
            .spec
            .target_namespace
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            Some(target) => shorten_release_name(&format!("{target}-{name}")),
            None => shorten_release_name(&name),
        }
    }

    /// The namespace the chart is installed into.
    pub fn release_namespace(&self) -> String {
        self.spec
            .target_namespace
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| self.metadata.namespace.clone())
            .unwrap_or_default()
    }

    /// The namespace of the release storage.
    pub fn storage_namespace(&self) -> String {
        self.spec
            .storage_namespace
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| self.metadata.namespace.clone())
            .unwrap_or_default()
    }

    /// The timeout of Helm actions: `timeout`, else 5m.
    pub fn timeout(&self) -> std::time::Duration {
        self.spec.timeout.as_ref().map_or(
            std::time::Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            Duration::as_std,
        )
    }

    /// Release versions to keep: `maxHistory`, else 5 (0 keeps all).
    pub fn max_history(&self) -> i64 {
        self.spec.max_history.unwrap_or(DEFAULT_MAX_HISTORY)
    }

    /// Whether reconciles are suspended.
    pub fn suspended(&self) -> bool {
        self.spec.suspend.unwrap_or(false)
    }

    /// The drift detection mode: `enabled`, `warn` or `disabled`.
    pub fn drift_mode(&self) -> &str {
        self.spec
            .drift_detection
            .as_ref()
            .map_or("disabled", DriftDetection::mode)
    }
}

impl Install {
    /// The CRD policy: `crds`, else `Skip` if `skipCRDs`, else `Create`.
    pub fn crds_policy(&self) -> &str {
        match (&self.crds, self.skip_crds) {
            (Some(p), _) => p,
            (None, Some(true)) => "Skip",
            _ => "Create",
        }
    }
}

impl Upgrade {
    /// The CRD policy: `crds`, else `Skip`.
    pub fn crds_policy(&self) -> &str {
        self.crds.as_deref().unwrap_or("Skip")
    }
}

impl InstallRemediation {
    /// Retries; negative is unlimited.
    pub fn retries(&self) -> i64 {
        self.retries.unwrap_or(0)
    }

    /// Whether the last failure is remediated when no retries remain.
    pub fn remediate_last_failure(&self) -> bool {
        self.remediate_last_failure.unwrap_or(false)
    }
}

impl UpgradeRemediation {
    /// Retries; negative is unlimited.
    pub fn retries(&self) -> i64 {
        self.retries.unwrap_or(0)
    }

    /// Whether the last failure is remediated: explicit, else when retries > 0.
    pub fn remediate_last_failure(&self) -> bool {
        self.remediate_last_failure
            .unwrap_or_else(|| self.retries() > 0)
    }

    /// `rollback` (default) or `uninstall`.
    pub fn strategy(&self) -> &str {
        self.strategy.as_deref().unwrap_or("rollback")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hr(spec: serde_json::Value) -> HelmRelease {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn defaults_follow_flux() {
        let r = hr(
            serde_json::json!({"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "podinfo"}}),
        );
        assert_eq!(r.release_name(), "podinfo");
        assert_eq!(r.release_namespace(), "apps");
        assert_eq!(r.storage_namespace(), "apps");
        assert_eq!(r.timeout().as_secs(), 300);
        assert_eq!(r.max_history(), 5);
        assert_eq!(r.drift_mode(), "disabled");
        assert_eq!(Install::default().crds_policy(), "Create");
        assert_eq!(Upgrade::default().crds_policy(), "Skip");
        assert!(!UpgradeRemediation::default().remediate_last_failure());
        let upgrade = UpgradeRemediation {
            retries: Some(2),
            ..Default::default()
        };
        assert!(upgrade.remediate_last_failure());
        assert_eq!(upgrade.strategy(), "rollback");

        let r = hr(
            serde_json::json!({"interval": "5m", "targetNamespace": "web",
            "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "p"}}}}),
        );
        assert_eq!(r.release_name(), "web-podinfo");
        assert_eq!(r.release_namespace(), "web");
        assert_eq!(r.storage_namespace(), "apps");
    }

    #[test]
    fn round_trips_through_json() {
        let spec = serde_json::json!({
            "interval": "5m", "timeout": "10m",
            "chart": {"spec": {"chart": "podinfo", "version": "6.x",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}, "interval": "60m"}},
            "install": {"crds": "Create", "disableOpenAPIValidation": true, "remediation": {"retries": 3, "remediateLastFailure": true}},
            "upgrade": {"crds": "CreateReplace", "remediation": {"retries": 0, "strategy": "rollback"}},
            "driftDetection": {"mode": "enabled", "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]},
            "valuesFrom": [{"kind": "Secret", "name": "s", "valuesKey": "v.yaml", "optional": true}],
            "values": {"a": {"b": [1, 2]}}
        });
        let r = hr(spec.clone());
        assert_eq!(serde_json::to_value(&r.spec).unwrap(), spec);
    }
}
