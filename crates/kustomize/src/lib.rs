//! A Kustomize engine written in Rust.
//!
//! Builds a kustomization directory into a list of Kubernetes objects with kustomize v5
//! semantics, in-process and without network access. Used by `keelson build`, the controller and
//! the offline gate alike.
