//! Health of applied objects, judged with kstatus rules.
//!
//! [`status_of`] reads one live object: built-in workloads by their replica counts and
//! conditions, Jobs by completion, PVCs by phase, CRDs by `Established`, Namespaces by phase,
//! and any other kind by its `Ready`/`Stalled` conditions and `observedGeneration`.
//! [`Applier::wait_healthy`](crate::Applier::wait_healthy) polls a set of objects until all are
//! current, one failed, or the timeout passes.

use std::fmt;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use keelson_manifest::ObjectId;
use serde_json::Value;

use crate::{Applier, ApplyError};

/// The kstatus verdict for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The object has reached its desired state.
    Current,
    /// The object is still progressing; the message says what it waits for.
    InProgress(String),
    /// The object failed; the message says why.
    Failed(String),
    /// The object does not exist.
    NotFound,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Current => f.write_str("Current"),
            Health::InProgress(m) => write!(f, "InProgress: {m}"),
            Health::Failed(m) => write!(f, "Failed: {m}"),
            Health::NotFound => f.write_str("NotFound"),
        }
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn condition_is(object: &Value, type_: &str, status: &str) -> bool {
    condition(object, type_).is_some_and(|c| c["status"] == status)
}

/// The kstatus verdict for a live object.
pub fn status_of(object: &Value) -> Health {
    let generation = int(&object["metadata"]["generation"]);
    let observed = &object["status"]["observedGeneration"];
    if generation > 0 && observed.is_i64() && int(observed) < generation {
        return Health::InProgress(format!(
            "observedGeneration {} behind generation {generation}",
            int(observed)
        ));
    }
    let (group, _) =
        keelson_manifest::split_api_version(object["apiVersion"].as_str().unwrap_or(""));
    match (group, object["kind"].as_str().unwrap_or("")) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => statefulset(object),
        ("apps", "DaemonSet") => daemonset(object),
        ("apps", "ReplicaSet") => replicaset(object),
        ("batch", "Job") => job(object),
        ("", "PersistentVolumeClaim") => match object["status"]["phase"].as_str() {
            Some("Bound") => Health::Current,
            other => Health::InProgress(format!("PVC phase {}", other.unwrap_or("unknown"))),
        },
        ("", "Pod") => pod(object),
        ("", "Service") => service(object),
        ("", "Namespace") => match object["status"]["phase"].as_str() {
            Some("Terminating") => Health::InProgress("namespace is terminating".into()),
            _ => Health::Current,
        },
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition_is(object, "Established", "True") {
                Health::Current
            } else if condition_is(object, "NamesAccepted", "False") {
                Health::Failed("CRD names not accepted".into())
            } else {
                Health::InProgress("CRD not established".into())
            }
        }
        _ => generic(object),
    }
}

fn generic(object: &Value) -> Health {
    if condition_is(object, "Stalled", "True") {
        let msg =
            condition(object, "Stalled").map(|c| c["message"].as_str().unwrap_or("").to_string());
        return Health::Failed(msg.unwrap_or_default());
    }
    match condition(object, "Ready") {
        Some(c) if c["status"] == "True" => Health::Current,
        Some(c) if c["status"] == "False" && condition_is(object, "Reconciling", "False") => {
            Health::Failed(c["message"].as_str().unwrap_or("Ready=False").to_string())
        }
        Some(c) => Health::InProgress(format!(
            "Ready={}: {}",
            c["status"].as_str().unwrap_or("?"),
            c["message"].as_str().unwrap_or("")
        )),
        None if condition_is(object, "Reconciling", "True") => {
            Health::InProgress("reconciling".into())
        }
        None => Health::Current,
    }
}

fn deployment(d: &Value) -> Health {
    let spec = int(&d["spec"]["replicas"]).max(if d["spec"]["replicas"].is_null() {
        1
    } else {
        0
    });
    let s = &d["status"];
    if let Some(c) = condition(d, "Progressing")
        && c["reason"] == "ProgressDeadlineExceeded"
    {
        return Health::Failed(format!(
            "progress deadline exceeded: {}",
            c["message"].as_str().unwrap_or("")
        ));
    }
    let (updated, ready, available, total) = (
        int(&s["updatedReplicas"]),
        int(&s["readyReplicas"]),
        int(&s["availableReplicas"]),
        int(&s["replicas"]),
    );
    if updated < spec {
        return Health::InProgress(format!("updated replicas: {updated}/{spec}"));
    }
    if total > updated {
        return Health::InProgress(format!("pending termination: {}", total - updated));
    }
    if available < spec || ready < spec {
        return Health::InProgress(format!("available replicas: {available}/{spec}"));
    }
    if !condition_is(d, "Available", "True") {
        return Health::InProgress("Deployment not Available".into());
    }
    Health::Current
}

fn statefulset(s: &Value) -> Health {
    let spec = if s["spec"]["replicas"].is_null() {
        1
    } else {
        int(&s["spec"]["replicas"])
    };
    let st = &s["status"];
    let ready = int(&st["readyReplicas"]);
    if ready < spec {
        return Health::InProgress(format!("ready replicas: {ready}/{spec}"));
    }
    let current = st["currentRevision"].as_str();
    let update = st["updateRevision"].as_str();
    if s["spec"]["updateStrategy"]["type"] != "OnDelete" && current != update {
        return Health::InProgress("rolling update in progress".into());
    }
    Health::Current
}

