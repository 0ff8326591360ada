//! Strategic merge patches with kustomize's exact semantics.
//!
//! kustomize does not use the Kubernetes (apimachinery) strategic merge: it walks the object
//! and the patch side by side with kyaml's `merge2` walker, lists growing at the front
//! (`ListIncreaseDirection: Prepend`). This module follows that walk rule for rule, because
//! real overlays depend on its details:
//!
//! - Maps merge field by field (in sorted field order); a `null` in the patch deletes the
//!   field; `$patch: delete` deletes the map, `$patch: replace` replaces it with the patch.
//! - A list merges by key only when the OpenAPI schema of the object says so
//!   ([`crate::openapi`]); otherwise the patch's list replaces the object's as written (patch
//!   directives inside it stay as they are). Objects without a schema (custom resources) have
//!   every list replaced.
//! - A keyed list: the keys of the patch's elements come first, then those of the object's
//!   elements; each is merged with its counterpart; elements marked `$patch: delete` are
//!   removed; then the object's elements are set again into the result by key — which for
//!   lists keyed on several fields (container ports: `containerPort`, `protocol`) moves the
//!   object's elements behind the new ones, and for elements missing a key drops what came
//!   before. A list-level `{$patch: replace}` / `{$patch: delete}` element replaces or deletes
//!   the whole list.
//! - A list of scalars with a merge strategy (`finalizers`) is a union, patch values first.

use serde_json::Value;

use crate::openapi::{self, OpenApi};

/// The result of walking one field.
enum Walked {
    /// Remove the field (a deletion, or a `null` from the patch).
    Clear,
    /// Set the field to this value (`Value::Null` is a null kept from the object).
    Set(Value),
}

/// A strategic merge patch directive (`$patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
    /// A directive on something that is neither a map nor a list.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Seq,
    Scalar,
}

fn kind_of(v: &Option<Value>) -> Option<Kind> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Object(_)) => Some(Kind::Map),
        Some(Value::Array(_)) => Some(Kind::Seq),
        Some(_) => Some(Kind::Scalar),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Map => "MappingNode",
        Kind::Seq => "SequenceNode",
        Kind::Scalar => "ScalarNode",
    }
}

/// The text of a YAML node as kyaml compares it: a scalar's text, `""` for maps and lists.
fn node_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// A field's text for merge key values: `""` when absent, null or empty.
fn key_text(elem: &Value, key: &str) -> String {
    match elem.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::Object(m)) if m.is_empty() => String::new(),
        Some(Value::Array(a)) if a.is_empty() => String::new(),
        Some(v) => node_text(v),
    }
}

fn is_empty_element(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Merges `patch` into `obj`; `None` when the patch deletes the object.
///
/// # Errors
/// A message when the two do not fit together (a map patched with a list, an unknown
/// `$patch` value).
pub(crate) fn merge(api: &OpenApi, obj: &Value, patch: &Value) -> Result<Option<Value>, String> {
    let walker = Walker { api };
    match walker
        .walk(Some(obj.clone()), Some(patch.clone()), false, None)?
        .0
    {
        Walked::Clear => Ok(None),
        Walked::Set(Value::Object(m)) if m.is_empty() => Ok(None),
        Walked::Set(Value::Null) => Ok(None),
        Walked::Set(v) => Ok(Some(v)),
    }
}

struct Walker<'a> {
    api: &'a OpenApi,
}

impl<'a> Walker<'a> {
    /// Walks one node: `dest` from the object, `origin` from the patch (`None` when absent,
    /// `Some(Null)` for a null). `same` says both are one node (a part of the patch being
    /// added). Returns the result and whether it is the object's node, changed in place.
    fn walk(
        &self,
        dest: Option<Value>,
        origin: Option<Value>,
        same: bool,
        schema: Option<&'a Value>,
    ) -> Result<(Walked, bool), String> {
        let kind = kind_of(&dest).or(kind_of(&origin));
        if let Some(k) = kind {
            for side in [&dest, &origin] {
                if let Some(other) = kind_of(side)
                    && other != k
                {
                    return Err(format!(
                        "wrong node kind: expected {} but got {}",
                        kind_name(k),
                        kind_name(other)
                    ));
                }
            }
        }
        let schema = schema.or_else(|| {
            [&dest, &origin].into_iter().find_map(|side| {
                let v = side.as_ref()?;
                let api_version = v.get("apiVersion")?.as_str()?;
                let kind = v.get("kind")?.as_str()?;
                if api_version.is_empty() || kind.is_empty() {
                    return None;
                }
                self.api.for_type(api_version, kind)
            })
        });
        match kind {
            None | Some(Kind::Map) => self.walk_map(dest, origin, same, schema),
            Some(Kind::Seq) if schema.is_some_and(openapi::merges) => {
                self.walk_keyed_list(dest, origin, same, schema)
            }
            Some(Kind::Seq) | Some(Kind::Scalar) => Ok(match origin {
                Some(Value::Null) => (Walked::Clear, false),
                Some(v) => (Walked::Set(v), false),
                None => match dest {
                    Some(v) => (Walked::Set(v), true),
                    None => (Walked::Clear, false),
                },
            }),
        }
    }

