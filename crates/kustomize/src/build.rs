//! Accumulation: loading a kustomization with its resources, components, generators and
//! transformers, recursively, in kustomize's order.

use std::path::{Path, PathBuf};

use keelson_manifest::Dialect;
use serde_json::Value;

use crate::error::Error;
use crate::fieldspec::TransformerConfig;
use crate::fs::{FileSystem, join_clean};
use crate::kustomization::{KUSTOMIZATION_FILE_NAMES, Kustomization};
use crate::openapi::{BUILTIN_VERSION, OpenApi};
use crate::resource::{Behavior, Resource, effective_ns, id_string};
use crate::{LoadRestrictor, Options, generate, nameref, patch, replacements, transform, vars};

/// The annotation that keeps an object out of the output.
const LOCAL_CONFIG: &str = "config.kubernetes.io/local-config";

/// What kind of kustomization a directory must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The directory being built: a Kustomization or a Component.
    Root,
    Kustomization,
    Component,
}

/// The resources accumulated so far and the transformer configuration in force.
pub(crate) struct Accumulator {
    pub resources: Vec<Resource>,
    pub config: TransformerConfig,
    /// The `vars:` declared so far.
    pub vars: Vec<vars::Var>,
}

pub(crate) struct Builder<'a> {
    pub fs: &'a dyn FileSystem,
    pub options: &'a Options,
    stack: Vec<PathBuf>,
    /// A custom OpenAPI schema from an `openapi: {path: …}` field (replaces the built-in one).
    custom_openapi: Option<Box<OpenApi>>,
    /// Whether a kustomization has chosen the schema (kustomize's global schema is set once:
    /// by the root, else by the first kustomization that names one).
    openapi_chosen: bool,
}

/// Finds the kustomization file of `dir`.
pub(crate) fn find_kustomization_file(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<Option<PathBuf>, Error> {
    let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| fs.exists(p) && !fs.is_dir(p))
        .collect();
    if found.len() > 1 {
        return Err(Error::MultipleKustomizations { dir: dir.into() });
    }
    Ok(found.into_iter().next())
}

fn is_remote(s: &str) -> bool {
    s.contains("://")
        || s.starts_with("github.com/")
        || s.starts_with("git@")
        || s.starts_with("gitlab.com/")
        || s.starts_with("bitbucket.org/")
}

impl<'a> Builder<'a> {
    pub fn new(fs: &'a dyn FileSystem, options: &'a Options) -> Self {
        Builder {
            fs,
            options,
            stack: Vec::new(),
            custom_openapi: None,
            openapi_chosen: false,
        }
    }

    /// Builds the kustomization in `dir` into its final, ordered list of objects.
    pub fn build_root(
        &mut self,
        dir: &Path,
        kust: Option<(PathBuf, Kustomization)>,
    ) -> Result<Vec<Resource>, Error> {
        let mut acc = Accumulator {
            resources: Vec::new(),
            config: TransformerConfig::defaults().clone(),
            vars: Vec::new(),
        };
        let loaded = match kust {
            Some(k) => k,
            None => self.load_kustomization(dir)?,
        };
        self.accumulate(&mut acc, dir, loaded, Expect::Root)?;
        // Hash suffixes, then references to the new names, at the very end (only at the root).
        for res in &mut acc.resources {
            if res.needs_hash {
                let hash = generate::hash(&res.obj).map_err(|m| Error::invalid(dir, m))?;
                res.store_previous();
                let name = format!("{}-{}", res.name(), hash);
                res.set_name(&name);
            }
        }
        nameref::fix(&mut acc.resources, &acc.config).map_err(|m| Error::invalid(dir, m))?;
        vars::resolve(&acc.vars, &mut acc.resources, &acc.config.var_reference)
            .map_err(|m| Error::invalid(dir, m))?;
        // Objects marked `config.kubernetes.io/local-config` (any value but "false") are for
        // tools, not the cluster: kustomize drops them from its output, last of all.
        acc.resources.retain(|r| {
            r.annotations()
                .and_then(|a| a.get(LOCAL_CONFIG))
                .is_none_or(|v| v.as_str() == Some("false"))
        });
        Ok(acc.resources)
    }

    /// The OpenAPI schema strategic merge patches use.
    pub(crate) fn openapi(&self) -> &OpenApi {
        self.custom_openapi
            .as_deref()
            .unwrap_or_else(|| OpenApi::builtin())
    }

