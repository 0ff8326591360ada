//! The install bundle: keelson's CRDs, namespace, service account, RBAC, controller Deployment
//! and Service, as plain objects.
//!
//! The bundle is the same whether it is printed (`keelson install --export`), applied
//! (`keelson install`), written into a bootstrap repository (`gotk-components.yaml`) or embedded in
//! a release file: all of them call [`components`].

use serde_json::{Value, json};

/// The controller's name: its Deployment, ServiceAccount and Service.
pub const CONTROLLER_NAME: &str = "keelson-controller";
/// The default namespace (Flux's, so that Flux repositories work unchanged).
pub const DEFAULT_NAMESPACE: &str = "flux-system";
/// The default image repository of the controller.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/keelson/keelson";
/// The label every installed object carries; `uninstall` and `check` find the install by it.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
/// The value of [`PART_OF_LABEL`].
pub const PART_OF: &str = "keelson";
/// The label naming the installed version.
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";
/// The port of the artifact server inside the pod.
pub const ARTIFACT_PORT: u16 = 9090;
/// Port of the health probes (`/healthz`, `/readyz`), as Flux's controllers.
pub const HEALTH_PORT: u16 = 9440;

/// What to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// The namespace of the controller (created by the bundle).
    pub namespace: String,
    /// The controller image.
    pub image: String,
    /// The version recorded in the `app.kubernetes.io/version` label.
    pub version: String,
    /// The ClusterRole the controller applies objects with when a Kustomization names no service
    /// account (Flux binds `cluster-admin`); `None` binds nothing, so every Kustomization must
    /// name a service account to impersonate.
    pub reconciler_role: Option<String>,
    /// The log level of the controller (`debug`, `info` or `error`, Flux's levels).
    pub log_level: String,
}

impl Default for InstallOptions {
    fn default() -> Self {
        let version = env!("CARGO_PKG_VERSION").to_string();
        Self {
            namespace: DEFAULT_NAMESPACE.into(),
            image: format!("{DEFAULT_IMAGE_REPOSITORY}:{version}"),
            version,
            reconciler_role: Some("cluster-admin".into()),
            log_level: "info".into(),
        }
    }
}

impl InstallOptions {
    /// Options for `namespace`, with everything else defaulted.
    pub fn in_namespace(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            ..Self::default()
        }
    }

    /// The name of a cluster-scoped object of this install: `<base>-<namespace>`, so that
    /// installs in several namespaces do not collide.
    pub fn cluster_name(&self, base: &str) -> String {
        format!("{base}-{}", self.namespace)
    }

    fn labels(&self) -> Value {
        json!({
            PART_OF_LABEL: PART_OF,
            "app.kubernetes.io/instance": self.namespace,
            VERSION_LABEL: self.version,
        })
    }
}

/// Every object of the install bundle, in apply order (CRDs and cluster-scoped objects first).
pub fn components(options: &InstallOptions) -> Vec<Value> {
    let mut objects = Vec::new();
    for crd in keelson_api::crds() {
        let mut value = serde_json::to_value(&crd).unwrap_or(Value::Null);
        if value.is_null() {
            continue;
        }
        value["metadata"]["labels"] = json!({
            PART_OF_LABEL: PART_OF,
            VERSION_LABEL: options.version,
        });
        // Deleting a CRD deletes every object of its kind in the cluster: a Kustomization that
        // applied the bundle (the drift guard) must never prune them; `uninstall` does it.
        value["metadata"]["annotations"] =
            json!({ keelson_api::kustomization::PRUNE_ANNOTATION: "disabled" });
        objects.push(value);
    }
    objects.push(namespace(options));
    objects.push(cluster_role(options));
    objects.push(cluster_role_binding(
        options,
        &options.cluster_name(CONTROLLER_NAME),
        &options.cluster_name(CONTROLLER_NAME),
    ));
    if let Some(role) = &options.reconciler_role {
        objects.push(cluster_role_binding(
            options,
            &options.cluster_name("keelson-reconciler"),
            role,
        ));
    }
    objects.push(service_account(options));
    objects.push(service(options));
    objects.push(deployment(options));
    objects
}

/// The bundle as one multi-document YAML stream.
pub fn components_yaml(options: &InstallOptions) -> String {
    keelson_manifest::to_yaml_stream(&components(options))
}

fn namespace(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": options.namespace,
            "labels": options.labels(),
        },
    })
}

/// What the controller itself needs: its own resources and their status, the Secrets and
/// ConfigMaps that sources, decryption and substitution refer to, events, leases, and
/// impersonation of the service accounts Kustomizations name.
fn cluster_role(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": options.cluster_name(CONTROLLER_NAME),
            "labels": options.labels(),
        },
        "rules": [
            {
                "apiGroups": ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"],
                "resources": ["*"],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                "apiGroups": ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"],
                "resources": ["*/status", "*/finalizers"],
                "verbs": ["get", "update", "patch"],
            },
            {
                "apiGroups": [""],
                "resources": ["secrets", "configmaps"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["", "events.k8s.io"],
                "resources": ["events"],
                "verbs": ["create", "patch"],
            },
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            },
            {
                "apiGroups": [""],
                "resources": ["serviceaccounts"],
                "verbs": ["impersonate"],
            },
        ],
    })
}

