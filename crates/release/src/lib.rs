//! Helm releases on a cluster, compatible with the helm CLI.
//!
//! [`storage`] keeps release records where the helm CLI looks for them (Secrets
//! `sh.helm.release.v1.<name>.v<N>`, [`model`] is the record itself); [`chart`] loads packaged
//! charts and [`render`] renders one for a release with keelson's Helm engine, splitting the
//! manifest from the hooks and CRDs; [`values`] composes values in Flux's `valuesFrom` order;
//! [`action::Engine`] installs, upgrades, rolls back, uninstalls and tests, running hooks in
//! Helm's order ([`hooks`]) and applying with server-side apply; [`drift`] finds (and corrects)
//! changes made in the cluster behind the release's back.
//!
//! # Example
//! ```
//! use keelson_release::model::{Release, decode, encode};
//!
//! let release = Release { name: "web".into(), version: 1, ..Default::default() };
//! let stored = encode(&release)?; // what `data.release` of the Secret holds
//! assert_eq!(decode(stored.as_bytes())?.name, "web");
//! # Ok::<(), keelson_release::model::CodecError>(())
//! ```

pub mod action;
pub mod chart;
pub mod drift;
pub mod hooks;
pub mod model;
pub mod render;
pub mod storage;
pub mod values;

pub use action::{ActionError, CrdPolicy, Engine, Request};
pub use storage::Storage;