    /// Applies a kustomization's `openapi:` field as kustomize does: the root's always wins;
    /// otherwise the first kustomization naming a schema or version sets it for the build.
    fn choose_openapi(
        &mut self,
        dir: &Path,
        kfile: &Path,
        k: &Kustomization,
        root: bool,
    ) -> Result<(), Error> {
        if self.openapi_chosen && !root {
            return Ok(());
        }
        let field = |name: &str| {
            k.openapi
                .as_ref()
                .and_then(|o| o.get(name))
                .and_then(crate::kustomization::scalar_string)
        };
        let version = field("version");
        if let Some(path) = field("path") {
            if version.is_some() {
                return Err(Error::invalid(
                    kfile,
                    "builtin version and custom schema provided, cannot use both",
                ));
            }
            let path = self.file_path(dir, &path)?;
            let text = self.read_text(&path)?;
            let api = OpenApi::parse(&text)
                .map_err(|m| Error::invalid(&path, format!("invalid schema file: {m}")))?;
            self.custom_openapi = Some(Box::new(api));
            self.openapi_chosen = true;
            return Ok(());
        }
        match version.as_deref() {
            None | Some("") => {}
            Some(BUILTIN_VERSION) => {
                self.custom_openapi = None;
                self.openapi_chosen = true;
            }
            Some(other) => {
                return Err(Error::invalid(
                    kfile,
                    format!("the specified OpenAPI version {other:?} is not built in"),
                ));
            }
        }
        Ok(())
    }

    /// Loads the kustomization file of `dir`.
    pub(crate) fn load_kustomization(&self, dir: &Path) -> Result<(PathBuf, Kustomization), Error> {
        let Some(file) = find_kustomization_file(self.fs, dir)? else {
            return Err(Error::NoKustomization { dir: dir.into() });
        };
        let text = self.read_text(&file)?;
        let value = keelson_manifest::parse_value(&text).map_err(|source| Error::Yaml {
            path: file.clone(),
            source,
        })?;
        let value = if value.is_null() {
            Value::Object(Default::default())
        } else {
            value
        };
        let k: Kustomization = serde_json::from_value(value)
            .map_err(|e| Error::invalid(&file, format!("invalid kustomization: {e}")))?;
        Ok((file, k))
    }

