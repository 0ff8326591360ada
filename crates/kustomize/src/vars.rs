//! `vars:` — kustomize's older way to copy a field of one object into others: `$(NAME)` in the
//! fields of the `varReference` configuration is replaced by the value of a field (by default
//! `metadata.name`) of the object the var names.
//!
//! As in kustomize: each kustomization ties its vars to the objects they name when its own
//! transformers have run (by any name the object has had); var names must be unique across the
//! build; the values are read and substituted at the very end, after hash suffixes and name
//! references, so a var sees final names. A `$(NAME)` that makes up a whole string takes the
//! field's type (a number stays a number); a var whose field is a map or list is left as
//! written.

use serde_json::{Map, Value};

use crate::fieldspec::{FieldSpec, walk};
use crate::resource::{Gvk, Resource, effective_ns};

/// One `vars:` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    name: String,
    gvk: Gvk,
    obj_name: String,
    namespace: String,
    field_path: String,
}

impl Var {
    /// Reads `{name, objref: {apiVersion|group+version, kind, name, namespace},
    /// fieldref: {fieldpath}}`.
    pub(crate) fn from_value(v: &Value) -> Result<Var, String> {
        let s = |v: Option<&Value>, k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(crate::kustomization::scalar_string)
                .unwrap_or_default()
        };
        let name = s(Some(v), "name");
        if name.is_empty() {
            return Err("a var needs a name".into());
        }
        let objref = v.get("objref");
        let mut gvk = Gvk {
            group: s(objref, "group"),
            version: s(objref, "version"),
            kind: s(objref, "kind"),
        };
        let api_version = s(objref, "apiVersion");
        if !api_version.is_empty() {
            match api_version.split_once('/') {
                Some((g, ver)) if !ver.contains('/') => {
                    gvk.group = g.to_string();
                    gvk.version = ver.to_string();
                }
                Some(_) => {}
                None => gvk.version = api_version,
            }
        }
        let mut field_path = s(v.get("fieldref"), "fieldpath");
        if field_path.is_empty() {
            field_path = s(v.get("fieldref"), "fieldPath");
        }
        if field_path.is_empty() {
            field_path = "metadata.name".into();
        }
        Ok(Var {
            name,
            gvk,
            obj_name: s(objref, "name"),
            namespace: s(objref, "namespace"),
            field_path,
        })
    }
}

/// Ties the vars of one kustomization to the objects they name and adds them to `set`.
pub(crate) fn merge(
    set: &mut Vec<Var>,
    res: &mut [Resource],
    incoming: &[Var],
) -> Result<(), String> {
    for var in incoming {
        let exact_ns = !var.namespace.is_empty() || var.gvk.is_cluster_scoped();
        let want_ns = effective_ns(&var.gvk, &var.namespace).to_string();
        let matched: Vec<usize> = res
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.all_ids().iter().any(|(g, n, ns)| {
                    *g == var.gvk
                        && *n == var.obj_name
                        && (!exact_ns || effective_ns(g, ns) == want_ns)
                })
            })
            .map(|(i, _)| i)
            .collect();
        if matched.len() > 1 {
            return Err(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                var.name
            ));
        }
        if let Some(&i) = matched.first()
            && !res[i].ref_vars.contains(&var.name)
        {
            res[i].ref_vars.push(var.name.clone());
        }
    }
    absorb(set, incoming)
}

/// Adds vars to a set, refusing a name already there.
pub(crate) fn absorb(set: &mut Vec<Var>, incoming: &[Var]) -> Result<(), String> {
    for var in incoming {
        if set.iter().any(|v| v.name == var.name) {
            return Err(format!("var '{}' already encountered", var.name));
        }
        set.push(var.clone());
    }
    Ok(())
}

