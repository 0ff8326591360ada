//! Applying objects to a cluster.
//!
//! [`Applier`] applies a set of objects with server-side apply, in stages: CRDs, Namespaces and
//! ClusterRoles first (then waits until the CRDs are Established), kinds named `*Class` next,
//! everything else last. Each stage is dry-run as a whole before any of it is applied, so an
//! invalid object stops its stage before the cluster changes. Objects that a dry-run shows
//! unchanged are not written again. The result is a [`ChangeSet`] and an [`Inventory`] in Flux's
//! format; [`Applier::prune`] deletes what left the inventory and nothing else, and [`health`]
//! judges applied objects with kstatus rules.
//!
//! # Example
//! ```no_run
//! # async fn example(client: kube::Client, objects: Vec<serde_json::Value>) -> Result<(), keelson_apply::ApplyError> {
//! use keelson_apply::{Applier, ApplyOptions};
//!
//! let applier = Applier::new(client, "kustomize-controller");
//! let result = applier.apply(objects, &ApplyOptions::default()).await?;
//! for change in &result.changes {
//!     println!("{} {}", change.id, change.action);
//! }
//! # Ok(()) }
//! ```

mod applier;
mod error;
pub mod health;
mod inventory;
mod resolve;
mod stage;

pub use applier::{Action, Applier, ApplyOptions, ApplyResult, Change, SsaPolicy};
pub use error::{ApplyError, ObjectError};
pub use inventory::Inventory;
pub use stage::{Stage, stage_of};
