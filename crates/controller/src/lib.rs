//! keelson's reconcilers.
//!
//! Runs the source, Kustomization and HelmRelease reconcilers on kube-runtime: scheduling by
//! interval and retryInterval, dependsOn, events, metrics and status.