fn cluster_role_binding(options: &InstallOptions, name: &str, role: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": options.labels(),
        },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role,
        },
        "subjects": [{
            "kind": "ServiceAccount",
            "name": CONTROLLER_NAME,
            "namespace": options.namespace,
        }],
    })
}

fn service_account(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": CONTROLLER_NAME,
            "namespace": options.namespace,
            "labels": options.labels(),
        },
    })
}

fn selector() -> Value {
    json!({ "app.kubernetes.io/name": CONTROLLER_NAME })
}

fn service(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": CONTROLLER_NAME,
            "namespace": options.namespace,
            "labels": options.labels(),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(),
            "ports": [{
                "name": "http",
                "port": 80,
                "protocol": "TCP",
                "targetPort": "http",
            }],
        },
    })
}

fn deployment(options: &InstallOptions) -> Value {
    let mut pod_labels = options.labels();
    if let (Some(labels), Some(sel)) = (pod_labels.as_object_mut(), selector().as_object()) {
        labels.extend(sel.clone());
    }
    let advertise = format!("{CONTROLLER_NAME}.{}.svc.cluster.local.", options.namespace);
    let probe = |path: &str| {
        json!({
            "httpGet": { "path": path, "port": "healthz" },
            "initialDelaySeconds": 2,
            "periodSeconds": 10,
        })
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": CONTROLLER_NAME,
            "namespace": options.namespace,
            "labels": options.labels(),
        },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": selector() },
            "template": {
                "metadata": { "labels": pod_labels },
                "spec": {
                    "serviceAccountName": CONTROLLER_NAME,
                    // Running reconciles get --graceful-shutdown-timeout (30s) to finish.
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65534,
                        "runAsGroup": 65534,
                        "fsGroup": 65534,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "containers": [{
                        "name": "manager",
                        "image": options.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            "controller",
                            "--storage-path=/data",
                            format!("--storage-addr=0.0.0.0:{ARTIFACT_PORT}"),
                            format!("--storage-adv-addr={advertise}"),
                            "--log-encoding=json",
                            format!("--log-level={}", options.log_level),
                            "--enable-leader-election",
                            format!("--health-addr=:{HEALTH_PORT}"),
                        ],
                        "env": [
                            { "name": "RUNTIME_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
                        ],
                        "ports": [
                            { "name": "http", "containerPort": ARTIFACT_PORT, "protocol": "TCP" },
                            { "name": "healthz", "containerPort": HEALTH_PORT, "protocol": "TCP" },
                        ],
                        "readinessProbe": probe("/readyz"),
                        "livenessProbe": probe("/healthz"),
                        "resources": {
                            "requests": { "cpu": "50m", "memory": "64Mi" },
                            "limits": { "cpu": "1", "memory": "1Gi" },
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "capabilities": { "drop": ["ALL"] },
                            "seccompProfile": { "type": "RuntimeDefault" },
                        },
                        "volumeMounts": [
                            { "name": "data", "mountPath": "/data" },
                            { "name": "tmp", "mountPath": "/tmp" },
                        ],
                    }],
                    "volumes": [
                        { "name": "data", "emptyDir": {} },
                        { "name": "tmp", "emptyDir": {} },
                    ],
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bundle_has_every_piece_in_apply_order() {
        let objects = components(&InstallOptions::in_namespace("keelson-a"));
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        // Every CRD keelson serves comes first, then the rest in apply order.
        let crds = keelson_api::crds().len();
        assert!(
            kinds[..crds]
                .iter()
                .all(|k| *k == "CustomResourceDefinition")
        );
        assert_eq!(
            kinds[crds..],
            [
                "Namespace",
                "ClusterRole",
                "ClusterRoleBinding",
                "ClusterRoleBinding",
                "ServiceAccount",
                "Service",
                "Deployment"
            ]
        );
        let deploy = objects.last().unwrap();
        assert_eq!(deploy["metadata"]["namespace"], "keelson-a");
        let container = &deploy["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(
            container["image"],
            format!("ghcr.io/keelson/keelson:{}", env!("CARGO_PKG_VERSION"))
        );
        // The ClusterRole, right after the Namespace.
        assert_eq!(
            objects[crds + 1]["metadata"]["name"],
            "keelson-controller-keelson-a"
        );
    }

    #[test]
    fn no_reconciler_role_binds_nothing_extra() {
        let options = InstallOptions {
            reconciler_role: None,
            ..InstallOptions::default()
        };
        let bindings = components(&options)
            .into_iter()
            .filter(|o| o["kind"] == "ClusterRoleBinding")
            .count();
        assert_eq!(bindings, 1);
    }

    #[test]
    fn yaml_parses_back_to_the_objects() {
        let options = InstallOptions::default();
        let yaml = components_yaml(&options);
        let docs = keelson_manifest::parse_documents(&yaml).unwrap();
        assert_eq!(docs, components(&options));
    }
}
