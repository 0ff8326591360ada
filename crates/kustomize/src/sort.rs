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
const ORDER_LAST: [&str; 2] = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

fn rank(kind: &str) -> i64 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i64 - ORDER_FIRST.len() as i64;
    }
    if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
        return 1 + i as i64;
    }
    0
}

fn or<'a>(s: &'a str, empty: &'a str) -> &'a str {
    if s.is_empty() { empty } else { s }
}

fn gvk_key(g: &Gvk) -> String {
    format!("{}_{}_{}", or(&g.group, "~G"), or(&g.version, "~V"), or(&g.kind, "~K"))
}

fn id_key(g: &Gvk, v: &Value) -> String {
    let gvk = format!("{}.{}.{}", or(&g.kind, "[noKind]"), or(&g.version, "[noVer]"), or(&g.group, "[noGrp]"));
    let ns = crate::resource::ns_of(v);
    let name = crate::resource::name_of(v);
    format!("{gvk}|{}|{}", or(ns, "~X"), or(name, "~N"))
}

/// Sorts objects in kustomize's legacy order.
pub(crate) fn legacy(objects: &mut [Value]) {
    objects.sort_by(|a, b| {
        let (ga, gb) = (Gvk::of(a), Gvk::of(b));
        if ga != gb {
            let (ra, rb) = (rank(&ga.kind), rank(&gb.kind));
            if ra != rb {
                return ra.cmp(&rb);
            }
            let (ka, kb) = (gvk_key(&ga), gvk_key(&gb));
            if ga.kind == "Namespace" && gb.kind == "Namespace" && (ga.group.is_empty() || gb.group.is_empty()) {
                return kb.cmp(&ka);
            }
            return ka.cmp(&kb);
        }
        id_key(&ga, a).cmp(&id_key(&gb, b))
    });
}
