//! The self-referencing GitRepository + Kustomization pair (the drift guard).
//!
//! `bootstrap` writes it as `gotk-sync.yaml`; `release` embeds it in every bootstrap file. The
//! Kustomization applies the path that holds the install bundle itself, so an edit of the
//! controller's Deployment or RBAC is reverted at the next reconcile.

use serde_json::{Map, Value, json};

/// The GitRepository and Kustomization of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// The name of both objects (Flux: `flux-system`).
    pub name: String,
    /// Their namespace.
    pub namespace: String,
    /// The Kustomization's name when it differs from the GitRepository's.
    pub kustomization_name: Option<String>,
    /// The repository URL.
    pub url: String,
    /// The branch to follow.
    pub branch: String,
    /// The path the Kustomization applies (`./clusters/prod`).
    pub path: String,
    /// The GitRepository's `spec.ignore`.
    pub ignore: Option<String>,
    /// The Secret with the repository's credentials.
    pub secret_name: Option<String>,
    /// The GitRepository's interval.
    pub source_interval: String,
    /// The Kustomization's interval.
    pub interval: String,
    /// Whether the Kustomization waits for the objects to be healthy.
    pub wait: bool,
    /// Whether the Kustomization recreates objects whose immutable fields changed.
    pub force: bool,
}

impl SyncOptions {
    /// A sync named `name` in `namespace` of `path` at `url`'s `branch`, with Flux's bootstrap
    /// defaults (1m source interval, 10m Kustomization interval, prune).
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        url: impl Into<String>,
        branch: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            kustomization_name: None,
            url: url.into(),
            branch: branch.into(),
            path: path.into(),
            ignore: None,
            secret_name: None,
            source_interval: "1m0s".into(),
            interval: "10m0s".into(),
            wait: false,
            force: false,
        }
    }

    /// The Kustomization's name.
    pub fn kustomization(&self) -> &str {
        self.kustomization_name.as_deref().unwrap_or(&self.name)
    }
}

/// The GitRepository and the Kustomization, in that order.
pub fn sync_objects(options: &SyncOptions) -> Vec<Value> {
    let mut source_spec = Map::new();
    source_spec.insert("interval".into(), json!(options.source_interval));
    source_spec.insert("ref".into(), json!({ "branch": options.branch }));
    if let Some(secret) = &options.secret_name {
        source_spec.insert("secretRef".into(), json!({ "name": secret }));
    }
    source_spec.insert("url".into(), json!(options.url));
    if let Some(ignore) = &options.ignore {
        source_spec.insert("ignore".into(), json!(ignore));
    }
    let mut ks_spec = Map::new();
    ks_spec.insert("interval".into(), json!(options.interval));
    ks_spec.insert("path".into(), json!(options.path));
    ks_spec.insert("prune".into(), json!(true));
    ks_spec.insert(
        "sourceRef".into(),
        json!({ "kind": "GitRepository", "name": options.name }),
    );
    if options.wait {
        ks_spec.insert("wait".into(), json!(true));
    }
    if options.force {
        ks_spec.insert("force".into(), json!(true));
    }
    vec![
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": { "name": options.name, "namespace": options.namespace },
            "spec": source_spec,
        }),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": { "name": options.kustomization(), "namespace": options.namespace },
            "spec": ks_spec,
        }),
    ]
}

/// The sync pair as YAML.
pub fn sync_yaml(options: &SyncOptions) -> String {
    keelson_manifest::to_yaml_stream(&sync_objects(options))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn objects_deserialise_as_keelson_types() {
        let mut options =
            SyncOptions::new("flux-system", "flux-system", "ssh://git@h/r", "main", "./c");
        options.secret_name = Some("flux-system".into());
        options.ignore = Some("/*\n!/src/1.0/\n".into());
        options.wait = true;
        let objects = sync_objects(&options);
        let repo: keelson_api::GitRepository = serde_json::from_value(objects[0].clone()).unwrap();
        assert_eq!(repo.spec.secret_ref.unwrap().name, "flux-system");
        let ks: keelson_api::Kustomization = serde_json::from_value(objects[1].clone()).unwrap();
        assert!(ks.spec.prune && ks.spec.wait());
        assert_eq!(ks.spec.path.as_deref(), Some("./c"));
    }
}
