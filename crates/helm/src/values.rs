//! Helm's values: coalescing chart defaults with user values (`null` deletes a default),
//! globals, dependency conditions/tags/aliases, `import-values`, `-f` merging and `--set` parsing.

use std::cell::RefCell;
use std::rc::Rc;

use crate::chart::Chart;
use crate::semver::{Constraints, Version};
use crate::value::{Map, Value};

/// Values that cannot be combined.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ValuesError {
    /// A subchart's values are not a map.
    #[error("type mismatch on {key}: {found}")]
    TypeMismatch {
        /// The key.
        key: String,
        /// What was found.
        found: String,
    },
    /// A `--set` expression is malformed.
    #[error("failed parsing --set data {expr:?}: {message}")]
    Set {
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn map_rc(v: &Value) -> Option<Rc<RefCell<Map>>> {
    match v {
        Value::Map(m) => Some(m.clone()),
        _ => None,
    }
}

/// Deep copy of a map.
pub fn copy_map(m: &Map) -> Map {
    m.iter().map(|(k, v)| (k.clone(), v.deep_copy())).collect()
}

fn clean_nil(m: &mut Map) {
    m.retain(|_, v| !v.is_nil());
    for v in m.values() {
        if let Value::Map(sub) = v {
            clean_nil(&mut sub.borrow_mut());
        }
    }
}

/// `coalesceTablesFullKey`: fills `dst` from `src` (dst wins); with `merge` false a `nil` in
/// dst deletes the key.
pub fn coalesce_tables(dst: &mut Map, mut src: Map, merge: bool) {
    let src_non_nil: std::collections::HashSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_nil())
        .map(|(k, _)| k.clone())
        .collect();
    for (k, v) in dst.iter() {
        if v.is_nil() {
            src.insert(k.clone(), Value::Nil);
        }
    }
    for (key, val) in src {
        match dst.get(&key) {
            Some(dv) if !merge && dv.is_nil() && src_non_nil.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => {
                if let (Some(d), Some(s)) = (map_rc(dv), map_rc(&val)) {
                    if Rc::ptr_eq(&d, &s) {
                        continue;
                    }
                    let sm = s.borrow().clone();
                    coalesce_tables(&mut d.borrow_mut(), sm, merge);
                }
            }
        }
    }
}

fn child_merge_true(c: &Chart, key: &str, merge: bool) -> bool {
    c.subcharts.iter().any(|s| s.name() == key) || merge
}

fn coalesce_values(c: &Chart, v: &mut Map, merge: bool) {
    let vc = copy_map(&c.values);
    for (key, val) in vc {
        if let Some(value) = v.get(&key) {
            if value.is_nil() && !merge {
                v.remove(&key);
            } else if let Some(dest) = map_rc(value)
                && let Some(src) = map_rc(&val)
            {
                let m2 = child_merge_true(c, &key, merge);
                let mut s = src.borrow().clone();
                if !m2 {
                    clean_nil(&mut s);
                }
                coalesce_tables(&mut dest.borrow_mut(), s, m2);
            }
        } else {
            if !merge {
                if val.is_nil() {
                    continue;
                }
                if let Value::Map(sub) = &val {
                    clean_nil(&mut sub.borrow_mut());
                }
            }
            v.insert(key, val);
        }
    }
}

fn coalesce_globals(dest: &mut Map, src: &Map) {
    let dg = match dest.get("global") {
        None => Rc::new(RefCell::new(Map::new())),
        Some(Value::Map(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m.borrow().clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        if let Value::Map(vm) = &val {
            let vv = Rc::new(RefCell::new(vm.borrow().clone()));
            let existing = dg.borrow().get(&key).cloned();
            match existing {
                None => {
                    dg.borrow_mut().insert(key, Value::Map(vv));
                }
                Some(Value::Map(destv)) => {
                    let dm = destv.borrow().clone();
                    coalesce_tables(&mut vv.borrow_mut(), dm, true);
                    dg.borrow_mut().insert(key, Value::Map(vv));
                }
                Some(_) => {}
            }
        } else {
            let is_tab = dg.borrow().get(&key).is_some_and(is_table);
            if !is_tab {
                dg.borrow_mut().insert(key, val);
            }
        }
    }
    dest.insert("global".into(), Value::Map(dg));
}

fn coalesce_deps(c: &Chart, dest: &mut Map, merge: bool) -> Result<(), ValuesError> {
    for sub in &c.subcharts {
        let name = sub.name();
        match dest.get(&name) {
            None => {
                dest.insert(name.clone(), Value::map(Map::new()));
            }
            Some(v) if !is_table(v) => {
                return Err(ValuesError::TypeMismatch {
                    key: name,
                    found: v.to_go_string(),
                });
            }
            _ => {}
        }
        let Some(dv) = dest.get(&name).and_then(map_rc) else {
            continue;
        };
        let mut inner = dv.borrow().clone();
        coalesce_globals(&mut inner, dest);
        coalesce(sub, &mut inner, merge)?;
        *dv.borrow_mut() = inner;
    }
    Ok(())
}

/// `coalesce`: the chart's defaults (and its subcharts', under their names) under `dest`.
pub fn coalesce(c: &Chart, dest: &mut Map, merge: bool) -> Result<(), ValuesError> {
    coalesce_values(c, dest, merge);
    coalesce_deps(c, dest, merge)
}

/// `CoalesceValues(chart, vals)` on a copy of `vals`.
pub fn coalesce_values_copy(c: &Chart, vals: &Map) -> Result<Map, ValuesError> {
    let mut d = copy_map(vals);
    coalesce(c, &mut d, false)?;
    Ok(d)
}

fn path_value(m: &Map, path: &str) -> Option<Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, init) = parts.split_last()?;
    let mut cur = m.clone();
    for p in init {
        let next = cur.get(*p)?.as_map()?.clone();
        cur = next;
    }
    cur.get(*last).cloned()
}

