//! Flux-compatible API types for keelson.
//!
//! keelson serves the same custom resources as Flux so that existing Flux repositories work
//! unchanged: [`GitRepository`] (`source.toolkit.fluxcd.io/v1`), [`Kustomization`]
//! (`kustomize.toolkit.fluxcd.io/v1`) and [`HelmRelease`] (`helm.toolkit.fluxcd.io/v2`), with
//! Flux's field names, defaults, condition types and reasons. [`crds`] generates the CustomResourceDefinitions from these types. The crate does no
//! I/O.
//!
//! # Example
//! ```
//! use keelson_api::{GitRepository, Duration};
//!
//! let repo: GitRepository = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "source.toolkit.fluxcd.io/v1",
//!     "kind": "GitRepository",
//!     "metadata": {"name": "podinfo", "namespace": "flux-system"},
//!     "spec": {"url": "https://example.com/podinfo", "interval": "1m", "ref": {"branch": "main"}}
//! })).unwrap();
//! assert_eq!(repo.spec.interval.as_std().as_secs(), 60);
//! assert_eq!(repo.spec.timeout().as_std().as_secs(), 60);
//! ```

pub mod condition;
mod crd;
mod duration;
pub mod helmchart;
pub mod helmrelease;
pub mod helmrepository;
pub mod kustomization;
pub mod meta;
pub mod ocirepository;
pub mod source;

pub use crd::{crd_yaml, crds};
pub use duration::{Duration, ParseDurationError};
pub use helmchart::{HelmChart, HelmChartSpec, HelmChartStatus};
pub use helmrelease::{HelmRelease, HelmReleaseSpec, HelmReleaseStatus};
pub use helmrepository::{HelmRepository, HelmRepositorySpec, HelmRepositoryStatus};
pub use kustomization::{Kustomization, KustomizationSpec, KustomizationStatus};
pub use ocirepository::{OCIRepository, OCIRepositorySpec, OCIRepositoryStatus};
pub use source::{GitRepository, GitRepositorySpec, GitRepositoryStatus};

/// The annotation that asks for an immediate reconcile (its value is a timestamp or any token).
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