/// Reads every var's value and substitutes `$(NAME)` in the `varReference` fields.
pub(crate) fn resolve(
    set: &[Var],
    res: &mut [Resource],
    specs: &[FieldSpec],
) -> Result<(), String> {
    if set.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::with_capacity(set.len());
    for var in set {
        let Some(holder) = res.iter().find(|r| r.ref_vars.contains(&var.name)) else {
            return Err(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.name
            ));
        };
        let value = field_value(&holder.obj, &var.field_path).ok_or_else(|| {
            format!(
                "field specified in var '{}' ({}) not found in corresponding resource",
                var.name, var.field_path
            )
        })?;
        values.push((var.name.clone(), value.clone()));
    }
    for r in res.iter_mut() {
        let gvk = r.gvk();
        for spec in specs {
            if !gvk.selected_by(&spec.gvk) {
                continue;
            }
            walk(&mut r.obj, &spec.path, false, &mut |map: &mut Map<
                String,
                Value,
            >,
                                                      key: &str|
             -> Result<
                (),
                String,
            > {
                if let Some(v) = map.get_mut(key) {
                    substitute_node(v, &values)?;
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn substitute_node(v: &mut Value, values: &[(String, Value)]) -> Result<(), String> {
    match v {
        Value::String(s) => *v = expand(s, values),
        Value::Object(m) => {
            for item in m.values_mut() {
                if let Value::String(s) = item {
                    *item = expand(s, values);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(s) = item else {
                    return Err("invalid value type expect a string".into());
                };
                *item = expand(s, values);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The replacement of `$(name)`: a scalar value, or the reference itself.
fn lookup(name: &str, values: &[(String, Value)]) -> Value {
    match values.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
        _ => Value::String(format!("$({name})")),
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Expands `$(NAME)` references in `input`; `$$` is an escaped `$`. A string that is exactly
/// one reference becomes the value itself.
pub(crate) fn expand(input: &str, values: &[(String, Value)]) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance;
            match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    advance = 1;
                }
                b'(' => match rest[1..].find(')') {
                    Some(end) => {
                        let name = &rest[1..1 + end];
                        let mapped = lookup(name, values);
                        if input.len() == name.len() + 3 {
                            return mapped;
                        }
                        out.push_str(&display(&mapped));
                        advance = end + 2;
                    }
                    None => {
                        out.push_str("$(");
                        advance = 1;
                    }
                },
                _ => {
                    // `$` and the next character are kept (the character may be multi-byte).
                    let ch = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..ch]);
                    advance = ch;
                }
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint <= input.len() {
        out.push_str(&input[checkpoint..]);
    }
    Value::String(out)
}

/// Reads a field by a dotted path (`spec.ports[0].port`, `spec.containers[name=a].image`).
fn field_value<'v>(obj: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = obj;
    for part in split_path(path) {
        cur = match part {
            Part::Field(f) => cur.get(f.as_str())?,
            Part::Index(i) => cur.as_array()?.get(i)?,
            Part::Match(k, v) => cur.as_array()?.iter().find(|item| {
                item.get(k.as_str())
                    .and_then(crate::kustomization::scalar_string)
                    .is_some_and(|x| x == v)
            })?,
        };
    }
    Some(cur)
}

enum Part {
    Field(String),
    Index(usize),
    Match(String, String),
}

fn split_path(path: &str) -> Vec<Part> {
    let mut segments = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            '.' if depth == 0 => segments.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    segments.push(cur);
    let mut out = Vec::new();
    for seg in segments.into_iter().filter(|s| !s.is_empty()) {
        let (field, bracket) = match seg.find('[') {
            Some(i) if seg.ends_with(']') => (&seg[..i], Some(&seg[i + 1..seg.len() - 1])),
            _ => (seg.as_str(), None),
        };
        if !field.is_empty() {
            out.push(Part::Field(field.to_string()));
        }
        if let Some(inner) = bracket {
            match (inner.parse::<usize>(), inner.split_once('=')) {
                (Ok(i), _) => out.push(Part::Index(i)),
                (_, Some((k, v))) => out.push(Part::Match(k.to_string(), v.to_string())),
                _ => out.push(Part::Field(inner.to_string())),
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion_like_kustomize() {
        let values = vec![
            ("SVC".to_string(), json!("demo-svc")),
            ("PORT".to_string(), json!(8080)),
            ("MAP".to_string(), json!({"a": 1})),
        ];
        assert_eq!(expand("$(SVC)", &values), json!("demo-svc"));
        assert_eq!(expand("$(PORT)", &values), json!(8080));
        assert_eq!(
            expand("http://$(SVC):$(PORT)/", &values),
            json!("http://demo-svc:8080/")
        );
        assert_eq!(
            expand("$(NOPE) $$(SVC) $x $(", &values),
            json!("$(NOPE) $(SVC) $x $(")
        );
        assert_eq!(expand("$(MAP)", &values), json!("$(MAP)"));
        assert_eq!(expand("end$", &values), json!("end$"));
    }

    #[test]
    fn field_paths() {
        let obj =
            json!({"spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}});
        assert_eq!(field_value(&obj, "spec.ports[1].port"), Some(&json!(81)));
        assert_eq!(
            field_value(&obj, "spec.ports[name=a].port"),
            Some(&json!(80))
        );
        assert_eq!(field_value(&obj, "spec.nothing"), None);
    }
}