    pub(crate) fn read_text(&self, path: &Path) -> Result<String, Error> {
        let bytes = self.fs.read(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        String::from_utf8(bytes).map_err(|_| Error::invalid(path, "not UTF-8 text"))
    }

    /// Resolves a file named in the kustomization in `dir`, enforcing the load restrictor.
    pub(crate) fn file_path(&self, dir: &Path, rel: &str) -> Result<PathBuf, Error> {
        let path = join_clean(dir, rel);
        // Real locations are compared (symlinks resolved), as kustomize does: a link inside the
        // root to a file outside it is outside.
        if self.options.load_restrictor == LoadRestrictor::RootOnly
            && !self.fs.real_path(&path).starts_with(self.fs.real_path(dir))
        {
            return Err(Error::OutsideRoot {
                path,
                root: dir.into(),
            });
        }
        Ok(path)
    }

    fn accumulate(
        &mut self,
        acc: &mut Accumulator,
        dir: &Path,
        (kfile, k): (PathBuf, Kustomization),
        expect: Expect,
    ) -> Result<(), Error> {
        if self.stack.iter().any(|d| d == dir) {
            return Err(Error::Cycle { dir: dir.into() });
        }
        self.check_kind(&kfile, &k, expect)?;
        self.choose_openapi(dir, &kfile, &k, expect == Expect::Root)?;
        self.stack.push(dir.into());
        let result = self.accumulate_inner(acc, dir, &kfile, &k);
        self.stack.pop();
        result
    }

    fn check_kind(&self, kfile: &Path, k: &Kustomization, expect: Expect) -> Result<(), Error> {
        let kind = if k.kind.is_empty() {
            "Kustomization"
        } else {
            k.kind.as_str()
        };
        match (expect, kind) {
            (Expect::Kustomization | Expect::Root, "Kustomization") => Ok(()),
            (Expect::Component | Expect::Root, "Component") => {
                if !k.api_version.is_empty() && k.api_version != "kustomize.config.k8s.io/v1alpha1"
                {
                    return Err(Error::invalid(
                        kfile,
                        "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1",
                    ));
                }
                Ok(())
            }
            (Expect::Kustomization, "Component") => Err(Error::invalid(
                kfile,
                "a Component cannot be used as a resource (list it under components)",
            )),
            (Expect::Component, other) => Err(Error::invalid(
                kfile,
                format!("expected kind 'Component' but got '{other}'"),
            )),
            (_, other) => Err(Error::invalid(
                kfile,
                format!("unknown kustomization kind {other:?}"),
            )),
        }
    }

    fn accumulate_inner(
        &mut self,
        acc: &mut Accumulator,
        dir: &Path,
        kfile: &Path,
        k: &Kustomization,
    ) -> Result<(), Error> {
        if !k.helm_charts.is_empty() {
            return Err(Error::invalid(
                kfile,
                "helmCharts need kustomize's --enable-helm (not supported)",
            ));
        }
        for entry in k.resources.iter().chain(k.bases.iter()) {
            self.accumulate_resource(acc, dir, kfile, entry)?;
        }
        for conf in &k.configurations {
            let path = self.file_path(dir, conf)?;
            let text = self.read_text(&path)?;
            let value = keelson_manifest::parse_value(&text).map_err(|source| Error::Yaml {
                path: path.clone(),
                source,
            })?;
            let config =
                TransformerConfig::from_value(&value).map_err(|m| Error::invalid(&path, m))?;
            acc.config.merge(&config);
        }
        // kustomize's order: resources, configurations, generators, then components, then
        // transformers (a component's transformers see the kustomization's generated objects).
        generate::run(self, acc, dir, kfile, k)?;
        for comp in &k.components {
            if is_remote(comp) {
                return Err(Error::Remote {
                    path: kfile.into(),
                    resource: comp.clone(),
                });
            }
            let cdir = join_clean(dir, comp);
            if !self.fs.is_dir(&cdir) {
                if self.fs.exists(&cdir) {
                    return Err(Error::invalid(&cdir, "a component must be a directory"));
                }
                return Err(Error::Io {
                    path: cdir,
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
                });
            }
            let loaded = self.load_kustomization(&cdir)?;
            self.accumulate(acc, &cdir, loaded, Expect::Component)?;
        }
        self.run_transformers(acc, dir, kfile, k)?;
        if !k.vars.is_empty() {
            let list = k
                .vars
                .iter()
                .map(vars::Var::from_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| Error::invalid(kfile, m))?;
            vars::merge(&mut acc.vars, &mut acc.resources, &list)
                .map_err(|m| Error::invalid(kfile, m))?;
        }
        Ok(())
    }

    fn accumulate_resource(
        &mut self,
        acc: &mut Accumulator,
        dir: &Path,
        kfile: &Path,
        entry: &str,
    ) -> Result<(), Error> {
        let path = join_clean(dir, entry);
        if self.fs.is_dir(&path) {
            let loaded = self.load_kustomization(&path)?;
            let mut sub = Accumulator {
                resources: Vec::new(),
                config: acc.config.clone(),
                vars: Vec::new(),
            };
            self.accumulate(&mut sub, &path, loaded, Expect::Kustomization)?;
            acc.config.merge(&sub.config);
            vars::absorb(&mut acc.vars, &sub.vars).map_err(|m| Error::invalid(kfile, m))?;
            for res in sub.resources {
                add_resource(acc, res, &path)?;
            }
            return Ok(());
        }
        if is_remote(entry) {
            return Err(Error::Remote {
                path: kfile.into(),
                resource: entry.into(),
            });
        }
        let path = self.file_path(dir, entry)?;
        for obj in self.load_objects(&path)? {
            add_resource(acc, Resource::new(obj), &path)?;
        }
        Ok(())
    }

    /// Reads the objects of a manifest file (`List` kinds are flattened).
    pub(crate) fn load_objects(&self, path: &Path) -> Result<Vec<Value>, Error> {
        let text = self.read_text(path)?;
        // Resources hold what kyaml reads back after writing them (folded scalars).
        let docs =
            keelson_manifest::parse_documents_as(&text, Dialect::Kyaml).map_err(|source| {
                Error::Yaml {
                    path: path.into(),
                    source,
                }
            })?;
        let mut out = Vec::new();
        for (i, doc) in docs.into_iter().enumerate() {
            flatten(doc, &mut out)
                .map_err(|m| Error::invalid(path, format!("document {i}: {m}")))?;
        }
        Ok(out)
    }

    fn run_transformers(
        &mut self,
        acc: &mut Accumulator,
        dir: &Path,
        kfile: &Path,
        k: &Kustomization,
    ) -> Result<(), Error> {
        let err = |m: String| Error::invalid(kfile, m);
        for entry in &k.patches_strategic_merge {
            let text = match entry {
                Value::String(s) if !s.contains('\n') && !s.trim_start().starts_with('{') => {
                    let path = self.file_path(dir, s)?;
                    self.read_text(&path)?
                }
                Value::String(s) => s.clone(),
                other => keelson_manifest::to_yaml(other),
            };
            // Merged into resources as nodes: read as kyaml does (folded scalars).
            let docs =
                keelson_manifest::parse_documents_as(&text, Dialect::Kyaml).map_err(|source| {
                    Error::Yaml {
                        path: kfile.into(),
                        source,
                    }
                })?;
            for doc in docs {
                patch::apply_smp_untargeted(
                    self.openapi(),
                    &mut acc.resources,
                    &doc,
                    patch::PatchOptions::default(),
                )
                .map_err(err)?;
            }
        }
        for p in &k.patches {
            let text = self.patch_text(dir, kfile, p)?;
            patch::apply_patch(
                self.openapi(),
                &mut acc.resources,
                &text,
                p.target.as_ref(),
                p.options.as_ref(),
            )
            .map_err(err)?;
        }
        if !k.namespace.is_empty() {
            transform::namespace(&mut acc.resources, &k.namespace, &acc.config).map_err(err)?;
        }
        if !k.name_prefix.is_empty() {
            transform::prefix_suffix(&mut acc.resources, &k.name_prefix, true, &acc.config);
        }
        if !k.name_suffix.is_empty() {
            transform::prefix_suffix(&mut acc.resources, &k.name_suffix, false, &acc.config);
        }
        for label in &k.labels {
            transform::labels_entry(&mut acc.resources, label, &acc.config).map_err(err)?;
        }
        if !k.common_labels.is_empty() {
            transform::set_map(
                &mut acc.resources,
                &k.common_labels,
                &acc.config.common_labels,
            )
            .map_err(err)?;
        }
        if !k.common_annotations.is_empty() {
            transform::set_map(
                &mut acc.resources,
                &k.common_annotations,
                &acc.config.common_annotations,
            )
            .map_err(err)?;
        }
        for p in &k.patches_json6902 {
            let text = self.patch_text(dir, kfile, p)?;
            let Some(target) = &p.target else {
                return Err(err("patchesJson6902 entry without a target".into()));
            };
            patch::apply_patch(
                self.openapi(),
                &mut acc.resources,
                &text,
                Some(target),
                None,
            )
            .map_err(err)?;
        }
        for r in &k.replicas {
            transform::replicas(&mut acc.resources, r, &acc.config);
        }
        for image in &k.images {
            transform::image(&mut acc.resources, image, &acc.config);
        }
        if !k.replacements.is_empty() {
            let mut list = Vec::new();
            for entry in &k.replacements {
                if let Some(path) = entry.get("path").and_then(Value::as_str) {
                    let path = self.file_path(dir, path)?;
                    let text = self.read_text(&path)?;
                    let docs =
                        keelson_manifest::parse_documents(&text).map_err(|source| Error::Yaml {
                            path: path.clone(),
                            source,
                        })?;
                    for doc in docs {
                        match doc {
                            Value::Array(items) => list.extend(items),
                            other => list.push(other),
                        }
                    }
                } else {
                    list.push(entry.clone());
                }
            }
            replacements::apply(&mut acc.resources, &list).map_err(err)?;
        }
        crate::plugins::run_transformers(self, acc, dir, kfile, &k.transformers)?;
        Ok(())
    }

    fn patch_text(
        &self,
        dir: &Path,
        kfile: &Path,
        p: &crate::kustomization::Patch,
    ) -> Result<String, Error> {
        match (&p.path, &p.patch) {
            (Some(path), None) => {
                let path = self.file_path(dir, path)?;
                self.read_text(&path)
            }
            (None, Some(text)) => Ok(text.clone()),
            (Some(_), Some(_)) => Err(Error::invalid(
                kfile,
                "a patch cannot have both path and patch",
            )),
            (None, None) => Err(Error::invalid(
                kfile,
                "a patch needs a path or an inline patch",
            )),
        }
    }
}

/// Appends an object, flattening `List` kinds.
pub(crate) fn flatten(doc: Value, out: &mut Vec<Value>) -> Result<(), String> {
    let Value::Object(map) = &doc else {
        return Err("a resource must be a mapping".into());
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        if let Some(Value::Array(items)) = map.get("items") {
            for item in items.clone() {
                flatten(item, out)?;
            }
        }
        return Ok(());
    }
    if kind.is_empty() {
        return Err("missing kind".into());
    }
    out.push(doc);
    Ok(())
}

/// Adds a resource, refusing a second object with the same id.
pub(crate) fn add_resource(acc: &mut Accumulator, res: Resource, from: &Path) -> Result<(), Error> {
    let gvk = res.gvk();
    let ns = effective_ns(&gvk, res.namespace()).to_string();
    // Compare the name first: it is borrowed, the gvk is built.
    let clash = acc.resources.iter().any(|r| {
        r.name() == res.name() && {
            let g = r.gvk();
            g == gvk && effective_ns(&g, r.namespace()) == ns
        }
    });
    if clash {
        return Err(Error::invalid(
            from,
            format!(
                "may not add resource with an already registered id: {}",
                id_string(&gvk, res.name(), res.namespace())
            ),
        ));
    }
    acc.resources.push(res);
    Ok(())
}

/// Adds a generated object, honouring its behavior (create, merge, replace).
pub(crate) fn add_generated(
    acc: &mut Accumulator,
    mut res: Resource,
    from: &Path,
) -> Result<(), Error> {
    let behavior = res.behavior.unwrap_or_default();
    let gvk = res.gvk();
    let ns = effective_ns(&gvk, res.namespace()).to_string();
    let found = acc.resources.iter().position(|r| {
        r.all_ids()
            .iter()
            .any(|(g, n, s)| g.kind == gvk.kind && n == res.name() && effective_ns(g, s) == ns)
    });
    match (behavior, found) {
        (Behavior::Create, _) => add_resource(acc, res, from),
        (_, None) => Err(Error::invalid(
            from,
            format!(
                "id {} does not exist; cannot merge or replace",
                id_string(&gvk, res.name(), res.namespace())
            ),
        )),
        (behavior, Some(i)) => {
            // As kustomize: the new object takes the old one's place, with the old labels and
            // annotations under its own, the old name, namespace and build history, and (for
            // merge) the old data under its own. A hash suffix stays only if both had one.
            let old = &acc.resources[i];
            for field in ["labels", "annotations"] {
                let merged = merge_string_maps(
                    old.obj.get("metadata").and_then(|m| m.get(field)),
                    res.obj.get("metadata").and_then(|m| m.get(field)),
                );
                set_meta_map(&mut res.obj, field, merged);
            }
            let name = old.name().to_string();
            let ns = old.namespace().to_string();
            res.set_name(&name);
            if ns.is_empty() {
                if let Some(Value::Object(meta)) = res.obj.get_mut("metadata") {
                    meta.shift_remove("namespace");
                }
            } else {
                crate::resource::set_meta(&mut res.obj, "namespace", &ns);
            }
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    let merged = merge_string_maps(old.obj.get(field), res.obj.get(field));
                    if let Value::Object(obj) = &mut res.obj {
                        obj.shift_remove(field);
                        if !merged.is_empty() {
                            obj.insert(field.into(), Value::Object(merged));
                        }
                    }
                }
            }
            res.prev = old.prev.clone();
            res.orig = old.orig.clone();
            res.prefixes = old.prefixes.clone();
            res.suffixes = old.suffixes.clone();
            res.needs_hash = res.needs_hash && old.needs_hash;
            res.behavior = old.behavior;
            acc.resources[i] = res;
            Ok(())
        }
    }
}

/// Two maps of strings merged, `over` winning (kustomize's `mergeStringMaps`).
fn merge_string_maps(
    under: Option<&Value>,
    over: Option<&Value>,
) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for m in [under, over].into_iter().flatten() {
        if let Value::Object(m) = m {
            for (k, v) in m {
                let v = crate::kustomization::scalar_string(v).unwrap_or_default();
                out.insert(k.clone(), Value::String(v));
            }
        }
    }
    out.sort_keys();
    out
}

/// Sets (or, when empty, removes) `metadata.<field>`.
fn set_meta_map(obj: &mut Value, field: &str, map: serde_json::Map<String, Value>) {
    if map.is_empty() {
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            meta.shift_remove(field);
        }
        return;
    }
    if let Value::Object(o) = obj {
        let meta = o
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(meta) = meta {
            meta.insert(field.into(), Value::Object(map));
        }
    }
}
