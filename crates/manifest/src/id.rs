//! Object identity: group, version, kind, namespace and name.

use std::fmt;

use serde_json::Value;

/// The identity of a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version within the group (`v1`).
    pub version: String,
    /// Kind (`Deployment`).
    pub kind: String,
    /// Namespace (`""` when unset or cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectId {
    /// Reads the identity of an object (`apiVersion`, `kind`, `metadata.namespace`,
    /// `metadata.name`); missing fields are empty.
    pub fn of(object: &Value) -> Self {
        let (group, version) = split_api_version(str_at(object, &["apiVersion"]));
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: str_at(object, &["kind"]).to_string(),
            namespace: str_at(object, &["metadata", "namespace"]).to_string(),
            name: str_at(object, &["metadata", "name"]).to_string(),
        }
    }

    /// The `apiVersion` string (`apps/v1`, or `v1` for the core group).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Flux's inventory entry id: `<namespace>_<name>_<group>_<kind>`.
    pub fn inventory_id(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.namespace, self.name, self.group, self.kind
        )
    }

    /// Parses a Flux inventory id (`<namespace>_<name>_<group>_<kind>`); the version is left
    /// empty. Returns `None` if the text does not have four parts.
    pub fn from_inventory_id(id: &str) -> Option<Self> {
        // Namespace and kind never contain '_'; group never does either, names cannot.
        let (namespace, rest) = id.split_once('_')?;
        let mut back = rest.rsplitn(3, '_');
        let kind = back.next()?;
        let group = back.next()?;
        let name = back.next()?;
        Some(Self {
            group: group.into(),
            version: String::new(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        })
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let api = self.api_version();
        write!(f, "{}/{}", api, self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, " {}/{}", self.namespace, self.name)
        } else {
            write!(f, " {}", self.name)
        }
    }
}

/// Splits `apiVersion` into group and version (`apps/v1` → (`apps`, `v1`); `v1` → (`""`, `v1`)).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// The string at a path of mapping keys, or `""`.
pub fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = value;
    for key in path {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inventory_ids_round_trip() {
        let id = ObjectId::of(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}
        }));
        assert_eq!(id.inventory_id(), "prod_web_apps_Deployment");
        let back = ObjectId::from_inventory_id(&id.inventory_id()).unwrap();
        assert_eq!(
            (back.group.as_str(), back.kind.as_str()),
            ("apps", "Deployment")
        );
        let ns = ObjectId::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a_b"}}),
        );
        assert_eq!(ns.inventory_id(), "_a_b__Namespace");
        let back = ObjectId::from_inventory_id("_a_b__Namespace").unwrap();
        assert_eq!(back.name, "a_b");
    }
}
