//! Apply order: the objects other objects need come first.

use keelson_manifest::ObjectId;

/// The stage an object is applied in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// CustomResourceDefinitions, Namespaces and ClusterRoles: what the rest may depend on.
    Cluster,
    /// Kinds named `*Class` (StorageClass, IngressClass, PriorityClass, …).
    Class,
    /// Everything else.
    Rest,
}

impl Stage {
    /// All stages in apply order.
    pub const ALL: [Stage; 3] = [Stage::Cluster, Stage::Class, Stage::Rest];
}

/// The stage of an object, as Flux's kustomize-controller stages them.
pub fn stage_of(id: &ObjectId) -> Stage {
    match (id.group.as_str(), id.kind.as_str()) {
        ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("", "Namespace")
        | ("rbac.authorization.k8s.io", "ClusterRole") => Stage::Cluster,
        (_, kind) if kind.ends_with("Class") => Stage::Class,
        _ => Stage::Rest,
    }
}

/// A rank for deterministic order inside a stage: Flux's kind order (namespaces before the
/// objects in them, ServiceAccounts and RBAC before workloads), then namespace and name.
pub(crate) fn kind_rank(kind: &str) -> u8 {
    const ORDER: &[&str] = &[
        "CustomResourceDefinition",
        "Namespace",
        "ResourceQuota",
        "StorageClass",
        "LimitRange",
        "PodSecurityPolicy",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "SecretList",
        "ConfigMap",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "ClusterRole",
        "ClusterRoleList",
        "ClusterRoleBinding",
        "ClusterRoleBindingList",
        "Role",
        "RoleList",
        "RoleBinding",
        "RoleBindingList",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
        "IngressClass",
        "Ingress",
        "APIService",
    ];
    ORDER
        .iter()
        .position(|k| *k == kind)
        .map_or(ORDER.len() as u8, |p| p as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(api_version: &str, kind: &str) -> ObjectId {
        ObjectId::of(
            &serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}),
        )
    }

    #[test]
    fn stages_follow_flux() {
        assert_eq!(
            stage_of(&id("apiextensions.k8s.io/v1", "CustomResourceDefinition")),
            Stage::Cluster
        );
        assert_eq!(stage_of(&id("v1", "Namespace")), Stage::Cluster);
        assert_eq!(
            stage_of(&id("rbac.authorization.k8s.io/v1", "ClusterRole")),
            Stage::Cluster
        );
        assert_eq!(
            stage_of(&id("storage.k8s.io/v1", "StorageClass")),
            Stage::Class
        );
        assert_eq!(
            stage_of(&id("networking.k8s.io/v1", "IngressClass")),
            Stage::Class
        );
        assert_eq!(stage_of(&id("apps/v1", "Deployment")), Stage::Rest);
        assert_eq!(
            stage_of(&id("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")),
            Stage::Rest
        );
        assert!(kind_rank("Namespace") < kind_rank("Deployment"));
        assert!(kind_rank("ServiceAccount") < kind_rank("Deployment"));
    }
}
