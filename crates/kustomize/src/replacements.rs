//! `replacements:` — copy a field of one object into fields of others.

use serde_json::{Map, Value};

use crate::kustomization::Selector;
use crate::patch::select;
use crate::resource::Resource;

/// Splits a field path at dots outside brackets (`spec.containers.[name=a].image`,
/// `metadata.labels.[app.kubernetes.io/name]`).
fn split(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// Visits every node at `path`; when `create` is set, missing map fields are created.
fn visit(v: &mut Value, path: &[String], create: bool, f: &mut dyn FnMut(&mut Value)) {
    let Some((seg, rest)) = path.split_first() else {
        f(v);
        return;
    };
    if let Some(inner) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        if let Some((k, val)) = inner.split_once('=') {
            if let Value::Array(items) = v {
                let mut found = false;
                for item in items.iter_mut() {
                    let matches = if k.is_empty() {
                        item.as_str() == Some(val)
                    } else {
                        item.get(k)
                            .is_some_and(|x| scalar_text(x).as_deref() == Some(val))
                    };
                    if matches {
                        found = true;
                        visit(item, rest, create, f);
                    }
                }
                if !found && create && !k.is_empty() {
                    let mut m = Map::new();
                    m.insert(k.to_string(), Value::String(val.to_string()));
                    items.push(Value::Object(m));
                    if let Some(last) = items.last_mut() {
                        visit(last, rest, create, f);
                    }
                }
            }
            return;
        }
        // `[key.with.dots]`: a map key.
        return visit_key(v, inner, rest, create, f);
    }
    if seg == "*" {
        match v {
            Value::Array(items) => items.iter_mut().for_each(|i| visit(i, rest, create, f)),
            Value::Object(m) => m.values_mut().for_each(|i| visit(i, rest, create, f)),
            _ => {}
        }
        return;
    }
    if let Value::Array(items) = v {
        if let Ok(i) = seg.parse::<usize>()
            && let Some(item) = items.get_mut(i)
        {
            visit(item, rest, create, f);
        }
        return;
    }
    visit_key(v, seg, rest, create, f)
}

fn visit_key(
    v: &mut Value,
    key: &str,
    rest: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value),
) {
    if v.is_null() && create {
        *v = Value::Object(Map::new());
    }
    let Value::Object(m) = v else { return };
    if !m.contains_key(key) {
        if !create {
            return;
        }
        let child = match rest.first() {
            Some(s) if s.starts_with("[") && s.contains('=') => Value::Array(Vec::new()),
            Some(_) => Value::Object(Map::new()),
            None => Value::Null,
        };
        m.insert(key.to_string(), child);
    }
    if let Some(child) = m.get_mut(key) {
        visit(child, rest, create, f);
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    crate::kustomization::scalar_string(v)
}

fn selector(v: &Value) -> Result<Selector, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("invalid replacement selector: {e}"))
}

fn option_str<'a>(opts: Option<&'a Value>, key: &str) -> Option<&'a str> {
    opts.and_then(|o| o.get(key)).and_then(Value::as_str)
}

fn option_index(opts: Option<&Value>) -> i64 {
    opts.and_then(|o| o.get("index"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Applies replacements in order.
pub(crate) fn apply(res: &mut [Resource], list: &[Value]) -> Result<(), String> {
    for rep in list {
        let source = rep.get("source").ok_or("replacement without a source")?;
        let sel = selector(source)?;
        let found = select(res, &sel)?;
        let idx = match found.as_slice() {
            [i] => *i,
            [] => return Err(format!("replacement source {} not found", describe(&sel))),
            _ => {
                return Err(format!(
                    "multiple matches for replacement source {}",
                    describe(&sel)
                ));
            }
        };
        let field = source
            .get("fieldPath")
            .and_then(Value::as_str)
            .unwrap_or("metadata.name");
        let mut value = None;
        let mut src_obj = res[idx].obj.clone();
        visit(&mut src_obj, &split(field), false, &mut |v| {
            if value.is_none() {
                value = Some(v.clone());
            }
        });
        let Some(mut value) = value else {
            return Err(format!(
                "fieldPath `{field}` is missing for replacement source {}",
                describe(&sel)
            ));
        };
        let sopts = source.get("options");
        if let Some(delim) = option_str(sopts, "delimiter") {
            let text = scalar_text(&value).unwrap_or_default();
            let parts: Vec<&str> = text.split(delim).collect();
            let i = option_index(sopts);
            if i < 0 || i as usize >= parts.len() {
                return Err(format!(
                    "options.index {i} is out of bounds for value {text}"
                ));
            }
            value = Value::String(parts[i as usize].to_string());
        }
        let targets = rep
            .get("targets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for target in &targets {
            let sel = selector(target.get("select").unwrap_or(&Value::Null))?;
            let mut chosen = select(res, &sel)?;
            if let Some(Value::Array(rejects)) = target.get("reject") {
                for rej in rejects {
                    let rsel = selector(rej)?;
                    let rejected = select(res, &rsel)?;
                    chosen.retain(|i| !rejected.contains(i));
                }
            }
            let topts = target.get("options");
            let create = topts
                .and_then(|o| o.get("create"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let paths: Vec<String> = target
                .get("fieldPaths")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            for i in chosen {
                for fp in &paths {
                    let mut hit = false;
                    let mut err = None;
                    visit(&mut res[i].obj, &split(fp), create, &mut |node| {
                        hit = true;
                        if let Some(delim) = option_str(topts, "delimiter") {
                            let cur = scalar_text(node).unwrap_or_default();
                            let mut parts: Vec<String> =
                                cur.split(delim).map(String::from).collect();
                            let idx = option_index(topts);
                            let new = scalar_text(&value).unwrap_or_default();
                            if idx < 0 {
                                parts.insert(0, new);
                            } else if idx as usize >= parts.len() {
                                parts.push(new);
                            } else {
                                parts[idx as usize] = new;
                            }
                            *node = Value::String(parts.join(delim));
                        } else if node.is_object() || node.is_array() || !value.is_object() {
                            *node = value.clone();
                        } else {
                            err = Some(());
                            *node = value.clone();
                        }
                    });
                    if !hit {
                        return Err(format!(
                            "unable to find field \"{fp}\" in replacement target"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn describe(s: &Selector) -> String {
    format!("{}/{}", s.kind, s.name)
}
