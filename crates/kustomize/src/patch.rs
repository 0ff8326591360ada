//! Patches: strategic merge ([`crate::smp`], list merge keys from the OpenAPI schema) and
//! JSON 6902; target selection by id, labels and annotations.

use keelson_manifest::Dialect;
use serde_json::{Map, Value};

use crate::kustomization::Selector;
use crate::openapi::OpenApi;
use crate::resource::{Gvk, Resource, effective_ns, id_string};

/// Applies a `patchesStrategicMerge` document (or a `patches:` entry without target): it patches
/// the single object with its own id.
pub(crate) fn apply_smp_untargeted(
    api: &OpenApi,
    res: &mut Vec<Resource>,
    patch: &Value,
    options: PatchOptions,
) -> Result<(), String> {
    let gvk = Gvk::of(patch);
    let name = crate::resource::name_of(patch).to_string();
    let ns = crate::resource::ns_of(patch).to_string();
    let matches: Vec<usize> = res
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.all_ids().iter().any(|(g, n, s)| {
                g.kind == gvk.kind
                    && g.group == gvk.group
                    && (gvk.version.is_empty() || g.version == gvk.version)
                    && *n == name
                    && effective_ns(g, s) == effective_ns(&gvk, &ns)
            })
        })
        .map(|(i, _)| i)
        .collect();
    let id = id_string(&gvk, &name, &ns);
    match matches.as_slice() {
        [] => Err(format!(
            "no resource matches strategic merge patch \"{id}\""
        )),
        [i] => {
            let i = *i;
            let mut patch = patch.clone();
            // The target keeps its own (possibly renamed) id and its apiVersion.
            if let Value::Object(p) = &mut patch
                && let Some(av) = res[i].obj.get("apiVersion")
            {
                p.insert("apiVersion".into(), av.clone());
            }
            if smp_resource(api, &mut res[i], &patch, options)? {
                res.remove(i);
            }
            Ok(())
        }
        _ => Err(format!(
            "multiple matches for Id {id}; failed to find unique target for patch"
        )),
    }
}

/// `options` of a `patches:` entry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PatchOptions {
    /// The patch may rename its target.
    pub allow_name_change: bool,
    /// The patch may change its target's kind.
    pub allow_kind_change: bool,
}

impl PatchOptions {
    /// Reads `options: {allowNameChange, allowKindChange}`.
    pub(crate) fn from_value(v: Option<&Value>) -> PatchOptions {
        let flag = |k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_bool) == Some(true);
        PatchOptions {
            allow_name_change: flag("allowNameChange"),
            allow_kind_change: flag("allowKindChange"),
        }
    }
}

/// Applies a strategic merge patch to one resource; returns true if the resource is deleted.
/// The resource keeps its kind, name and namespace unless the options allow a change.
fn smp_resource(
    api: &OpenApi,
    r: &mut Resource,
    patch: &Value,
    options: PatchOptions,
) -> Result<bool, String> {
    let before = (r.gvk(), r.name().to_string(), r.namespace().to_string());
    let kind = before.0.kind.clone();
    let Some(mut merged) = crate::smp::merge(api, &r.obj, patch).map_err(|e| {
        format!(
            "failed to apply strategic merge patch to {}: {e}",
            id_string(&before.0, &before.1, &before.2)
        )
    })?
    else {
        return Ok(true);
    };
    if !options.allow_kind_change
        && let Value::Object(m) = &mut merged
    {
        m.insert("kind".into(), Value::String(kind));
    }
    if !options.allow_name_change {
        crate::resource::set_meta(&mut merged, "name", &before.1);
    }
    if before.2.is_empty() {
        if let Some(Value::Object(meta)) = merged.get_mut("metadata") {
            meta.shift_remove("namespace");
        }
    } else {
        crate::resource::set_meta(&mut merged, "namespace", &before.2);
    }
    r.obj = merged;
    if r.name() != before.1 || r.gvk() != before.0 {
        r.prev.push(before);
    }
    Ok(false)
}