fn table(m: &Map, path: &str) -> Option<Map> {
    let mut cur = m.clone();
    for p in path.split('.') {
        let next = cur.get(p)?.as_map()?.clone();
        cur = next;
    }
    Some(cur)
}

fn compatible(constraint: &str, version: &str) -> bool {
    match (Constraints::parse(constraint), Version::parse(version)) {
        (Ok(c), Ok(v)) => c.matches(&v),
        _ => false,
    }
}

/// `ProcessDependencies`: aliases, conditions and tags, then import-values.
pub fn process_dependencies(c: &mut Chart, vals: &Map) -> Result<(), ValuesError> {
    process_enabled(c, vals, "")?;
    process_import_values(c)
}

fn process_enabled(c: &mut Chart, v: &Map, path: &str) -> Result<(), ValuesError> {
    if c.dependencies.is_empty() {
        return Ok(());
    }
    let mut chart_deps: Vec<Chart> = c
        .subcharts
        .iter()
        .filter(|s| {
            !c.dependencies
                .iter()
                .any(|r| s.name() == r.name && compatible(&r.version, &s.version()))
        })
        .cloned()
        .collect();
    for req in &mut c.dependencies {
        if let Some(sc) = c
            .subcharts
            .iter()
            .find(|s| s.name() == req.name && compatible(&req.version, &s.version()))
        {
            let mut copy = sc.clone();
            if !req.alias.is_empty() {
                copy.metadata
                    .insert("name".into(), Value::str(req.alias.as_str()));
            }
            chart_deps.push(copy);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.subcharts = chart_deps;
    for r in &mut c.dependencies {
        r.enabled = true;
    }
    let cvals = coalesce_values_copy(c, v)?;
    // tags
    if let Some(tags) = cvals
        .get("tags")
        .and_then(|t| t.as_map().map(|m| m.clone()))
    {
        for r in &mut c.dependencies {
            let (mut has_true, mut has_false) = (false, false);
            for k in &r.tags {
                if let Some(Value::Bool(b)) = tags.get(k) {
                    if *b {
                        has_true = true;
                    } else {
                        has_false = true;
                    }
                }
            }
            r.enabled = has_true || !has_false;
        }
    }
    // conditions
    for r in &mut c.dependencies {
        for cond in r.condition.trim().split(',') {
            let cond = cond.trim();
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{cond}")) {
                r.enabled = b;
                break;
            }
        }
    }
    let disabled: Vec<String> = c
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.subcharts.retain(|s| !disabled.contains(&s.name()));
    c.dependencies.retain(|r| !disabled.contains(&r.name));
    for t in &mut c.subcharts {
        let sub = format!("{path}{}.", t.name());
        process_enabled(t, &cvals, &sub)?;
    }
    Ok(())
}

fn path_to_map(path: &str, data: Map) -> Map {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for p in path.split('.').rev() {
        let mut m = Map::new();
        m.insert(p.to_string(), Value::map(cur));
        cur = m;
    }
    cur
}

fn process_import_values(c: &mut Chart) -> Result<(), ValuesError> {
    for d in &mut c.subcharts {
        process_import_values(d)?;
    }
    if c.dependencies.is_empty() {
        return Ok(());
    }
    let mut cvals = Map::new();
    coalesce(c, &mut cvals, true)?;
    let mut b = Map::new();
    for r in &mut c.dependencies {
        let mut out = Vec::new();
        for iv in &r.import_values {
            match iv {
                Value::Map(m) => {
                    let m = m.borrow();
                    let child = m
                        .get("child")
                        .map(|v| v.to_go_string())
                        .unwrap_or_else(|| "<nil>".into());
                    let parent = m
                        .get("parent")
                        .map(|v| v.to_go_string())
                        .unwrap_or_else(|| "<nil>".into());
                    let mut o = Map::new();
                    o.insert("child".into(), Value::str(child.as_str()));
                    o.insert("parent".into(), Value::str(parent.as_str()));
                    out.push(Value::map(o));
                    if let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) {
                        coalesce_tables_merge_into(&mut b, path_to_map(&parent, copy_map(&vv)));
                    }
                }
                Value::Str(s) => {
                    let child = format!("exports.{s}");
                    let mut o = Map::new();
                    o.insert("child".into(), Value::str(child.as_str()));
                    o.insert("parent".into(), Value::str("."));
                    out.push(Value::map(o));
                    if let Some(vm) = table(&cvals, &format!("{}.{child}", r.name)) {
                        coalesce_tables_merge_into(&mut b, copy_map(&vm));
                    }
                }
                _ => {}
            }
        }
        r.import_values = out;
    }
    let mut merged = copy_map(&cvals);
    coalesce_tables(&mut merged, b, true);
    c.values = merged;
    Ok(())
}

