//! Applying objects to a cluster.
//!
//! Server-side apply in stages (CRDs and Namespaces, then `*Class` kinds, then the rest), with a
//! dry-run of each stage first, an inventory of what was applied, pruning of what left it, drift
//! detection and health assessment with kstatus rules.