    fn walk_map(
        &self,
        dest: Option<Value>,
        mut origin: Option<Value>,
        same: bool,
        schema: Option<&'a Value>,
    ) -> Result<(Walked, bool), String> {
        let (mut target, same, from_dest) = match dest {
            None | Some(Value::Null) => {
                let directive = directive(&mut origin).unwrap_or(Directive::Unknown);
                if directive == Directive::Delete {
                    return Ok((Walked::Clear, false));
                }
                match origin.take() {
                    // A null kept from the object when the patch does not mention it.
                    None if dest.is_some() => return Ok((Walked::Set(Value::Null), true)),
                    None | Some(Value::Null) => return Ok((Walked::Clear, false)),
                    Some(Value::Object(m)) => {
                        origin = Some(Value::Object(m.clone()));
                        (m, true, false)
                    }
                    Some(other) => return Ok((Walked::Set(other), false)),
                }
            }
            Some(Value::Object(d)) => {
                if matches!(origin, Some(Value::Null)) {
                    return Ok((Walked::Clear, false));
                }
                let directive = directive(&mut origin)?;
                let d = if same {
                    match &origin {
                        Some(Value::Object(o)) => o.clone(),
                        _ => d,
                    }
                } else {
                    d
                };
                match directive {
                    Directive::Delete => return Ok((Walked::Clear, false)),
                    Directive::Replace => match &origin {
                        Some(Value::Object(o)) => (o.clone(), true, false),
                        _ => (d, same, true),
                    },
                    Directive::Merge | Directive::Unknown => (d, same, true),
                }
            }
            Some(other) => return Ok((Walked::Set(other), true)),
        };
        let mut origin = match origin {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        let mut names: Vec<String> = target.keys().cloned().collect();
        if let Some(o) = &origin {
            names.extend(o.keys().filter(|k| !target.contains_key(*k)).cloned());
        }
        names.sort();
        for key in names {
            let child_schema = schema.and_then(|s| self.api.field(s, &key));
            let dv = target.get_mut(&key).map(std::mem::take);
            let ov = origin.as_mut().and_then(|o| o.remove(&key));
            match self.walk(dv, ov, same, child_schema)?.0 {
                Walked::Clear => {
                    target.shift_remove(&key);
                }
                Walked::Set(v) => {
                    target.insert(key, v);
                }
            }
        }
        Ok((Walked::Set(Value::Object(target)), from_dest))
    }

    fn walk_keyed_list(
        &self,
        dest: Option<Value>,
        mut origin: Option<Value>,
        same: bool,
        schema: Option<&'a Value>,
    ) -> Result<(Walked, bool), String> {
        let (target, same) = match dest {
            None | Some(Value::Null) => match origin.clone() {
                None | Some(Value::Null) => return Ok((Walked::Clear, false)),
                Some(v) => (v, true),
            },
            Some(d) => {
                if matches!(origin, Some(Value::Null)) {
                    return Ok((Walked::Clear, false));
                }
                let directive = directive(&mut origin)?;
                let d = if same { origin.clone().unwrap_or(d) } else { d };
                match directive {
                    Directive::Delete => return Ok((Walked::Clear, false)),
                    Directive::Replace => match origin.clone() {
                        Some(o) => (o, true),
                        None => (d, same),
                    },
                    Directive::Merge | Directive::Unknown => (d, same),
                }
            }
        };
        let Value::Array(target) = target else {
            return Ok((Walked::Set(target), false));
        };
        let origin = match origin {
            Some(Value::Array(o)) => Some(o),
            _ => None,
        };
        let keys = schema.map(openapi::merge_keys).unwrap_or_default();
        let elem_schema = schema.and_then(|s| self.api.elements(s));
        let lists = List {
            dest: target,
            origin,
            same,
        };
        let values = if keys.is_empty() {
            Vec::new()
        } else {
            lists.element_values(&keys)
        };
        let result = if !values.is_empty() || !keys.is_empty() {
            self.set_elements(values, &keys, lists, elem_schema)?
        } else {
            let values = lists.primitive_values();
            self.set_elements(values, &[String::new()], lists, elem_schema)?
        };
        Ok((Walked::Set(Value::Array(result)), false))
    }

    /// Merges the elements of a keyed list, one key tuple (`values_list` entry) at a time.
    fn set_elements(
        &self,
        mut values_list: Vec<Vec<String>>,
        keys: &[String],
        mut lists: List,
        elem_schema: Option<&'a Value>,
    ) -> Result<Vec<Value>, String> {
        let mut items: Vec<Value> = Vec::new();
        if keys.len() > 1 {
            merge_values(&mut values_list);
        }
        let mut valid_keys: Vec<String> = Vec::new();
        for idx in 0..values_list.len() {
            let values = values_list[idx].clone();
            if values.is_empty() {
                continue;
            }
            let (vk, vv) = validate_keys(&values_list, &values, keys);
            valid_keys = vk.clone();
            let (ek, ev) = validate_keys(std::slice::from_ref(&vv), &vv, &vk);
            let di = element_list(&lists.dest, &ek, &ev);
            let oi = if lists.same {
                di
            } else {
                lists
                    .origin
                    .as_ref()
                    .and_then(|o| element_list(o, &ek, &ev))
            };
            let dv = di.map(|i| lists.dest[i].clone());
            let ov = if lists.same {
                dv.clone()
            } else {
                oi.and_then(|i| lists.origin.as_ref().map(|o| o[i].clone()))
            };
            let (walked, from_dest) = self.walk(dv, ov, lists.same, elem_schema)?;
            let mut val = match walked {
                Walked::Clear => None,
                Walked::Set(v) => Some(v),
            };
            if val.as_ref().is_none_or(is_empty_element) {
                element_setter(&mut lists.dest, None, &vk, &vv)?;
                continue;
            }
            if let Some(Value::Object(m)) = val.as_mut() {
                for (key, value) in vk.iter().zip(&vv) {
                    if !key.is_empty() && !m.contains_key(key) && !value.is_empty() {
                        m.insert(key.clone(), keelson_manifest::resolve_plain(value));
                    }
                }
            }
            let Some(val) = val else { continue };
            // The object's element was changed in place: later steps see the change.
            if from_dest || lists.same {
                if let Some(i) = di {
                    lists.dest[i] = val.clone();
                }
            } else if let (Some(i), Some(o)) = (oi, lists.origin.as_mut()) {
                o[i] = val.clone();
            }
            element_setter(&mut items, Some(val), &vk, &vv)?;
        }
        if values_list.is_empty() {
            return Ok(lists.dest);
        }
        append_list(items, lists.dest, &valid_keys)
    }
}

/// The object's list (`dest`) and the patch's (`origin`) while a keyed list is merged.
struct List {
    dest: Vec<Value>,
    origin: Option<Vec<Value>>,
    /// The two are one list (a list of the patch being added).
    same: bool,
}

impl List {
    /// The patch's list first, then the object's (prepend order).
    fn sources(&self) -> impl Iterator<Item = &Vec<Value>> {
        let origin = if self.same {
            None
        } else {
            self.origin.as_ref()
        };
        origin.into_iter().chain(std::iter::once(&self.dest))
    }

