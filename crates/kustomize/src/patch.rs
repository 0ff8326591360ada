//! Patches: strategic merge (with the list merge keys of built-in Kubernetes kinds; other kinds
//! merge maps and replace lists, as kustomize does without a schema) and JSON 6902; target
//! selection by id, labels and annotations.

use serde_json::{Map, Value};

use crate::kustomization::Selector;
use crate::resource::{Gvk, Resource, effective_ns, id_string};

/// Applies a `patchesStrategicMerge` document (or a `patches:` entry without target): it patches
/// the single object with its own id.
pub(crate) fn apply_smp_untargeted(res: &mut Vec<Resource>, patch: &Value) -> Result<(), String> {
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
            // The patch's id names the target; the target keeps its own (renamed) id.
            if let Value::Object(p) = &mut patch
                && let Some(Value::Object(meta)) = p.get_mut("metadata")
            {
                meta.insert("name".into(), Value::String(res[i].name().into()));
                if !res[i].namespace().is_empty() {
                    meta.insert("namespace".into(), Value::String(res[i].namespace().into()));
                } else {
                    meta.remove("namespace");
                }
            }
            if let Value::Object(p) = &mut patch
                && let Some(av) = res[i].obj.get("apiVersion")
            {
                p.insert("apiVersion".into(), av.clone());
            }
            if smp_resource(&mut res[i], &patch) {
                res.remove(i);
            }
            Ok(())
        }
        _ => Err(format!(
            "multiple matches for Id {id}; failed to find unique target for patch"
        )),
    }
}

/// Applies a strategic merge patch to one resource; returns true if the resource is deleted.
fn smp_resource(r: &mut Resource, patch: &Value) -> bool {
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        return true;
    }
    let gvk = r.gvk();
    let before = (r.name().to_string(), r.namespace().to_string());
    let mut path = Vec::new();
    merge_value(&mut r.obj, patch, &gvk, &mut path);
    if (r.name(), r.namespace()) != (before.0.as_str(), before.1.as_str()) {
        let cur = (r.gvk(), r.name().to_string(), r.namespace().to_string());
        let mut old = cur.clone();
        old.1 = before.0;
        old.2 = before.1;
        r.prev.push(old);
    }
    false
}

