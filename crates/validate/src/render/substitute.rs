//! postBuild substitution as the gate runs it: variables from the Kustomization, from the
//! ConfigMaps and Secrets the repository holds, and findings for those left without a value.

use super::*;

impl Renderer<'_> {
    /// postBuild substitution, reporting variables left without a value.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn substitute(
        &mut self,
        cluster: &Cluster,
        ns: &str,
        key: &str,
        post: &keelson_api::kustomization::PostBuild,
        objects: &mut [Value],
        read: &BTreeSet<PathBuf>,
        fallback: &Location,
    ) {
        let mut vars = BTreeMap::new();
        let mut complete = true;
        for from in &post.substitute_from {
            match self.lookup_values(cluster, &from.kind, ns, &from.name) {
                Some(values) => vars.extend(values),
                None if from.is_optional() => {}
                None => {
                    complete = false;
                    self.finding(
                        Category::Render,
                        Severity::Warning,
                        "render/substitution-source-missing",
                        fallback.clone(),
                        format!(
                            "Kustomization {key}: substituteFrom {}/{ns}/{} is not in the repository; its variables cannot be checked",
                            from.kind, from.name
                        ),
                        Some(format!("Kustomization/{key}")),
                    );
                }
            }
        }
        vars.extend(post.substitute.clone());
        for name in vars.keys() {
            if !keelson_kustomize::substitute::valid_name(name) {
                self.finding(
                    Category::Render,
                    Severity::Error,
                    "render/invalid-variable",
                    fallback.clone(),
                    format!(
                        "Kustomization {key}: '{name}' is not a valid substitution variable name"
                    ),
                    Some(format!("Kustomization/{key}")),
                );
            }
        }
        let disabled = keelson_api::kustomization::SUBSTITUTE_ANNOTATION;
        for object in objects.iter_mut() {
            let meta = &object["metadata"];
            if meta["annotations"][disabled] == "disabled" || meta["labels"][disabled] == "disabled"
            {
                continue;
            }
            let yaml = keelson_manifest::to_yaml(object);
            let id = display_id(object);
            let location = self
                .repo
                .origin_of(object, read)
                .map(|o| self.repo.location(&o, ""))
                .unwrap_or_else(|| fallback.clone());
            match keelson_kustomize::substitute::substitute_lenient(&yaml, &vars) {
                Ok((replaced, unset)) => {
                    let unset: BTreeSet<String> = unset.into_iter().collect();
                    let parsed = if replaced == yaml {
                        None
                    } else {
                        Some(keelson_manifest::parse_value(&replaced))
                    };
                    // An unset variable becomes "" (Flux without strict substitution), which
                    // can leave invalid YAML (`image: nginx:${tag}` → `image: nginx:`): the
                    // variable is the fault, reported once with that consequence.
                    let broken = if !unset.is_empty()
                        && let Some(Err(e)) = &parsed
                    {
                        Some(format!(
                            "; left empty, the object is no longer valid YAML ({e})"
                        ))
                    } else {
                        None
                    };
                    for name in &unset {
                        let line = self.variable_line(&location, name);
                        self.finding(
                            Category::Render,
                            if complete { Severity::Error } else { Severity::Warning },
                            "render/unresolved-variable",
                            line,
                            format!(
                                "{id}: variable ${{{name}}} has no value (Kustomization {key} postBuild){}",
                                broken.as_deref().unwrap_or("")
                            ),
                            Some(id.clone()),
                        );
                    }
                    match parsed {
                        Some(Ok(v)) => *object = v,
                        Some(Err(e)) if broken.is_none() => self.finding(
                            Category::Render,
                            Severity::Error,
                            "render/substitution-failed",
                            location.clone(),
                            format!("{id}: invalid YAML after substitution: {e}"),
                            Some(id.clone()),
                        ),
                        _ => {}
                    }
                }
                Err(e) => self.finding(
                    Category::Render,
                    Severity::Error,
                    "render/substitution-failed",
                    location.clone(),
                    format!("{id}: {e}"),
                    Some(id.clone()),
                ),
            }
        }
    }

    /// The line where `${name}` is written, searching from the object's document start.
    pub(super) fn variable_line(&self, location: &Location, name: &str) -> Location {
        if let Some(file) = self.repo.yaml.get(&location.file) {
            let start = location.line.saturating_sub(1);
            let needle = format!("${{{name}");
            if let Some(n) = file
                .text
                .lines()
                .skip(start)
                .position(|l| l.contains(&needle))
            {
                return Location::new(&location.file, start + n + 1);
            }
        }
        location.clone()
    }

    /// The values of the ConfigMap or Secret `ns/name`: rendered in this cluster first, else
    /// written anywhere in the repository. SOPS-encrypted values are unknown but their keys
    /// count as set.
    pub(super) fn lookup_values(
        &self,
        cluster: &Cluster,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<BTreeMap<String, String>> {
        let matches = |v: &Value| {
            str_at(v, &["kind"]) == kind
                && str_at(v, &["metadata", "name"]) == name
                && (str_at(v, &["metadata", "namespace"]) == ns
                    || str_at(v, &["metadata", "namespace"]).is_empty())
        };
        let object = cluster
            .objects
            .iter()
            .map(|&i| &self.out.objects[i].object)
            .find(|v| matches(v))
            .or_else(|| {
                // Written in the repository but not rendered: the one nearest the cluster's
                // folder (each cluster folder of a repository holds its own `cluster-info`;
                // the bootstrap sync of that folder applies it).
                self.repo
                    .documents("", kind)
                    .filter(|(v, _)| matches(v))
                    .max_by_key(|(_, o)| {
                        let shared = o
                            .file
                            .components()
                            .zip(cluster.dir.components())
                            .take_while(|(a, b)| a == b)
                            .count();
                        (shared, std::cmp::Reverse(o.clone()))
                    })
                    .map(|(v, _)| v)
            })?;
        let encrypted = object.get("sops").is_some();
        let mut values = BTreeMap::new();
        for field in ["data", "stringData"] {
            let Some(map) = object.get(field).and_then(Value::as_object) else {
                continue;
            };
            for (k, v) in map {
                let text = v.as_str().unwrap_or_default();
                let value = if encrypted {
                    "encrypted".to_string()
                } else if kind == "Secret" && field == "data" {
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default()
                } else {
                    text.to_string()
                };
                values.insert(k.clone(), value);
            }
        }
        Some(values)
    }
}
