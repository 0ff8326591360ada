//! The field transformers: namespace, name prefix/suffix, labels, annotations, replicas, images.

use serde_json::{Map, Value};

use crate::fieldspec::{FieldSpec, TransformerConfig, walk};
use crate::kustomization::{Image, Label, Replica};
use crate::resource::{Gvk, Resource, effective_ns, id_string, set_meta};

/// `namespace:` — sets `metadata.namespace` of namespaced objects, the namespace fields of the
/// configuration, and the namespace of RoleBinding subjects named `default`.
pub(crate) fn namespace(
    res: &mut [Resource],
    ns: &str,
    config: &TransformerConfig,
) -> Result<(), String> {
    for r in res.iter_mut() {
        r.store_previous();
        let gvk = r.gvk();
        if !gvk.is_cluster_scoped() {
            set_meta(&mut r.obj, "namespace", ns);
        }
        let is_binding = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
        if is_binding && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
            for s in subjects.iter_mut() {
                if s.get("name").and_then(Value::as_str) == Some("default")
                    && let Value::Object(m) = s
                {
                    m.insert("namespace".into(), Value::String(ns.into()));
                }
            }
        }
        let api_version = r
            .obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for spec in &config.namespace {
            if spec.path == ["metadata", "namespace"] {
                continue;
            }
            if spec.path == ["metadata", "name"] && api_version != "v1" {
                continue;
            }
            if is_binding && spec.path == ["subjects", "namespace"] {
                continue;
            }
            if !gvk.selected_by(&spec.gvk) {
                continue;
            }
            set_scalar(&mut r.obj, spec, ns)?;
        }
    }
    for i in 0..res.len() {
        let g = res[i].gvk();
        let count = res
            .iter()
            .filter(|o| {
                let og = o.gvk();
                og == g
                    && o.name() == res[i].name()
                    && effective_ns(&og, o.namespace()) == effective_ns(&g, res[i].namespace())
            })
            .count();
        if count > 1 {
            return Err(format!(
                "namespace transformation produces ID conflict: {}",
                id_string(&g, res[i].name(), res[i].namespace())
            ));
        }
    }
    Ok(())
}

fn set_scalar(obj: &mut Value, spec: &FieldSpec, value: &str) -> Result<(), String> {
    walk(
        obj,
        &spec.path,
        spec.create,
        &mut |map: &mut Map<String, Value>, key: &str| match map.get(key) {
            Some(Value::Object(_)) | Some(Value::Array(_)) => {
                Err(format!("field {} must be a scalar", spec.path.join("/")))
            }
            Some(_) => {
                map.insert(key.into(), Value::String(value.into()));
                Ok(())
            }
            None if spec.create => {
                map.insert(key.into(), Value::String(value.into()));
                Ok(())
            }
            None => Ok(()),
        },
    )
}

fn skip_prefix(gvk: &Gvk) -> bool {
    gvk.kind == "CustomResourceDefinition"
        || gvk.kind == "Namespace"
        || (gvk.kind == "APIService" && gvk.group == "apiregistration.k8s.io")
}

/// `namePrefix:` / `nameSuffix:`.
pub(crate) fn prefix_suffix(
    res: &mut [Resource],
    affix: &str,
    prefix: bool,
    config: &TransformerConfig,
) {
    let specs = if prefix {
        &config.name_prefix
    } else {
        &config.name_suffix
    };
    for r in res.iter_mut() {
        let gvk = r.orig.0.clone();
        if skip_prefix(&gvk) {
            continue;
        }
        for spec in specs {
            if !gvk.selected_by(&spec.gvk) {
                continue;
            }
            if spec.path == ["metadata", "name"] {
                r.store_previous();
                if prefix {
                    r.prefixes.push(affix.into());
                } else {
                    r.suffixes.push(affix.into());
                }
            }
            let _ = walk::<()>(&mut r.obj, &spec.path, false, &mut |map, key| {
                if let Some(Value::String(s)) = map.get(key) {
                    let new = if prefix {
                        format!("{affix}{s}")
                    } else {
                        format!("{s}{affix}")
                    };
                    map.insert(key.into(), Value::String(new));
                }
                Ok(())
            });
        }
    }
}

