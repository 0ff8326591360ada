//! Drift detection: each object of the deployed release is dry-run with server-side apply and
//! the result compared with the live object; a difference (outside the ignored JSON pointers)
//! or a missing object is drift. Correcting drift applies the drifted objects again.

use keelson_api::helmrelease::{DRIFT_DETECTION_ANNOTATION, IgnoreRule};
use keelson_api::kustomization::Selector;
use keelson_apply::ApplyOptions;
use keelson_manifest::ObjectId;
use serde_json::Value;

use crate::action::{ActionError, Engine, Request};
use crate::model::Release;
use crate::render::objects_of;

/// One drifted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The object.
    pub id: ObjectId,
    /// JSON pointers that differ; empty when the object is missing.
    pub paths: Vec<String>,
}

impl Drift {
    /// A one-line summary, Flux style.
    pub fn summary(&self) -> String {
        if self.paths.is_empty() {
            format!("{} removed", self.id)
        } else {
            format!("{} changed ({})", self.id, self.paths.join(", "))
        }
    }
}

impl Engine {
    /// The objects of `release` that differ in the cluster from its manifest.
    pub async fn detect_drift(
        &self,
        release: &Release,
        request: &Request,
        ignore: &[IgnoreRule],
    ) -> Result<(Vec<Drift>, Vec<Value>), ActionError> {
        let objects = objects_of(&release.manifest).map_err(|e| ActionError::Manifest {
            release: format!("{}.v{}", release.name, release.version),
            message: e.to_string(),
        })?;
        let mut objects = self.prepare(objects, request, true).await?;
        for object in &mut objects {
            let labels = object["metadata"]["labels"]
                .as_object_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut labels = labels;
            for (k, v) in &request.owner_labels {
                labels.insert(k.clone(), Value::String(v.clone()));
            }
            object["metadata"]["labels"] = Value::Object(labels);
        }
        let mut drifts = Vec::new();
        let mut drifted = Vec::new();
        for object in objects {
            let meta = &object["metadata"];
            if meta["annotations"][DRIFT_DETECTION_ANNOTATION] == "disabled"
                || meta["labels"][DRIFT_DETECTION_ANNOTATION] == "disabled"
            {
                continue;
            }
            let id = ObjectId::of(&object);
            let (live, dry) = self
                .applier
                .preview(&object)
                .await
                .map_err(|e| ActionError::apply(format!("checking drift of {id}"), e))?;
            let ignored: Vec<&str> = ignore
                .iter()
                .filter(|rule| {
                    rule.target
                        .as_ref()
                        .is_none_or(|t| selects(t, &id, &object))
                })
                .flat_map(|rule| rule.paths.iter().map(String::as_str))
                .collect();
            let paths = match live {
                None => Some(Vec::new()),
                Some(live) => {
                    let mut paths = Vec::new();
                    diff(&normalize(live), &normalize(dry), String::new(), &mut paths);
                    paths.retain(|p| !ignored.iter().any(|i| under(p, i)));
                    (!paths.is_empty()).then_some(paths)
                }
            };
            if let Some(paths) = paths {
                drifts.push(Drift { id, paths });
                drifted.push(object);
            }
        }
        Ok((drifts, drifted))
    }

    /// Applies drifted objects again.
    pub async fn correct_drift(
        &self,
        objects: Vec<Value>,
        request: &Request,
    ) -> Result<(), ActionError> {
        let options = ApplyOptions {
            force: request.force,
            owner_labels: request.owner_labels.clone(),
            ..Default::default()
        };
        self.applier
            .apply(objects, &options)
            .await
            .map_err(|e| ActionError::apply("failed to correct drift", e))?;
        Ok(())
    }
}

fn normalize(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "uid",
        ] {
            meta.remove(key);
        }
    }
    if let Some(o) = object.as_object_mut() {
        o.remove("status");
    }
    object
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Collects the JSON pointers at which `a` and `b` differ.
fn diff(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}/{}", escape(k));
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(u, v, p, out),
                    _ => out.push(p),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(u, v, format!("{path}/{i}"), out);
            }
        }
        _ if a != b => out.push(if path.is_empty() { "/".into() } else { path }),
        _ => {}
    }
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

fn matches(pattern: &Option<String>, value: &str) -> bool {
    let Some(p) = pattern.as_deref().filter(|p| !p.is_empty()) else {
        return true;
    };
    match regex::Regex::new(&format!("^(?:{p})$")) {
        Ok(re) => re.is_match(value),
        Err(_) => p == value,
    }
}

fn selects(target: &Selector, id: &ObjectId, object: &Value) -> bool {
    let labels_match = |selector: &Option<String>, field: &str| {
        selector.as_deref().is_none_or(|s| {
            s.split(',').filter(|t| !t.trim().is_empty()).all(|term| {
                let term = term.trim();
                match term.split_once('=') {
                    Some((k, v)) => {
                        object["metadata"][field][k.trim_end_matches('!').trim()]
                            == v.trim_start_matches('=').trim()
                    }
                    None => object["metadata"][field].get(term).is_some(),
                }
            })
        })
    };
    matches(&target.group, &id.group)
        && matches(&target.version, &id.version)
        && matches(&target.kind, &id.kind)
        && matches(&target.name, &id.name)
        && matches(&target.namespace, &id.namespace)
        && labels_match(&target.label_selector, "labels")
        && labels_match(&target.annotation_selector, "annotations")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_are_json_pointers() {
        let live = json!({"metadata": {"name": "x", "resourceVersion": "1", "annotations": {"a/b": "1"}},
                          "spec": {"replicas": 3, "ports": [{"port": 80}]}, "status": {"x": 1}});
        let dry = json!({"metadata": {"name": "x", "resourceVersion": "2", "annotations": {"a/b": "2"}},
                         "spec": {"replicas": 1, "ports": [{"port": 80}]}});
        let mut paths = Vec::new();
        diff(&normalize(live), &normalize(dry), String::new(), &mut paths);
        assert_eq!(paths, ["/metadata/annotations/a~1b", "/spec/replicas"]);
        assert!(under("/spec/replicas", "/spec"));
        assert!(!under("/specx", "/spec"));
    }

    #[test]
    fn ignore_targets_select_by_kind_and_name() {
        let id = ObjectId::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-1", "namespace": "a"}}),
        );
        let target = Selector {
            kind: Some("Deployment".into()),
            name: Some("web-.*".into()),
            ..Default::default()
        };
        assert!(selects(&target, &id, &json!({})));
        let other = Selector {
            kind: Some("Service".into()),
            ..Default::default()
        };
        assert!(!selects(&other, &id, &json!({})));
    }
}
