//! Name references: after objects are renamed (prefix, suffix, hash, namespace), the fields that
//! refer to them by name (kustomize's `nameReference` configuration) follow.
//!
//! The rules are kustomize's (its `nameref` filter), step by step:
//! - A referrer sees the objects it could refer to: all of them if it is cluster-scoped,
//!   otherwise the cluster-scoped ones, those in its namespace, and (for a RoleBinding) those in
//!   the namespaces of its ServiceAccount subjects.
//! - A reference is a string, or a map with `name` (and maybe `namespace`, which narrows the
//!   candidates to those originally — else currently — in that namespace). The map's `kind` is
//!   not looked at: an RBAC `User` subject named like a renamed ServiceAccount follows it.
//! - Candidates must once have had the referenced name and the referenced kind (for
//!   `roleRef/name`, the roleRef's kind and group), and be in the referrer's namespace unless
//!   cluster-scoped or a ServiceAccount; ties are broken by equal name prefixes and suffixes.
//! - The reference takes the candidate's current name, and (for maps) its namespace if it has
//!   one.

use serde_json::{Map, Value};

use crate::fieldspec::{FieldSpec, TransformerConfig};
use crate::resource::{Gvk, Resource, effective_ns, is_cluster_scoped_kind};

/// A snapshot of an object as a referral candidate or referrer.
struct Snap {
    gvk: Gvk,
    name: String,
    namespace: String,
    /// Earlier ids, oldest first (kustomize's `PrevIds`).
    prev: Vec<(Gvk, String, String)>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Snap {
    fn of(r: &Resource) -> Snap {
        Snap {
            gvk: r.gvk(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            prev: r.prev.clone(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        }
    }

    fn cluster_scoped(&self) -> bool {
        is_cluster_scoped_kind(&self.gvk.kind)
    }

    fn effective_ns(&self) -> &str {
        effective_ns(&self.gvk, &self.namespace)
    }

    /// The namespace of the original id (`None` for cluster-scoped objects).
    fn original_ns(&self) -> Option<&str> {
        let (g, ns) = match self.prev.first() {
            Some((g, _, ns)) => (g, ns.as_str()),
            None => (&self.gvk, self.namespace.as_str()),
        };
        if is_cluster_scoped_kind(&g.kind) {
            None
        } else {
            Some(effective_ns(g, ns))
        }
    }

    /// The kind of the original id (with the current group and version).
    fn original_gvk(&self) -> Gvk {
        match self.prev.first() {
            Some((g, _, _)) => Gvk {
                group: self.gvk.group.clone(),
                version: self.gvk.version.clone(),
                kind: g.kind.clone(),
            },
            None => self.gvk.clone(),
        }
    }
}

/// Updates every name reference in `res` to the current names of the objects referred to.
pub(crate) fn fix(res: &mut [Resource], config: &TransformerConfig) -> Result<(), String> {
    if res.iter().all(|r| r.prev.is_empty()) {
        // Nothing was renamed: no reference can change.
        return Ok(());
    }
    let snaps: Vec<Snap> = res.iter().map(Snap::of).collect();
    for (i, r) in res.iter_mut().enumerate() {
        let referrer = &snaps[i];
        let org_gvk = referrer.original_gvk();
        let mut subset: Option<Vec<&Snap>> = None;
        for backref in &config.name_reference {
            for spec in &backref.field_specs {
                if !org_gvk.selected_by(&spec.gvk) {
                    continue;
                }
                if subset.is_none() {
                    subset = Some(referable_by(referrer, &r.obj, &snaps)?);
                }
                let cands = subset.as_deref().unwrap_or_default();
                let ctx = Ctx {
                    referrer,
                    obj_roleref: role_ref_gvk(&r.obj, spec),
                    target: &backref.gvk,
                };
                update_path(&mut r.obj, &spec.path, cands, &ctx).map_err(|e| {
                    format!(
                        "updating name reference in '{}' field of {}/{}: {e}",
                        spec.path.join("/"),
                        referrer.gvk.kind,
                        referrer.name
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// The objects `referrer` could refer to (kustomize's `SubsetThatCouldBeReferencedByResource`).
fn referable_by<'a>(
    referrer: &Snap,
    obj: &Value,
    snaps: &'a [Snap],
) -> Result<Vec<&'a Snap>, String> {
    if referrer.cluster_scoped() {
        return Ok(snaps.iter().collect());
    }
    let mut binding_namespaces: Vec<&str> = Vec::new();
    if referrer.gvk.kind == "RoleBinding"
        && let Some(Value::Array(subjects)) = obj.get("subjects")
    {
        for s in subjects {
            if let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind"))
                && kind.as_str() == Some("ServiceAccount")
            {
                match ns.as_str() {
                    Some(ns) => binding_namespaces.push(ns),
                    None => {
                        return Err(format!(
                            "invalid input: namespace is blank for RoleBinding {}",
                            referrer.name
                        ));
                    }
                }
            }
        }
    }
    Ok(snaps
        .iter()
        .filter(|t| {
            t.cluster_scoped()
                || t.effective_ns() == referrer.effective_ns()
                || binding_namespaces.contains(&t.namespace.as_str())
        })
        .collect())
}

/// For a `roleRef/name` spec: the group and kind the roleRef names.
fn role_ref_gvk(obj: &Value, spec: &FieldSpec) -> Option<Gvk> {
    let n = spec.path.len();
    if n < 2 || spec.path[n - 2] != "roleRef" || spec.path[n - 1] != "name" {
        return None;
    }
    let rr = obj.get("roleRef")?;
    Some(Gvk {
        group: rr.get("apiGroup")?.as_str()?.into(),
        version: String::new(),
        kind: rr.get("kind")?.as_str()?.into(),
    })
}

struct Ctx<'a> {
    referrer: &'a Snap,
    obj_roleref: Option<Gvk>,
    target: &'a Gvk,
}

fn update_path(v: &mut Value, path: &[String], cands: &[&Snap], ctx: &Ctx) -> Result<(), String> {
    if let Value::Array(items) = v {
        for item in items {
            update_path(item, path, cands, ctx)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = path.split_first() else {
        return set(v, cands, ctx);
    };
    let key = first.strip_suffix("[]").unwrap_or(first);
    if let Some(child) = v.get_mut(key) {
        update_path(child, rest, cands, ctx)?;
    }
    Ok(())
}

fn set(v: &mut Value, cands: &[&Snap], ctx: &Ctx) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Object(map) => set_mapping(map, cands, ctx),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) => set_mapping(map, cands, ctx)?,
                    Value::Array(_) | Value::Null => {}
                    scalar => set_scalar(scalar, cands, ctx)?,
                }
            }
            Ok(())
        }
        scalar => set_scalar(scalar, cands, ctx),
    }
}

fn text(v: &Value) -> String {
    crate::kustomization::scalar_string(v).unwrap_or_default()
}

fn set_scalar(v: &mut Value, cands: &[&Snap], ctx: &Ctx) -> Result<(), String> {
    let old = text(v);
    let same = |l: &[&Snap]| l.iter().all(|c| c.name == l[0].name);
    if let Some(c) = select(&old, cands.to_vec(), ctx, &same)?
        && c.name != old
    {
        *v = Value::String(c.name.clone());
    }
    Ok(())
}

fn set_mapping(map: &mut Map<String, Value>, cands: &[&Snap], ctx: &Ctx) -> Result<(), String> {
    let Some(name) = map.get("name") else {
        return Err("path config error; no 'name' field in node".into());
    };
    let old = text(name);
    let cands: Vec<&Snap> = match map.get("namespace") {
        None => cands.to_vec(),
        Some(ns) => {
            let ns = text(ns);
            let by_original: Vec<&Snap> = cands
                .iter()
                .copied()
                .filter(|c| c.original_ns() == Some(ns.as_str()))
                .collect();
            if by_original.is_empty() {
                cands
                    .iter()
                    .copied()
                    .filter(|c| !c.cluster_scoped() && c.effective_ns() == ns)
                    .collect()
            } else {
                by_original
            }
        }
    };
    let same = |l: &[&Snap]| {
        l.iter()
            .all(|c| c.name == l[0].name && c.namespace == l[0].namespace)
    };
    let Some(c) = select(&old, cands, ctx, &same)? else {
        return Ok(());
    };
    if c.name == old && c.namespace.is_empty() {
        return Ok(());
    }
    map.insert("name".into(), Value::String(c.name.clone()));
    if !c.namespace.is_empty() {
        map.insert("namespace".into(), Value::String(c.namespace.clone()));
    }
    Ok(())
}

/// kustomize's `selectReferral`.
fn select<'a>(
    old: &str,
    mut list: Vec<&'a Snap>,
    ctx: &Ctx,
    identical: &dyn Fn(&[&Snap]) -> bool,
) -> Result<Option<&'a Snap>, String> {
    list.retain(|c| c.prev.iter().any(|(_, n, _)| n == old));
    list.retain(|c| c.prev.iter().any(|(g, _, _)| g.selected_by(ctx.target)));
    if let Some(rg) = &ctx.obj_roleref {
        list.retain(|c| c.prev.iter().any(|(g, _, _)| g.selected_by(rg)));
    }
    if !ctx.referrer.cluster_scoped() {
        list.retain(|c| {
            c.cluster_scoped()
                || c.gvk.kind == "ServiceAccount"
                || c.effective_ns() == ctx.referrer.effective_ns()
        });
    }
    if list.len() == 1 {
        return Ok(Some(list[0]));
    }
    list.retain(|c| affixes_equal(c, ctx.referrer, true));
    if list.len() > 1 {
        list.retain(|c| affixes_equal(c, ctx.referrer, false));
    }
    match list.len() {
        0 => Ok(None),
        1 => Ok(Some(list[0])),
        _ if identical(&list) => Ok(Some(list[0])),
        _ => {
            let ids: Vec<String> = list
                .iter()
                .map(|c| format!("{}/{}.{}", c.gvk.kind, c.name, c.namespace))
                .collect();
            Err(format!(
                "found multiple possible referrals for {old:?}: {}",
                ids.join(", ")
            ))
        }
    }
}

/// Whether one list is the ending of the other (kustomize's `SameEndingSubSlice`).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() > b.len() { (b, a) } else { (a, b) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

fn affixes_equal(c: &Snap, r: &Snap, allow_empty: bool) -> bool {
    let ok = |a: &[String], b: &[String]| {
        (allow_empty && (a.is_empty() || b.is_empty())) || same_ending(a, b)
    };
    ok(&c.prefixes, &r.prefixes) && ok(&c.suffixes, &r.suffixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(same_ending(&s(&["a", "b"]), &s(&["b"])));
        assert!(!same_ending(&s(&["a", "b"]), &s(&["a"])));
        assert!(same_ending(&s(&[]), &s(&[])));
        assert!(!same_ending(&s(&[]), &s(&["a"])));
    }
}
