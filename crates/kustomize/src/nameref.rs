//! Name references: after objects are renamed (prefix, suffix, hash, namespace), the fields that
//! refer to them by name (kustomize's `nameReference` configuration) follow.

use serde_json::Value;

use crate::fieldspec::{NameBackRef, TransformerConfig};
use crate::resource::{Gvk, Resource};

/// A snapshot of a possible referral target.
struct Candidate {
    gvk: Gvk,
    prev: Vec<(Gvk, String, String)>,
    name: String,
    namespace: String,
    cluster_scoped: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// Updates every name reference in `res` to the current names of the objects referred to.
pub(crate) fn fix(res: &mut [Resource], config: &TransformerConfig) -> Result<(), String> {
    let candidates: Vec<Candidate> = res
        .iter()
        .filter(|r| !r.prev.is_empty())
        .map(|r| Candidate {
            gvk: r.gvk(),
            prev: r.prev.clone(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            cluster_scoped: r.gvk().is_cluster_scoped(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let gvk = r.gvk();
        let ctx = Referrer {
            namespace: r.namespace().to_string(),
            cluster_scoped: gvk.is_cluster_scoped(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        };
        for backref in &config.name_reference {
            let cands: Vec<&Candidate> = candidates
                .iter()
                .filter(|c| c.prev.iter().any(|(g, _, _)| g.selected_by(&backref.gvk)))
                .collect();
            if cands.is_empty() {
                continue;
            }
            for spec in &backref.field_specs {
                if !gvk.selected_by(&spec.gvk) {
                    continue;
                }
                let role_ref_gvk = if spec.path.last().is_some_and(|p| p == "name")
                    && spec.path.first().is_some_and(|p| p == "roleRef")
                {
                    r.obj.get("roleRef").map(|rr| Gvk {
                        group: rr
                            .get("apiGroup")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .into(),
                        version: String::new(),
                        kind: rr.get("kind").and_then(Value::as_str).unwrap_or("").into(),
                    })
                } else {
                    None
                };
                let cands: Vec<&Candidate> = cands
                    .iter()
                    .copied()
                    .filter(|c| {
                        role_ref_gvk
                            .as_ref()
                            .is_none_or(|rg| c.prev.iter().any(|(g, _, _)| g.kind == rg.kind))
                    })
                    .collect();
                update_path(&mut r.obj, &spec.path, &cands, &ctx, backref)?;
            }
        }
    }
    Ok(())
}

struct Referrer {
    namespace: String,
    cluster_scoped: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn update_path(
    v: &mut Value,
    path: &[String],
    cands: &[&Candidate],
    ctx: &Referrer,
    backref: &NameBackRef,
) -> Result<(), String> {
    if let Value::Array(items) = v {
        for item in items {
            update_path(item, path, cands, ctx, backref)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = path.split_first() else {
        return update_value(v, cands, ctx, backref);
    };
    let key = first.strip_suffix("[]").unwrap_or(first);
    if let Some(child) = v.get_mut(key) {
        update_path(child, rest, cands, ctx, backref)?;
    }
    Ok(())
}

fn update_value(
    v: &mut Value,
    cands: &[&Candidate],
    ctx: &Referrer,
    backref: &NameBackRef,
) -> Result<(), String> {
    match v {
        Value::String(old) => {
            if let Some(c) = select(old, None, cands, ctx)? {
                *v = Value::String(c.name.clone());
            }
        }
        Value::Array(items) => {
            for item in items {
                update_value(item, cands, ctx, backref)?;
            }
        }
        Value::Object(map) => {
            // A map reference ({kind, name, namespace}): RBAC subjects, webhook services.
            if let Some(kind) = map.get("kind").and_then(Value::as_str)
                && kind != backref.gvk.kind
            {
                return Ok(());
            }
            let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
                return Ok(());
            };
            let old_ns = map
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(c) = select(&old, old_ns.as_deref(), cands, ctx)? {
                map.insert("name".into(), Value::String(c.name.clone()));
                if old_ns.is_some() || !c.namespace.is_empty() {
                    map.insert("namespace".into(), Value::String(c.namespace.clone()));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn select<'a>(
    old: &str,
    old_ns: Option<&str>,
    cands: &[&'a Candidate],
    ctx: &Referrer,
) -> Result<Option<&'a Candidate>, String> {
    let mut list: Vec<&Candidate> = cands
        .iter()
        .copied()
        .filter(|c| {
            c.prev.iter().any(|(_, n, s)| {
                n == old
                    && old_ns.is_none_or(|ns| {
                        let s = if s.is_empty() { "default" } else { s };
                        let ns = if ns.is_empty() { "default" } else { ns };
                        s == ns
                    })
            })
        })
        .collect();
    if old_ns.is_none() && !ctx.cluster_scoped {
        list.retain(|c| {
            c.cluster_scoped
                || c.gvk.kind == "ServiceAccount"
                || ns_eq(&c.namespace, &ctx.namespace)
        });
    }
    if list.len() == 1 {
        return Ok(Some(list[0]));
    }
    let same_affixes = |c: &&Candidate, allow_empty: bool| {
        let ok = |a: &Vec<String>, b: &Vec<String>| {
            (allow_empty && (a.is_empty() || b.is_empty())) || a == b
        };
        ok(&c.prefixes, &ctx.prefixes) && ok(&c.suffixes, &ctx.suffixes)
    };
    list.retain(|c| same_affixes(c, true));
    if list.len() > 1 {
        list.retain(|c| same_affixes(c, false));
    }
    match list.len() {
        0 => Ok(None),
        1 => Ok(Some(list[0])),
        _ => {
            if list.iter().all(|c| c.name == list[0].name) {
                return Ok(Some(list[0]));
            }
            let ids: Vec<String> = list
                .iter()
                .map(|c| format!("{}/{}", c.gvk.kind, c.name))
                .collect();
            Err(format!(
                "found multiple possible referrals for {old:?}: {}",
                ids.join(", ")
            ))
        }
    }
}

fn ns_eq(a: &str, b: &str) -> bool {
    let a = if a.is_empty() { "default" } else { a };
    let b = if b.is_empty() { "default" } else { b };
    a == b
}
