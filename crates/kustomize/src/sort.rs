//! kustomize's default ("legacy") output order: kinds in a fixed priority (Namespace first,
//! webhooks last), then by group/version/kind, then namespace and name.

use serde_json::Value;

use crate::resource::Gvk;

const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn rank(kind: &str, first: &[String], last: &[String]) -> i64 {
    if let Some(i) = first.iter().position(|k| *k == kind) {
        return i as i64 - first.len() as i64;
    }
    if let Some(i) = last.iter().position(|k| *k == kind) {
        return 1 + i as i64;
    }
    0
}

/// Applies a kustomization's `sortOptions` (legacy order by default, `fifo` keeps the
/// accumulation order).
pub(crate) fn apply(objects: &mut [Value], options: Option<&Value>) {
    let order = options
        .and_then(|o| o.get("order"))
        .and_then(Value::as_str)
        .unwrap_or("legacy");
    if order == "fifo" {
        return;
    }
    let list = |key: &str, default: &[&str]| -> Vec<String> {
        match options
            .and_then(|o| o.get("legacySortOptions"))
            .and_then(|o| o.get(key))
            .and_then(Value::as_array)
        {
            Some(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            None => default.iter().map(|s| s.to_string()).collect(),
        }
    };
    legacy(
        objects,
        &list("orderFirst", &ORDER_FIRST),
        &list("orderLast", &ORDER_LAST),
    );
}

fn or<'a>(s: &'a str, empty: &'a str) -> &'a str {
    if s.is_empty() { empty } else { s }
}

fn gvk_key(g: &Gvk) -> String {
    format!(
        "{}_{}_{}",
        or(&g.group, "~G"),
        or(&g.version, "~V"),
        or(&g.kind, "~K")
    )
}

fn id_key(g: &Gvk, v: &Value) -> String {
    let gvk = format!(
        "{}.{}.{}",
        or(&g.kind, "[noKind]"),
        or(&g.version, "[noVer]"),
        or(&g.group, "[noGrp]")
    );
    let ns = crate::resource::ns_of(v);
    let name = crate::resource::name_of(v);
    format!("{gvk}|{}|{}", or(ns, "~X"), or(name, "~N"))
}

/// Sorts objects in kustomize's legacy order.
fn legacy(objects: &mut [Value], first: &[String], last: &[String]) {
    // The keys are computed once per object, not once per comparison.
    struct Keys {
        gvk: Gvk,
        rank: i64,
        gvk_key: String,
        id_key: String,
    }
    let keys: Vec<Keys> = objects
        .iter()
        .map(|v| {
            let gvk = Gvk::of(v);
            Keys {
                rank: rank(&gvk.kind, first, last),
                gvk_key: gvk_key(&gvk),
                id_key: id_key(&gvk, v),
                gvk,
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..objects.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&keys[i], &keys[j]);
        if a.gvk != b.gvk {
            if a.rank != b.rank {
                return a.rank.cmp(&b.rank);
            }
            if a.gvk.kind == "Namespace"
                && b.gvk.kind == "Namespace"
                && (a.gvk.group.is_empty() || b.gvk.group.is_empty())
            {
                return b.gvk_key.cmp(&a.gvk_key);
            }
            return a.gvk_key.cmp(&b.gvk_key);
        }
        a.id_key.cmp(&b.id_key)
    });
    let mut taken: Vec<Option<Value>> = objects.iter_mut().map(|v| Some(v.take())).collect();
    for (slot, i) in objects.iter_mut().zip(order) {
        if let Some(v) = taken[i].take() {
            *slot = v;
        }
    }
}