fn coalesce_tables_merge_into(b: &mut Map, src: Map) {
    coalesce_tables(b, src, true);
}

/// Merges `-f` files: later maps override, maps merge recursively (`mergeMaps`).
pub fn merge_maps(base: &mut Map, over: &Map) {
    for (k, v) in over {
        if let Value::Map(om) = v
            && let Some(Value::Map(bm)) = base.get(k)
        {
            let bm = bm.clone();
            let om = om.borrow().clone();
            merge_maps(&mut bm.borrow_mut(), &om);
            continue;
        }
        base.insert(k.clone(), v.clone());
    }
}

/// Parses one `--set` argument (`a.b=c,d[0]=e`) into `into`, as Helm's strvals does: integers
/// become int64, `true`/`false` booleans, `null` nil.
pub fn parse_set(expr: &str, into: &mut Map, as_string: bool) -> Result<(), ValuesError> {
    let err = |m: &str| ValuesError::Set {
        expr: expr.to_string(),
        message: m.to_string(),
    };
    // split on unescaped commas, but not inside {...}
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = expr.chars().peekable();
    let mut braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push('\\');
                    cur.push(n);
                }
            }
            '{' => {
                braces += 1;
                cur.push(c);
            }
            '}' => {
                braces = braces.saturating_sub(1);
                cur.push(c);
            }
            ',' if braces == 0 => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = split_unescaped(&part, '=') else {
            return Err(err("key has no value"));
        };
        let one = |v: &str| {
            let v = unescape(v);
            if as_string { Value::str(v) } else { typed(&v) }
        };
        // `name={a,b,c}` sets a list
        let value = match val.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            Some(inner) => {
                let mut items = Vec::new();
                let mut item = String::new();
                let mut it = inner.chars();
                while let Some(c) = it.next() {
                    match c {
                        '\\' => {
                            item.push('\\');
                            if let Some(n) = it.next() {
                                item.push(n);
                            }
                        }
                        ',' => items.push(one(&std::mem::take(&mut item))),
                        c => item.push(c),
                    }
                }
                if !item.is_empty() || !items.is_empty() {
                    items.push(one(&item));
                }
                Value::list(items)
            }
            None => one(&val),
        };
        let path = key_path(&key).map_err(|m| err(&m))?;
        set_path(into, &path, value).map_err(|m| err(&m))?;
    }
    Ok(())
}

fn split_unescaped(s: &str, sep: char) -> Option<(String, String)> {
    let mut esc = false;
    for (i, c) in s.char_indices() {
        if esc {
            esc = false;
            continue;
        }
        if c == '\\' {
            esc = true;
            continue;
        }
        if c == sep {
            return Some((s[..i].to_string(), s[i + 1..].to_string()));
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

fn typed(v: &str) -> Value {
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if v == "0" {
        return Value::Int(0);
    }
    if !v.starts_with('0')
        && let Ok(i) = v.parse::<i64>()
    {
        return Value::Int(i);
    }
    Value::str(v)
}

#[derive(Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn key_path(key: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => {
                if !cur.is_empty() {
                    out.push(Seg::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    out.push(Seg::Key(std::mem::take(&mut cur)));
                }
                let mut n = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    n.push(d);
                }
                out.push(Seg::Index(
                    n.parse().map_err(|_| format!("invalid list index {n:?}"))?,
                ));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(Seg::Key(cur));
    }
    Ok(out)
}

fn set_path(m: &mut Map, path: &[Seg], v: Value) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    let Seg::Key(k) = first else {
        return Err("list index without a key".into());
    };
    if rest.is_empty() {
        m.insert(k.clone(), v);
        return Ok(());
    }
    let existing = m.get(k).cloned().unwrap_or_default();
    let nv = set_in(existing, rest, v)?;
    m.insert(k.clone(), nv);
    Ok(())
}

fn set_in(cur: Value, path: &[Seg], v: Value) -> Result<Value, String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(v);
    };
    match first {
        Seg::Key(k) => {
            let mut m = cur.as_map().map(|m| m.clone()).unwrap_or_default();
            let existing = m.get(k).cloned().unwrap_or_default();
            m.insert(k.clone(), set_in(existing, rest, v)?);
            Ok(Value::map(m))
        }
        Seg::Index(i) => {
            let mut l = match &cur {
                Value::List(l) => l.to_vec(),
                _ => Vec::new(),
            };
            while l.len() <= *i {
                l.push(Value::Nil);
            }
            let existing = l[*i].clone();
            l[*i] = set_in(existing, rest, v)?;
            Ok(Value::list(l))
        }
    }
}
