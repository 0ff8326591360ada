//! Maps object kinds to API resources through discovery, with a cache.

use std::collections::HashMap;
use std::sync::Mutex;

use keelson_manifest::ObjectId;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};

use crate::ApplyError;

/// A resolved kind: its resource and whether objects of it live in namespaces.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Caches successful look-ups only: a kind not served yet (its CRD about to be applied) is asked
/// again next time.
#[derive(Default)]
pub(crate) struct Resolver {
    cache: Mutex<HashMap<(String, String, String), Resolved>>,
}

impl Resolver {
    pub async fn resolve(&self, client: &Client, id: &ObjectId) -> Result<Resolved, ApplyError> {
        let key = (id.group.clone(), id.version.clone(), id.kind.clone());
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(hit);
        }
        let gvk = GroupVersionKind::gvk(&id.group, &id.version, &id.kind);
        match pinned_kind(client, &gvk).await {
            Ok((resource, caps)) => {
                let resolved = Resolved {
                    resource,
                    namespaced: caps.scope == Scope::Namespaced,
                };
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(key, resolved.clone());
                }
                Ok(resolved)
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Err(unknown(id)),
            Err(kube::Error::Discovery(_)) => Err(unknown(id)),
            Err(source) => Err(ApplyError::Kube {
                context: format!("discovering kind {}", id.kind),
                source,
            }),
        }
    }

    /// An API handle for the object (namespaced or cluster-wide as its kind is).
    pub async fn api(
        &self,
        client: &Client,
        id: &ObjectId,
    ) -> Result<(Api<DynamicObject>, Resolved), ApplyError> {
        let resolved = self.resolve(client, id).await?;
        let api = if resolved.namespaced {
            Api::namespaced_with(client.clone(), &id.namespace, &resolved.resource)
        } else {
            Api::all_with(client.clone(), &resolved.resource)
        };
        Ok((api, resolved))
    }
}

fn unknown(id: &ObjectId) -> ApplyError {
    ApplyError::UnknownKind {
        id: Box::new(id.clone()),
        kind: format!("{}, Kind={}", id.api_version(), id.kind),
    }
}