/// Sets key/value pairs in the maps named by `specs` (labels or annotations).
pub(crate) fn set_map(
    res: &mut [Resource],
    pairs: &[(String, String)],
    specs: &[FieldSpec],
) -> Result<(), String> {
    for r in res.iter_mut() {
        let gvk = r.gvk();
        for spec in specs {
            if !gvk.selected_by(&spec.gvk) {
                continue;
            }
            walk(
                &mut r.obj,
                &spec.path,
                spec.create,
                &mut |map: &mut Map<String, Value>, key: &str| {
                    let target = match map.get_mut(key) {
                        Some(v @ Value::Object(_)) => v,
                        Some(Value::Null) | None if spec.create => {
                            map.insert(key.into(), Value::Object(Map::new()));
                            match map.get_mut(key) {
                                Some(v) => v,
                                None => return Ok(()),
                            }
                        }
                        Some(Value::Null) | None => return Ok(()),
                        Some(_) => {
                            return Err(format!("field {} must be a map", spec.path.join("/")));
                        }
                    };
                    if let Value::Object(m) = target {
                        for (k, v) in pairs {
                            m.insert(k.clone(), Value::String(v.clone()));
                        }
                    }
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

/// One `labels:` entry.
pub(crate) fn labels_entry(
    res: &mut [Resource],
    label: &Label,
    config: &TransformerConfig,
) -> Result<(), String> {
    let mut specs: Vec<FieldSpec> = Vec::new();
    for f in &label.fields {
        specs.push(FieldSpec::from_value(f)?);
    }
    let mut add = |s: &FieldSpec| {
        if !specs.contains(s) {
            specs.push(s.clone());
        }
    };
    if label.include_selectors {
        config.common_labels.iter().for_each(&mut add);
    } else {
        add(&FieldSpec::any("metadata/labels", true));
        if label.include_templates {
            config.template_labels.iter().for_each(&mut add);
        }
    }
    set_map(res, &label.pairs, &specs)
}

/// One `replicas:` entry.
pub(crate) fn replicas(res: &mut [Resource], r: &Replica, config: &TransformerConfig) {
    for obj in res.iter_mut() {
        let matches = obj.all_ids().iter().any(|(_, n, _)| *n == r.name);
        if !matches {
            continue;
        }
        let gvk = obj.gvk();
        for spec in &config.replicas {
            if !gvk.selected_by(&spec.gvk) {
                continue;
            }
            let _ = walk::<()>(&mut obj.obj, &spec.path, spec.create, &mut |map, key| {
                map.insert(key.into(), Value::from(r.count));
                Ok(())
            });
        }
    }
}

/// Whether an image reference `value` is the image `name` (with any tag or digest).
fn image_matches(value: &str, name: &str) -> bool {
    let pattern = format!(
        "^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{{}}-]*)?$"
    );
    regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(value))
}

/// Splits an image reference into name, tag and digest.
fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let id = search.find('@');
    let ic = search.find(':');
    match (ic, id) {
        (None, None) => (image.into(), String::new(), String::new()),
        (ic, Some(d)) if ic.is_none_or(|c| d < c) => {
            let d = d + slash;
            (image[..d].into(), String::new(), image[d + 1..].into())
        }
        (Some(c), Some(d)) => {
            let (c, d) = (c + slash, d + slash);
            (
                image[..c].into(),
                image[c + 1..d].into(),
                image[d + 1..].into(),
            )
        }
        (Some(c), None) => {
            let c = c + slash;
            (image[..c].into(), image[c + 1..].into(), String::new())
        }
        (None, Some(_)) => (image.into(), String::new(), String::new()),
    }
}

fn update_image(value: &str, img: &Image) -> Option<String> {
    if !image_matches(value, &img.name) {
        return None;
    }
    let (mut name, mut tag, mut digest) = split_image(value);
    if !img.new_name.is_empty() {
        name = img.new_name.clone();
    }
    if !img.new_tag.is_empty() && !img.digest.is_empty() {
        tag = img.new_tag.clone();
        digest = img.digest.clone();
    } else if !img.new_tag.is_empty() {
        tag = img.new_tag.clone();
        digest.clear();
    } else if !img.digest.is_empty() {
        tag.clear();
        digest = img.digest.clone();
    } else if !img.tag_suffix.is_empty() {
        tag.push_str(&img.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    Some(name)
}

fn walk_containers(v: &mut Value, img: &Image) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                walk_containers(child, img);
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items {
                        if let Some(Value::String(s)) = c.get("image")
                            && let Some(new) = update_image(s, img)
                            && let Value::Object(cm) = c
                        {
                            cm.insert("image".into(), Value::String(new));
                        }
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk_containers(i, img)),
        _ => {}
    }
}

/// One `images:` entry.
pub(crate) fn image(res: &mut [Resource], img: &Image, config: &TransformerConfig) {
    for r in res.iter_mut() {
        let gvk = r.gvk();
        if gvk.kind != "CustomResourceDefinition" {
            walk_containers(&mut r.obj, img);
        }
        for spec in &config.images {
            if !gvk.selected_by(&spec.gvk) {
                continue;
            }
            let _ = walk::<()>(&mut r.obj, &spec.path, false, &mut |map, key| {
                if let Some(Value::String(s)) = map.get(key)
                    && let Some(new) = update_image(s, img)
                {
                    map.insert(key.into(), Value::String(new));
                }
                Ok(())
            });
        }
    }
}