fn daemonset(d: &Value) -> Health {
    let s = &d["status"];
    let desired = int(&s["desiredNumberScheduled"]);
    for (field, what) in [
        ("updatedNumberScheduled", "updated"),
        ("numberAvailable", "available"),
        ("numberReady", "ready"),
    ] {
        let n = int(&s[field]);
        if n < desired {
            return Health::InProgress(format!("{what} pods: {n}/{desired}"));
        }
    }
    Health::Current
}

fn replicaset(r: &Value) -> Health {
    let spec = if r["spec"]["replicas"].is_null() {
        1
    } else {
        int(&r["spec"]["replicas"])
    };
    let available = int(&r["status"]["availableReplicas"]);
    if available < spec {
        return Health::InProgress(format!("available replicas: {available}/{spec}"));
    }
    Health::Current
}

fn job(j: &Value) -> Health {
    if condition_is(j, "Failed", "True") {
        let msg = condition(j, "Failed")
            .and_then(|c| c["message"].as_str())
            .unwrap_or("job failed");
        return Health::Failed(msg.to_string());
    }
    if condition_is(j, "Complete", "True") {
        return Health::Current;
    }
    Health::InProgress("job not complete".into())
}

fn pod(p: &Value) -> Health {
    match p["status"]["phase"].as_str() {
        Some("Succeeded") => Health::Current,
        Some("Failed") => Health::Failed("pod failed".into()),
        _ if condition_is(p, "Ready", "True") => Health::Current,
        other => Health::InProgress(format!("pod phase {}", other.unwrap_or("unknown"))),
    }
}

fn service(s: &Value) -> Health {
    if s["spec"]["type"] == "LoadBalancer"
        && s["status"]["loadBalancer"]["ingress"]
            .as_array()
            .is_none_or(|i| i.is_empty())
    {
        return Health::InProgress("waiting for a load balancer address".into());
    }
    Health::Current
}

impl Applier {
    /// The health of one object.
    pub async fn health(&self, id: &ObjectId) -> Result<Health, ApplyError> {
        match self.get(id).await? {
            None => Ok(Health::NotFound),
            Some(live) => Ok(status_of(
                &serde_json::to_value(&live).unwrap_or(Value::Null),
            )),
        }
    }

    /// Polls `ids` until every object is Current (Ok), or returns the objects that are not
    /// healthy when one fails or `timeout` passes.
    pub async fn wait_healthy(
        &self,
        ids: &[ObjectId],
        timeout: Duration,
    ) -> Result<Result<(), Vec<(ObjectId, Health)>>, ApplyError> {
        self.wait_healthy_with(ids, timeout, &|_, _| None).await
    }

    /// [`wait_healthy`](Self::wait_healthy) with a custom judge: where `judge` returns a
    /// verdict for a live object (e.g. from CEL expressions) it replaces the kstatus rules.
    pub async fn wait_healthy_with(
        &self,
        ids: &[ObjectId],
        timeout: Duration,
        judge: &(dyn Fn(&ObjectId, &Value) -> Option<Health> + Send + Sync),
    ) -> Result<Result<(), Vec<(ObjectId, Health)>>, ApplyError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // The reads go out several at a time: one after another, a Kustomization of 20
            // objects spent most of a no-op reconcile waiting on them. Indices as stream items,
            // as in `Applier::dry_run` (rust#102211).
            let reads: Vec<Result<Option<kube::api::DynamicObject>, ApplyError>> =
                stream::iter(0..ids.len())
                    .map(|i| self.get(&ids[i]))
                    .buffered(crate::applier::CONCURRENCY)
                    .collect()
                    .await;
            let mut pending = Vec::new();
            for (id, read) in ids.iter().zip(reads) {
                let health = match read? {
                    None => Health::NotFound,
                    Some(live) => {
                        let live = serde_json::to_value(&live).unwrap_or(Value::Null);
                        judge(id, &live).unwrap_or_else(|| status_of(&live))
                    }
                };
                if health != Health::Current {
                    pending.push((id.clone(), health));
                }
            }
            let failed = pending.iter().any(|(_, h)| matches!(h, Health::Failed(_)));
            if pending.is_empty() {
                return Ok(Ok(()));
            }
            if failed || tokio::time::Instant::now() >= deadline {
                return Ok(Err(pending));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployments_are_current_when_all_replicas_are_available() {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"generation": 2},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
                       "availableReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        });
        assert_eq!(status_of(&d), Health::Current);
        d["status"]["observedGeneration"] = json!(1);
        assert!(matches!(status_of(&d), Health::InProgress(_)));
        d["status"]["observedGeneration"] = json!(2);
        d["status"]["availableReplicas"] = json!(1);
        assert!(matches!(status_of(&d), Health::InProgress(_)));
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert!(matches!(status_of(&d), Health::Failed(_)));
    }

    #[test]
    fn jobs_and_custom_resources() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(
            status_of(&job),
            Health::Failed("BackoffLimitExceeded".into())
        );
        let cr = json!({"apiVersion": "example.com/v1", "kind": "Thing", "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(status_of(&cr), Health::Current);
        let stalled = json!({"apiVersion": "example.com/v1", "kind": "Thing", "status": {"conditions": [{"type": "Stalled", "status": "True", "message": "bad"}]}});
        assert_eq!(status_of(&stalled), Health::Failed("bad".into()));
        let plain = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(status_of(&plain), Health::Current);
    }
}