    /// The distinct key tuples of all elements, patch first.
    fn element_values(&self, keys: &[String]) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for src in self.sources() {
            for elem in src {
                let values: Vec<String> = keys.iter().map(|k| key_text(elem, k)).collect();
                if values.is_empty() || out.contains(&values) {
                    continue;
                }
                out.push(values);
            }
        }
        out
    }

    /// The distinct values of a list of scalars, patch first.
    fn primitive_values(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for src in self.sources() {
            for item in src {
                let v = vec![node_text(item)];
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }
}

/// Makes key tuples that differ only where one of them is empty equal (a port without a
/// protocol is the same port as one with).
fn merge_values(list: &mut [Vec<String>]) {
    for i in 0..list.len() {
        let v1 = list[i].clone();
        for j in 0..list.len() {
            let v2 = list[j].clone();
            if let Some(res) = match_values(&v1, &v2) {
                list[i] = res.clone();
                list[j] = res;
            }
        }
    }
}

fn match_values(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut res = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            res.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if !x.is_empty() {
            res.push(x.clone());
        } else {
            res.push(y.clone());
        }
    }
    common.then_some(res)
}

/// The keys some element has a value for, and this tuple's values for them (all keys when no
/// element has any).
fn validate_keys(
    values_list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let used: Vec<bool> = (0..keys.len())
        .map(|i| {
            values_list
                .iter()
                .any(|vs| vs.get(i).is_some_and(|v| !v.is_empty()))
        })
        .collect();
    if !used.iter().any(|u| *u) {
        return (keys.to_vec(), values.to_vec());
    }
    let vk = keys
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(k, _)| k.clone())
        .collect();
    let vv = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || used.get(*i).copied().unwrap_or(false))
        .map(|(_, v)| v.clone())
        .collect();
    (vk, vv)
}

