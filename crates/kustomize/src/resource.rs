//! Resources as the engine tracks them: the object plus the names it had before, so references
//! can follow renames.

use serde_json::Value;

use keelson_manifest::{split_api_version, str_at};

/// Group, version and kind; an empty part in a selector matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Gvk {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// The gvk of an object.
    pub fn of(obj: &Value) -> Gvk {
        let (group, version) = split_api_version(str_at(obj, &["apiVersion"]));
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: str_at(obj, &["kind"]).into(),
        }
    }

    /// Reads `group`, `version`, `kind` fields of a spec or selector.
    pub fn from_spec(v: &Value) -> Gvk {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Gvk {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
        }
    }

    /// Whether `selector` (empty parts are wildcards) selects this gvk.
    pub fn selected_by(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    /// Whether objects of this kind are cluster-scoped (built-in knowledge; unknown kinds are
    /// namespaced).
    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped_kind(&self.kind)
    }
}

/// Built-in Kubernetes kinds that live outside namespaces.
pub fn is_cluster_scoped_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "StorageClass"
            | "PriorityClass"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "MutatingAdmissionPolicy"
            | "MutatingAdmissionPolicyBinding"
            | "APIService"
            | "CSIDriver"
            | "CSINode"
            | "IngressClass"
            | "RuntimeClass"
            | "VolumeAttachment"
            | "PodSecurityPolicy"
            | "ComponentStatus"
            | "CertificateSigningRequest"
            | "TokenReview"
            | "SelfSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "SubjectAccessReview"
            | "FlowSchema"
            | "PriorityLevelConfiguration"
            | "ClusterTrustBundle"
            | "DeviceClass"
            | "ResourceSlice"
            | "VolumeAttributesClass"
            | "StorageVersionMigration"
            | "IPAddress"
            | "ServiceCIDR"
    )
}

/// How a generated object joins objects of the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// A new object (an existing one is a conflict).
    #[default]
    Create,
    /// Merge into the existing object.
    Merge,
    /// Replace the existing object.
    Replace,
}

/// One object in a build.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub obj: Value,
    /// Earlier (gvk, name, namespace) of the object, oldest first (empty if never renamed).
    pub prev: Vec<(Gvk, String, String)>,
    /// The id the object had when loaded or generated.
    pub orig: (Gvk, String, String),
    /// Prefixes applied, outermost last.
    pub prefixes: Vec<String>,
    /// Suffixes applied, outermost last.
    pub suffixes: Vec<String>,
    /// Whether the name gets a content hash suffix at the end of the build.
    pub needs_hash: bool,
    /// For generated objects: how they join existing ones.
    pub behavior: Option<Behavior>,
    /// Names of the `vars:` that read a field of this object.
    pub ref_vars: Vec<String>,
}

impl Resource {
    /// Wraps a loaded object.
    pub fn new(mut obj: Value) -> Resource {
        // Label and annotation values are strings; kustomize writes `port: 8080` as "8080".
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            for field in ["labels", "annotations"] {
                if let Some(Value::Object(map)) = meta.get_mut(field) {
                    for v in map.values_mut() {
                        if let Value::Number(_) | Value::Bool(_) = v {
                            *v = Value::String(
                                crate::kustomization::scalar_string(v).unwrap_or_default(),
                            );
                        }
                    }
                }
            }
        }
        let orig = (Gvk::of(&obj), name_of(&obj).into(), ns_of(&obj).into());
        Resource {
            obj,
            prev: Vec::new(),
            orig,
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: None,
            ref_vars: Vec::new(),
        }
    }

    /// Current gvk.
    pub fn gvk(&self) -> Gvk {
        Gvk::of(&self.obj)
    }
    /// Current name.
    pub fn name(&self) -> &str {
        name_of(&self.obj)
    }
    /// Current namespace.
    pub fn namespace(&self) -> &str {
        ns_of(&self.obj)
    }

    /// Remembers the current id as a previous one (call before renaming).
    pub fn store_previous(&mut self) {
        let id = (
            self.gvk(),
            self.name().to_string(),
            self.namespace().to_string(),
        );
        if self.prev.last() != Some(&id) {
            self.prev.push(id);
        }
    }

    /// The current id, then earlier ids, then the original.
    pub fn all_ids(&self) -> Vec<(Gvk, String, String)> {
        let mut ids = vec![(
            self.gvk(),
            self.name().to_string(),
            self.namespace().to_string(),
        )];
        ids.extend(self.prev.iter().rev().cloned());
        ids.push(self.orig.clone());
        ids
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        set_meta(&mut self.obj, "name", name);
    }

    /// The labels of the object.
    pub fn labels(&self) -> Option<&serde_json::Map<String, Value>> {
        self.obj.get("metadata")?.get("labels")?.as_object()
    }

    /// The annotations of the object.
    pub fn annotations(&self) -> Option<&serde_json::Map<String, Value>> {
        self.obj.get("metadata")?.get("annotations")?.as_object()
    }
}

/// `metadata.name` or `""`.
pub fn name_of(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// `metadata.namespace` or `""`.
pub fn ns_of(obj: &Value) -> &str {
    str_at(obj, &["metadata", "namespace"])
}

/// Sets a string field under `metadata`, creating `metadata` if needed.
pub fn set_meta(obj: &mut Value, key: &str, value: &str) {
    if let Value::Object(map) = obj {
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if !meta.is_object() {
            *meta = Value::Object(Default::default());
        }
        if let Value::Object(meta) = meta {
            meta.insert(key.into(), Value::String(value.into()));
        }
    }
}

/// The namespace an id lives in for equality: `default` when unset, a marker for
/// cluster-scoped kinds.
pub fn effective_ns<'a>(gvk: &Gvk, ns: &'a str) -> &'a str {
    if gvk.is_cluster_scoped() {
        "_non_namespaceable_"
    } else if ns.is_empty() {
        "default"
    } else {
        ns
    }
}

/// Renders an id like kustomize does in messages (`Kind.version.group/name.namespace`).
pub fn id_string(gvk: &Gvk, name: &str, ns: &str) -> String {
    let g = if gvk.group.is_empty() {
        "[noGrp]"
    } else {
        &gvk.group
    };
    let n = if ns.is_empty() { "[noNs]" } else { ns };
    format!("{}.{}.{}/{}.{}", gvk.kind, gvk.version, g, name, n)
}
