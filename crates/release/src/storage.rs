//! Release storage in Secrets, as Helm's `secrets` driver (the helm CLI's default): one Secret
//! `sh.helm.release.v1.<name>.v<version>` of type `helm.sh/release.v1` per version, labelled
//! `name`, `owner=helm`, `status`, `version`, holding `data.release = base64(gzip(json))`.
//! `helm list`, `helm history` and `helm get` read what this module writes, and the other way
//! round.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

use crate::model::{self, CodecError, Release, status};

/// The Secret type Helm 3 and 4 use for releases.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The apiserver refused or failed.
    #[error("failed to {action} release Secret {key} in namespace {namespace}")]
    Kube {
        /// What was attempted.
        action: &'static str,
        /// The Secret's name.
        key: String,
        /// The storage namespace.
        namespace: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// A stored release cannot be read.
    #[error("failed to decode release Secret {key} in namespace {namespace}")]
    Decode {
        /// The Secret's name.
        key: String,
        /// The storage namespace.
        namespace: String,
        /// The cause.
        #[source]
        source: CodecError,
    },
    /// A release cannot be encoded.
    #[error("failed to encode release {key}")]
    Encode {
        /// The Secret's name.
        key: String,
        /// The cause.
        #[source]
        source: CodecError,
    },
}

/// The releases of one storage namespace.
#[derive(Clone)]
pub struct Storage {
    api: Api<Secret>,
    namespace: String,
}

/// The Secret name of a release version.
pub fn key(name: &str, version: i64) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

impl Storage {
    /// The storage in `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
        }
    }

    /// The storage namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn kube_err(
        &self,
        action: &'static str,
        key: String,
    ) -> impl FnOnce(kube::Error) -> StorageError {
        let namespace = self.namespace.clone();
        move |source| StorageError::Kube {
            action,
            key,
            namespace,
            source: Box::new(source),
        }
    }

    /// Every stored version of release `name`, oldest first.
    pub async fn history(&self, name: &str) -> Result<Vec<Release>, StorageError> {
        let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
        let list = self
            .api
            .list(&params)
            .await
            .map_err(self.kube_err("list", key(name, 0)))?;
        let mut releases = Vec::with_capacity(list.items.len());
        for secret in list.items {
            let key = secret.metadata.name.clone().unwrap_or_default();
            let Some(data) = secret.data.as_ref().and_then(|d| d.get("release")) else {
                continue;
            };
            let release = model::decode(&data.0).map_err(|source| StorageError::Decode {
                key,
                namespace: self.namespace.clone(),
                source,
            })?;
            releases.push(release);
        }
        releases.sort_by_key(|r| r.version);
        Ok(releases)
    }

    /// The newest version of release `name`, if any.
    pub async fn last(&self, name: &str) -> Result<Option<Release>, StorageError> {
        Ok(self.history(name).await?.pop())
    }

    /// The newest version with status `deployed`, if any.
    pub async fn deployed(&self, name: &str) -> Result<Option<Release>, StorageError> {
        Ok(self
            .history(name)
            .await?
            .into_iter()
            .rev()
            .find(|r| r.info.status == status::DEPLOYED))
    }

    fn secret(&self, release: &Release, time_label: &str) -> Result<Secret, StorageError> {
        let key = key(&release.name, release.version);
        let data = model::encode(release).map_err(|source| StorageError::Encode {
            key: key.clone(),
            source,
        })?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let labels = BTreeMap::from([
            ("name".to_string(), release.name.clone()),
            ("owner".to_string(), "helm".to_string()),
            ("status".to_string(), release.info.status.clone()),
            ("version".to_string(), release.version.to_string()),
            (time_label.to_string(), now.to_string()),
        ]);
        Ok(Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(key),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                ..Default::default()
            },
            type_: Some(SECRET_TYPE.to_string()),
            data: Some(BTreeMap::from([(
                "release".to_string(),
                ByteString(data.into_bytes()),
            )])),
            ..Default::default()
        })
    }

    /// Stores a new version.
    pub async fn create(&self, release: &Release) -> Result<(), StorageError> {
        let secret = self.secret(release, "createdAt")?;
        self.api
            .create(&PostParams::default(), &secret)
            .await
            .map_err(self.kube_err("create", key(&release.name, release.version)))?;
        Ok(())
    }

    /// Replaces a stored version (its status or info changed).
    pub async fn update(&self, release: &Release) -> Result<(), StorageError> {
        let secret = self.secret(release, "modifiedAt")?;
        let name = key(&release.name, release.version);
        let patch = serde_json::json!({
            "metadata": {"labels": secret.metadata.labels},
            "data": secret.data,
        });
        self.api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(self.kube_err("update", name.clone()))?;
        Ok(())
    }

    /// Deletes a stored version (gone already is fine).
    pub async fn delete(&self, name: &str, version: i64) -> Result<(), StorageError> {
        let key = key(name, version);
        match self.api.delete(&key, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.kube_err("delete", key)(e)),
        }
    }

    /// Keeps at most `max` versions (0: all), deleting the oldest first but never the newest
    /// deployed one, as Helm's history limit does.
    pub async fn limit_history(&self, name: &str, max: i64) -> Result<(), StorageError> {
        if max <= 0 {
            return Ok(());
        }
        let history = self.history(name).await?;
        let excess = history.len().saturating_sub(max as usize);
        if excess == 0 {
            return Ok(());
        }
        let deployed = history
            .iter()
            .rev()
            .find(|r| r.info.status == status::DEPLOYED)
            .map(|r| r.version);
        let mut removed = 0;
        for release in &history {
            if removed == excess {
                break;
            }
            if Some(release.version) == deployed {
                continue;
            }
            self.delete(name, release.version).await?;
            removed += 1;
        }
        Ok(())
    }
}