/// The first element whose fields `keys` have the texts `values` (for a list of scalars, key
/// `""`: whose text is `values[0]`).
fn element_list(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    let empty = [String::new()];
    let keys = if keys.is_empty() { &empty[..] } else { keys };
    let values = if values.is_empty() {
        &empty[..]
    } else {
        values
    };
    if keys[0].is_empty() {
        return list.iter().position(|e| node_text(e) == values[0]);
    }
    if keys.len() != values.len() {
        return None;
    }
    list.iter().position(|e| {
        e.is_object()
            && keys
                .iter()
                .zip(values)
                .all(|(k, v)| e.get(k).is_some_and(|f| node_text(f) == *v))
    })
}

/// Whether list element `elem` has field `name` with text `value` (any value when `value` is
/// empty); for a scalar element (`name` empty), whether its text is `value`.
fn field_matches(elem: &Value, name: &str, value: &str) -> Result<bool, String> {
    if elem.is_null() {
        return Ok(false);
    }
    if name.is_empty() {
        if elem.is_object() || elem.is_array() {
            return Err("wrong node kind: expected ScalarNode in a list of scalars".into());
        }
        return Ok(node_text(elem) == value);
    }
    let Value::Object(m) = elem else {
        return Err(format!(
            "wrong node kind: expected MappingNode for merge key {name:?}"
        ));
    };
    Ok(match m.get(name) {
        None => false,
        Some(_) if value.is_empty() => true,
        Some(f) => node_text(f) == value,
    })
}

