//! Flux-compatible API types for keelson.
//!
//! keelson serves the same custom resources as Flux (`source.toolkit.fluxcd.io/v1` GitRepository,
//! `kustomize.toolkit.fluxcd.io/v1` Kustomization, `helm.toolkit.fluxcd.io/v2` HelmRelease, …) so
//! that existing Flux repositories work unchanged. This crate holds those types, their conditions
//! and reason constants, and generates their CRD YAML. It does no I/O.
