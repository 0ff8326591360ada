//! The set of objects a reconcile applied, in Flux's inventory format.

use std::collections::BTreeSet;

use keelson_manifest::ObjectId;

/// Objects applied together; entries are `<namespace>_<name>_<group>_<kind>` plus the version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    entries: BTreeSet<(String, String)>,
}

impl Inventory {
    /// An inventory of the given objects.
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a ObjectId>) -> Self {
        Self {
            entries: ids
                .into_iter()
                .map(|id| (id.inventory_id(), id.version.clone()))
                .collect(),
        }
    }

    /// An inventory from Flux-format entries `(id, version)`.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
        }
    }

    /// The entries `(id, version)`, sorted by id.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(id, v)| (id.as_str(), v.as_str()))
    }

    /// The objects, with their versions.
    pub fn ids(&self) -> Vec<ObjectId> {
        self.entries
            .iter()
            .filter_map(|(id, v)| {
                let mut object = ObjectId::from_inventory_id(id)?;
                object.version = v.clone();
                Some(object)
            })
            .collect()
    }

    /// Objects in `self` that are not in `newer` (compared without version, since an object
    /// that moved to a new API version is the same object).
    pub fn missing_from(&self, newer: &Inventory) -> Vec<ObjectId> {
        let keep: BTreeSet<&str> = newer.entries.iter().map(|(id, _)| id.as_str()).collect();
        self.ids()
            .into_iter()
            .filter(|id| !keep.contains(id.inventory_id().as_str()))
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the inventory is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_objects_are_those_left_out() {
        let a = ObjectId::of(
            &serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "ns"}}),
        );
        let b = ObjectId::of(
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
        );
        let mut b2 = b.clone();
        b2.version = "v2".into();
        let old = Inventory::of([&a, &b]);
        let new = Inventory::of([&b2]);
        assert_eq!(old.missing_from(&new), vec![a.clone()]);
        assert_eq!(old.entries().next(), Some(("_ns__Namespace", "v1")));
        assert_eq!(
            Inventory::from_entries(old.entries().map(|(i, v)| (i.to_string(), v.to_string()))),
            old
        );
    }
}