/// kyaml's element setter: replaces the elements matching `keys`/`values` with `element`
/// (appending it when none match), or removes them when `element` is `None`. Null and empty
/// elements are dropped on the way.
fn element_setter(
    list: &mut Vec<Value>,
    element: Option<Value>,
    keys: &[String],
    values: &[String],
) -> Result<(), String> {
    let empty = [String::new()];
    let keys = if keys.is_empty() { &empty[..] } else { keys };
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut found_any = false;
    for elem in list.drain(..) {
        if is_empty_element(&elem) {
            continue;
        }
        if !elem.is_object() && mapping_setter {
            out.push(elem);
            continue;
        }
        let mut matched = false;
        let mut found = true;
        for (j, key) in keys.iter().enumerate() {
            if let Some(v) = values.get(j) {
                matched = field_matches(&elem, key, v)?;
            }
            if !matched {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                out.push(elem);
            }
            continue;
        }
        found_any = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    *list = out;
    match element {
        None | Some(Value::Null) => {}
        Some(e) => {
            if !found_any {
                list.push(e);
            }
        }
    }
    Ok(())
}

/// Sets the object's elements into the merged list by key (kyaml's `appendListNode`).
fn append_list(
    mut dst: Vec<Value>,
    src: Vec<Value>,
    keys: &[String],
) -> Result<Vec<Value>, String> {
    for elem in src {
        if keys.first().is_none_or(|k| k.is_empty()) {
            let text = node_text(&elem);
            element_setter(&mut dst, Some(elem), &[String::new()], &[text])?;
            continue;
        }
        let mut values = Vec::new();
        for key in keys {
            let field = match &elem {
                Value::Null => None,
                Value::Object(m) => m.get(key),
                _ => {
                    return Err(format!(
                        "wrong node kind: expected MappingNode for merge key {key:?}"
                    ));
                }
            };
            match field {
                None => dst.push(elem.clone()),
                Some(f) => values.push(node_text(f)),
            }
        }
        if keys.len() > 1 {
            element_setter(&mut dst, None, keys, &values)?;
        }
        element_setter(&mut dst, Some(elem), keys, &values)?;
    }
    Ok(dst)
}

/// Reads (and removes) the `$patch` directive of a patch node.
fn directive(origin: &mut Option<Value>) -> Result<Directive, String> {
    match origin {
        None => Ok(Directive::Merge),
        Some(Value::Object(m)) => {
            let Some(v) = m.get("$patch") else {
                return Ok(Directive::Merge);
            };
            let d = parse_directive(&node_text(v))?;
            m.shift_remove("$patch");
            Ok(d)
        }
        Some(Value::Array(items)) => {
            let Some(elem) = items
                .iter()
                .find(|e| e.as_object().is_some_and(|m| m.contains_key("$patch")))
            else {
                return Ok(Directive::Merge);
            };
            if elem.as_object().is_some_and(|m| m.len() > 1) {
                return Ok(Directive::Merge);
            }
            let text = elem.get("$patch").map(node_text).unwrap_or_default();
            let d = parse_directive(&text)?;
            element_setter(items, None, &["$patch".to_string()], &[text])?;
            Ok(d)
        }
        Some(_) => Ok(Directive::Unknown),
    }
}

fn parse_directive(text: &str) -> Result<Directive, String> {
    match text {
        "delete" => Ok(Directive::Delete),
        "replace" => Ok(Directive::Replace),
        "merge" => Ok(Directive::Merge),
        other => Err(format!("unknown patch strategy '{other}'")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(obj: Value, patch: Value) -> Value {
        merge(OpenApi::builtin(), &obj, &patch).unwrap().unwrap()
    }

    fn deploy(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    }

    fn containers(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn keyed_lists_put_patch_elements_first() {
        let out = run(
            deploy(
                json!([{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
            ),
            deploy(
                json!([{"name": "app", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "0"}]}]),
            ),
        );
        assert_eq!(
            containers(&out)[0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "A", "value": "0"}, {"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn two_key_lists_move_merged_elements_back() {
        // kustomize's order for container ports keyed on (containerPort, protocol).
        let out = run(
            deploy(
                json!([{"name": "app", "ports": [{"containerPort": 80}, {"containerPort": 81, "protocol": "UDP"}]}]),
            ),
            deploy(
                json!([{"name": "app", "ports": [{"containerPort": 81, "protocol": "UDP", "name": "udp"}, {"containerPort": 9090}]}]),
            ),
        );
        assert_eq!(
            containers(&out)[0]["ports"],
            json!([{"containerPort": 9090}, {"containerPort": 80}, {"containerPort": 81, "protocol": "UDP", "name": "udp"}])
        );
    }

    #[test]
    fn list_directives() {
        let base = deploy(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]));
        let out = run(
            base.clone(),
            deploy(json!([{"$patch": "replace"}, {"name": "c", "image": "c"}])),
        );
        assert_eq!(containers(&out), &json!([{"name": "c", "image": "c"}]));
        let out = run(base.clone(), deploy(json!([{"$patch": "delete"}])));
        assert!(out["spec"]["template"]["spec"].get("containers").is_none());
        let out = run(base, deploy(json!([{"name": "a", "$patch": "delete"}])));
        assert_eq!(containers(&out), &json!([{"name": "b", "image": "b"}]));
    }

    #[test]
    fn maps_nulls_and_map_directives() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}});
        let out = run(
            obj.clone(),
            json!({"metadata": {"labels": {"a": null, "c": "3"}}, "data": {"$patch": "replace", "n": "m"}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(out["data"], json!({"n": "m"}));
        assert!(
            merge(OpenApi::builtin(), &obj, &json!({"$patch": "delete"}))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn custom_kinds_replace_lists() {
        let out = run(
            json!({"apiVersion": "custom", "kind": "Deployment", "containers": [{"name": "foo", "image": "foo:bar"}]}),
            json!({"apiVersion": "custom", "kind": "Deployment", "containers": [{"name": "foo", "command": ["run2.sh"]}]}),
        );
        assert_eq!(
            out["containers"],
            json!([{"name": "foo", "command": ["run2.sh"]}])
        );
    }

    #[test]
    fn scalar_sets_union_patch_first() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": ["a", "b"]}});
        let out = run(obj, json!({"metadata": {"finalizers": ["c", "a"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
    }
}