/// Applies a `patches:` entry (strategic merge or JSON 6902) to the selected objects.
pub(crate) fn apply_patch(
    res: &mut Vec<Resource>,
    text: &str,
    target: Option<&Selector>,
    _options: Option<&Value>,
) -> Result<(), String> {
    let docs =
        keelson_manifest::parse_documents(text).map_err(|e| format!("invalid patch: {e}"))?;
    let is_json6902 = matches!(docs.first(), Some(Value::Array(_)));
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
            if res[i].name() != before.1 || res[i].gvk() != before.0 {
                res[i].prev.push(before);
            }
        }
        return Ok(());
    }
    for doc in docs {
        match target {
            None => apply_smp_untargeted(res, &doc)?,
            Some(target) => {
                let selected = select(res, target)?;
                let mut deleted = Vec::new();
                for i in selected {
                    let mut patch = doc.clone();
                    if let Value::Object(p) = &mut patch {
                        if let Some(Value::Object(meta)) = p.get_mut("metadata") {
                            meta.insert("name".into(), Value::String(res[i].name().into()));
                            if res[i].namespace().is_empty() {
                                meta.remove("namespace");
                            } else {
                                meta.insert(
                                    "namespace".into(),
                                    Value::String(res[i].namespace().into()),
                                );
                            }
                        }
                        for k in ["apiVersion", "kind"] {
                            if let Some(v) = res[i].obj.get(k) {
                                p.insert(k.into(), v.clone());
                            }
                        }
                    }
                    if smp_resource(&mut res[i], &patch) {
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

const POD_KINDS: [&str; 9] = [
    "Pod",
    "PodTemplate",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "extensions"
            | "policy"
            | "autoscaling"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "admissionregistration.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "node.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "certificates.k8s.io"
    )
}

/// The merge keys of the list at `path` in an object of kind `gvk`, from the built-in
/// Kubernetes schema (`x-kubernetes-patch-merge-key` / list-map keys); `Some(vec![])` marks a
/// list of scalars merged as a set; `None` means the list is replaced.
fn merge_keys(gvk: &Gvk, path: &[String]) -> Option<Vec<&'static str>> {
    if !is_builtin_group(&gvk.group) {
        return None;
    }
    let last = path.last()?.as_str();
    let parent = path
        .len()
        .checked_sub(2)
        .map(|i| path[i].as_str())
        .unwrap_or("");
    let in_pod = POD_KINDS.contains(&gvk.kind.as_str());
    let in_container = path
        .iter()
        .any(|p| p == "containers" || p == "initContainers" || p == "ephemeralContainers");
    match last {
        "finalizers" if parent == "metadata" => Some(vec![]),
        "ownerReferences" if parent == "metadata" => Some(vec!["uid"]),
        "containers" | "initContainers" | "ephemeralContainers" if in_pod => Some(vec!["name"]),
        "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"
            if in_pod && !in_container =>
        {
            Some(vec!["name"])
        }
        "hostAliases" if in_pod => Some(vec!["ip"]),
        "topologySpreadConstraints" if in_pod => Some(vec!["topologyKey", "whenUnsatisfiable"]),
        "env" if in_container => Some(vec!["name"]),
        "volumeMounts" if in_container => Some(vec!["mountPath"]),
        "volumeDevices" if in_container => Some(vec!["devicePath"]),
        "ports" if in_container => Some(vec!["containerPort", "protocol"]),
        "ports" if gvk.kind == "Service" && parent == "spec" => Some(vec!["port", "protocol"]),
        "conditions" if parent == "status" => Some(vec!["type"]),
        "webhooks" if gvk.kind.ends_with("WebhookConfiguration") => Some(vec!["name"]),
        _ => None,
    }
}

/// Removes patch directives from a value added as a whole.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .filter(|(_, v)| !is_delete(v))
                .map(|(k, v)| (k.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().filter(|v| !is_delete(v)).map(clean).collect())
        }
        other => other.clone(),
    }
}

fn is_delete(v: &Value) -> bool {
    v.get("$patch").and_then(Value::as_str) == Some("delete")
}

fn merge_value(dest: &mut Value, patch: &Value, gvk: &Gvk, path: &mut Vec<String>) {
    match (dest, patch) {
        (Value::Object(d), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                *d = match clean(patch) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                return;
            }
            for (k, pv) in p {
                if k.starts_with('$') {
                    continue;
                }
                if pv.is_null() || is_delete(pv) {
                    d.remove(k);
                    continue;
                }
                path.push(k.clone());
                match d.get_mut(k) {
                    Some(dv) if dv.is_object() && pv.is_object() => merge_value(dv, pv, gvk, path),
                    Some(Value::Array(dl)) if pv.is_array() => {
                        if let Value::Array(pl) = pv {
                            let merged = merge_list(dl, pl, gvk, path);
                            *dl = merged;
                        }
                    }
                    _ => {
                        d.insert(k.clone(), clean(pv));
                    }
                }
                path.pop();
            }
        }
        (dest, patch) => *dest = clean(patch),
    }
}

fn key_values(v: &Value, keys: &[&str]) -> Vec<Option<String>> {
    keys.iter()
        .map(|k| {
            v.get(*k).and_then(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
        })
        .collect()
}

fn keys_match(a: &[Option<String>], b: &[Option<String>]) -> bool {
    let mut common = false;
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Some(x), Some(y)) if x == y => common = true,
            (Some(_), Some(_)) => return false,
            _ => {}
        }
    }
    common
}

fn merge_list(dest: &[Value], patch: &[Value], gvk: &Gvk, path: &mut Vec<String>) -> Vec<Value> {
    let Some(keys) = merge_keys(gvk, path) else {
        return patch.iter().filter(|v| !is_delete(v)).map(clean).collect();
    };
    if patch
        .iter()
        .any(|v| v.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return patch
            .iter()
            .filter(|v| v.get("$patch").is_none())
            .map(clean)
            .collect();
    }
    if keys.is_empty() {
        // A set of scalars: patch items first, then the others.
        let mut out: Vec<Value> = Vec::new();
        for v in patch.iter().chain(dest) {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return out;
    }
    let mut used = vec![false; dest.len()];
    let mut out = Vec::new();
    for pv in patch {
        let pk = key_values(pv, &keys);
        let found = dest
            .iter()
            .enumerate()
            .position(|(i, dv)| !used[i] && keys_match(&key_values(dv, &keys), &pk));
        if let Some(i) = found {
            used[i] = true;
            if is_delete(pv) {
                continue;
            }
            let mut merged = dest[i].clone();
            merge_value(&mut merged, pv, gvk, path);
            out.push(merged);
        } else if !is_delete(pv) {
            out.push(clean(pv));
        }
    }
    for (i, dv) in dest.iter().enumerate() {
        if !used[i] {
            out.push(dv.clone());
        }
    }
    out
}
