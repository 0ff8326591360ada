//! Installing keelson: the install bundle, release channels, `bootstrap git` and uninstall.
//!
//! [`manifests::components`] generates every object keelson needs in a cluster — its CRDs (from
//! the Rust types in `keelson-api`), namespace, service account, least-privilege RBAC, the
//! controller Deployment and its Service. Everything else reuses that one list:
//! [`cluster::install`] applies it with staged server-side apply (CRDs first) and waits for the
//! controller; [`release::release`] renders a repository's `src/X.Y` plus a drift guard
//! ([`sync`]) into immutable per-patch files and a moving per-minor file; [`bootstrap::bootstrap`]
//! commits the bundle and a self-referencing sync to a Git repository and lets keelson manage
//! itself from there; [`cluster::uninstall`] takes it all away again.
//!
//! # Example
//! ```
//! use keelson_install::manifests::{InstallOptions, components_yaml};
//!
//! let yaml = components_yaml(&InstallOptions::in_namespace("flux-system"));
//! assert!(yaml.contains("kind: Deployment"));
//! ```

pub mod bootstrap;
pub mod cluster;
pub mod git;
pub mod manifests;
pub mod release;
pub mod sync;

pub use cluster::{InstallError, Progress, UninstallError, UninstallOptions, install, uninstall};
pub use manifests::{InstallOptions, components, components_yaml};
