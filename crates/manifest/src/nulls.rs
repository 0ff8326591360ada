//! Null members, read the way Kubernetes reads them.

use serde_json::Value;

/// Removes every object member whose value is `null`, at any depth (members of arrays too).
///
/// This is how the apiserver and Go's decoder treat such a field: the structural-schema pruning of
/// custom resources drops non-nullable nulls, and `encoding/json` leaves a map, slice or struct at
/// its zero value when it reads `null`. A manifest that writes `substitute:` or `values:` with
/// nothing after it therefore means "absent", and typed decoding or schema validation must see it
/// so. Array items that are themselves `null` stay: they are list entries, not absent fields.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, v| !v.is_null());
            members.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// `value` with [`drop_nulls`] applied, or `None` when it holds no null member (saves a copy of
/// the common case).
pub fn without_nulls(value: &Value) -> Option<Value> {
    fn has_null_member(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.values().any(|c| c.is_null() || has_null_member(c)),
            Value::Array(a) => a.iter().any(has_null_member),
            _ => false,
        }
    }
    if !has_null_member(value) {
        return None;
    }
    let mut copy = value.clone();
    drop_nulls(&mut copy);
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_members_go_at_every_depth_but_null_items_stay() {
        let mut v = json!({
            "spec": {"postBuild": {"substitute": null}, "values": null,
                     "list": [{"a": null, "b": 1}, null]},
            "kind": "Kustomization"
        });
        assert!(without_nulls(&v).is_some());
        drop_nulls(&mut v);
        assert_eq!(
            v,
            json!({"spec": {"postBuild": {}, "list": [{"b": 1}, null]}, "kind": "Kustomization"})
        );
        assert_eq!(without_nulls(&v), None);
    }
}