/// Applies a `patches:` entry (strategic merge or JSON 6902) to the selected objects.
pub(crate) fn apply_patch(
    api: &OpenApi,
    res: &mut Vec<Resource>,
    text: &str,
    target: Option<&Selector>,
    options: Option<&Value>,
) -> Result<(), String> {
    let options = PatchOptions::from_value(options);
    // A strategic merge patch is merged as kyaml nodes (folded scalars read as kyaml reads
    // them back); JSON 6902 operations are converted to JSON directly, without that round trip.
    let mut docs = keelson_manifest::parse_documents_as(text, Dialect::Kyaml)
        .map_err(|e| format!("invalid patch: {e}"))?;
    let is_json6902 = matches!(docs.first(), Some(Value::Array(_)));
    if is_json6902 {
        docs =
            keelson_manifest::parse_documents(text).map_err(|e| format!("invalid patch: {e}"))?;
    }
    if is_json6902 {
        let Some(target) = target else {
            return Err("a JSON 6902 patch must specify a target".into());
        };
        let ops: json_patch::Patch = serde_json::from_value(docs[0].clone())
            .map_err(|e| format!("invalid JSON 6902 patch: {e}"))?;
        for i in select(res, target)? {
            let before = (
                res[i].gvk(),
                res[i].name().to_string(),
                res[i].namespace().to_string(),
            );
            json_patch::patch(&mut res[i].obj, &ops).map_err(|e| {
                format!(
                    "failed to apply JSON 6902 patch to {}: {e}",
                    id_string(&before.0, &before.1, &before.2)
                )
            })?;
            // kustomize decodes the patched object with encoding/json: every number a float.
            keelson_manifest::json_float_numbers(&mut res[i].obj);
            if res[i].name() != before.1 || res[i].gvk() != before.0 {
                res[i].prev.push(before);
            }
        }
        return Ok(());
    }
    for doc in docs {
        match target {
            None => apply_smp_untargeted(api, res, &doc, options)?,
            Some(target) => {
                let selected = select(res, target)?;
                let mut deleted = Vec::new();
                for i in selected {
                    // As kustomize: the patch takes the target's apiVersion (its kind and
                    // name are reset after the merge unless the options allow a change).
                    let mut patch = doc.clone();
                    if let Value::Object(p) = &mut patch
                        && let Some(v) = res[i].obj.get("apiVersion")
                    {
                        p.insert("apiVersion".into(), v.clone());
                    }
                    if smp_resource(api, &mut res[i], &patch, options)? {
                        deleted.push(i);
                    }
                }
                for i in deleted.into_iter().rev() {
                    res.remove(i);
                }
            }
        }
    }
    Ok(())
}

fn anchored(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("invalid target regex {pattern:?}: {e}"))
}

/// The indices of the objects a selector picks.
pub(crate) fn select(res: &[Resource], s: &Selector) -> Result<Vec<usize>, String> {
    let name_re = if s.name.is_empty() {
        None
    } else {
        Some(anchored(&s.name)?)
    };
    let ns_re = if s.namespace.is_empty() {
        None
    } else {
        Some(anchored(&s.namespace)?)
    };
    let labels = parse_selector(&s.label_selector)?;
    let annos = parse_selector(&s.annotation_selector)?;
    let sel_gvk = Gvk {
        group: s.group.clone(),
        version: s.version.clone(),
        kind: s.kind.clone(),
    };
    let mut out = Vec::new();
    for (i, r) in res.iter().enumerate() {
        let gvk = r.gvk();
        if !gvk.selected_by(&sel_gvk) {
            continue;
        }
        if let Some(re) = &name_re
            && !re.is_match(&r.orig.1)
            && !re.is_match(r.name())
        {
            continue;
        }
        if let Some(re) = &ns_re
            && !re.is_match(effective_ns(&r.orig.0, &r.orig.2))
            && !re.is_match(effective_ns(&gvk, r.namespace()))
        {
            continue;
        }
        if !matches_selector(&labels, r.labels()) || !matches_selector(&annos, r.annotations()) {
            continue;
        }
        out.push(i);
    }
    Ok(out)
}

#[derive(Debug)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Parses a Kubernetes label selector (`a=b,c!=d,e in (f,g),!h`).
fn parse_selector(s: &str) -> Result<Vec<Req>, String> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    for part in parts {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let set = |rest: &str| -> Vec<String> {
            rest.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|v| v.trim().to_string())
                .collect()
        };
        if let Some((k, v)) = p.split_once("!=") {
            out.push(Req::Ne(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = p.split_once("==") {
            out.push(Req::Eq(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = p.split_once('=') {
            out.push(Req::Eq(k.trim().into(), v.trim().into()));
        } else if let Some((k, rest)) = p.split_once(" notin ") {
            out.push(Req::NotIn(k.trim().into(), set(rest)));
        } else if let Some((k, rest)) = p.split_once(" in ") {
            out.push(Req::In(k.trim().into(), set(rest)));
        } else if let Some(k) = p.strip_prefix('!') {
            out.push(Req::NotExists(k.trim().into()));
        } else if p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            out.push(Req::Exists(p.into()));
        } else {
            return Err(format!("invalid selector {s:?}"));
        }
    }
    Ok(out)
}

fn matches_selector(reqs: &[Req], map: Option<&Map<String, Value>>) -> bool {
    let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
    reqs.iter().all(|r| match r {
        Req::Eq(k, v) => get(k) == Some(v.as_str()),
        Req::Ne(k, v) => get(k) != Some(v.as_str()),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    })
}
