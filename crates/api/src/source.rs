//! `GitRepository` (`source.toolkit.fluxcd.io/v1`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;
use crate::meta::{Artifact, LocalObjectReference};

/// The API group of sources.
pub const GROUP: &str = "source.toolkit.fluxcd.io";

/// Periodically fetches a Git repository and makes the resolved tree available as an artifact.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "GitRepository",
    plural = "gitrepositories",
    shortname = "gitrepo",
    category = "flux",
    namespaced,
    status = "GitRepositoryStatus",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// The repository address: `http(s)://`, `ssh://`, `git@host:path` or `git://`.
    pub url: String,
    /// A Secret with credentials: `username`/`password`, `bearerToken`, `ca.crt`, or
    /// `identity`/`known_hosts` for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// The provider used for authentication (`generic`, `azure`, `github`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// How often the repository is checked for new commits.
    pub interval: Duration,
    /// Timeout of Git operations; defaults to `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// The reference to check out; defaults to the `master` branch.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<GitRepositoryRef>,
    /// OpenPGP/SSH signature verification of the commit or tag (not supported by keelson yet).
    #[schemars(schema_with = "crate::meta::any_object")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<serde_json::Value>,
    /// A Secret with proxy settings (not supported by keelson yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Extra ignore rules in `.gitignore` format, added to the defaults and `.sourceignore` files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stops reconciles of this object while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Also fetch submodules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse_submodules: Option<bool>,
    /// Other GitRepositories whose artifacts are included in this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<GitRepositoryInclude>,
    /// Directories to check out sparsely (not supported by keelson yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sparse_checkout: Vec<String>,
    /// The ServiceAccount used for workload-identity authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

impl GitRepositorySpec {
    /// The Git operation timeout, `60s` unless set.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .clone()
            .unwrap_or_else(|| Duration::from_secs(60))
    }

    /// Whether reconciles are suspended.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }

    /// The names of set fields that keelson accepts but does not act on yet.
    pub fn unsupported_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.verify.is_some() {
            fields.push("spec.verify");
        }
        if self.proxy_secret_ref.is_some() {
            fields.push("spec.proxySecretRef");
        }
        if !self.sparse_checkout.is_empty() {
            fields.push("spec.sparseCheckout");
        }
        if self.recurse_submodules.unwrap_or(false) {
            fields.push("spec.recurseSubmodules");
        }
        if !self.include.is_empty() {
            fields.push("spec.include");
        }
        if self.provider.as_deref().is_some_and(|p| p != "generic") {
            fields.push("spec.provider");
        }
        fields
    }
}

/// The Git reference to check out. Precedence: commit, name, semver, tag, branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitRepositoryRef {
    /// A branch name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// A tag name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// A semver range; the highest matching tag is checked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// A full reference name, e.g. `refs/heads/main` or `refs/pull/42/head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Another GitRepository whose artifact is copied into this one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// The GitRepository to include.
    pub repository: LocalObjectReference,
    /// Path in the included artifact to copy from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// Path in this artifact to copy to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

/// The observed state of a GitRepository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryStatus {
    /// The last generation fully handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ArtifactInStorage, FetchFailed, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The artifact of the last successful fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The ignore rules the artifact was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
