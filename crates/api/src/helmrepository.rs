//! `HelmRepository` (`source.toolkit.fluxcd.io/v1`): a Helm chart repository, either an HTTP
//! repository serving `index.yaml` (`type: default`) or an OCI registry (`type: oci`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;
use crate::meta::{Artifact, LocalObjectReference};

/// A Helm repository: its index is fetched every `interval` and kept as an artifact
/// (`type: default`); for `type: oci` only the address is checked and charts are pulled by
/// the HelmCharts that refer to it.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "HelmRepository",
    plural = "helmrepositories",
    shortname = "helmrepo",
    category = "flux",
    namespaced,
    status = "HelmRepositoryStatus",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// The repository address: `http(s)://…` for `type: default`, `oci://…` for `type: oci`.
    pub url: String,
    /// A Secret with `username`/`password` (basic auth), or TLS `certFile`/`keyFile`/`caFile`
    /// (deprecated in favour of `certSecretRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// A Secret with `tls.crt`/`tls.key` (client certificate) and/or `ca.crt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Send the credentials also to hosts other than the repository's (chart URLs elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_credentials: Option<bool>,
    /// How often the index is fetched; defaults to `1m` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Allow plain HTTP to an OCI registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Timeout of index downloads; defaults to `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Stops reconciles of this object while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Which namespaces may refer to this object (not enforced by keelson yet).
    #[schemars(schema_with = "crate::meta::any_object")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<serde_json::Value>,
    /// `default` (HTTP index) or `oci`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub repo_type: Option<String>,
    /// The provider used for OCI authentication (`generic`, `aws`, `azure`, `gcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl HelmRepositorySpec {
    /// True for `type: oci`.
    pub fn is_oci(&self) -> bool {
        self.repo_type.as_deref() == Some("oci")
    }

    /// The fetch interval, `1m` unless set.
    pub fn interval(&self) -> Duration {
        self.interval
            .clone()
            .unwrap_or_else(|| Duration::from_secs(60))
    }

    /// The download timeout, `60s` unless set.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .clone()
            .unwrap_or_else(|| Duration::from_secs(60))
    }

    /// Whether reconciles are suspended.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }
}

/// The observed state of a HelmRepository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositoryStatus {
    /// The last generation fully handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ArtifactInStorage, FetchFailed, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Where the index artifact is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The index of the last successful fetch (`index.yaml`; revision is its digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
