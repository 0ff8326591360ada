//! A Kustomize engine written in Rust.
//!
//! Builds a kustomization directory into a list of Kubernetes objects with kustomize v5
//! semantics, in-process and without network access. Used by `keelson build`, the controller and
//! the offline gate alike.
//!
//! The engine reads through a [`FileSystem`] ([`RealFs`] for the disk, confined to a root). [`build`] loads the
//! kustomization in a directory, accumulates its resources, bases and components recursively,
//! runs its generators (`configMapGenerator`, `secretGenerator`) and transformers (patches,
//! namespace, name prefix/suffix, labels, annotations, replicas, images, replacements) in
//! kustomize's order, then adds content hashes to generated names, updates name references and
//! sorts the objects as kustomize does. Objects are [`serde_json::Value`]s; write them with
//! [`keelson_manifest::to_yaml_stream`] or call [`build_yaml`].
//!
//! Flux builds paths that have no kustomization file by generating one from the manifests below
//! the path: [`implicit_kustomization`] does the same, and [`build_flux`] uses it when needed.
//!
//! # Example
//! ```no_run
//! use keelson_kustomize::{LoadRestrictor, Options, RealFs};
//! // Nothing outside the checkout is ever read, whatever symlinks in it say.
//! let fs = RealFs::new("deploy").expect("the checkout exists");
//! let options = Options { load_restrictor: LoadRestrictor::None };
//! let yaml = keelson_kustomize::build_yaml(&fs, "deploy/overlays/prod".as_ref(), &options)?;
//! print!("{yaml}");
//! # Ok::<(), keelson_kustomize::Error>(())
//! ```

mod build;
mod error;
mod fieldspec;
mod fs;
mod generate;
mod kustomization;
mod nameref;
mod openapi;
mod patch;
mod plugins;
mod replacements;
mod resource;
mod smp;
mod sort;
pub mod substitute;
mod transform;
mod vars;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use error::Error;
pub use fs::{FileSystem, MemoryFs, RealFs};
pub use generate::hash as content_hash;
pub use kustomization::KUSTOMIZATION_FILE_NAMES;

/// Which files a kustomization may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadRestrictor {
    /// Files must lie inside the kustomization's own directory (kustomize's default).
    #[default]
    RootOnly,
    /// Any file may be read (what Flux uses).
    None,
}

/// Build options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Which files kustomizations may read.
    pub load_restrictor: LoadRestrictor,
}

/// Builds the kustomization in `dir` into its objects, in kustomize's output order.
///
/// # Errors
/// [`Error`] naming the file (and document or field) at fault.
pub fn build(fs: &dyn FileSystem, dir: &Path, options: &Options) -> Result<Vec<Value>, Error> {
    let dir = fs::clean(dir);
    let mut builder = build::Builder::new(fs, options);
    let loaded = builder.load_kustomization(&dir)?;
    let sort_options = loaded.1.sort_options.clone();
    let resources = builder.build_root(&dir, Some(loaded))?;
    let mut objects: Vec<Value> = resources.into_iter().map(|r| r.obj).collect();
    sort::apply(&mut objects, sort_options.as_ref());
    // kustomize's output passes through JSON: integral floats come out as integers.
    objects.iter_mut().for_each(keelson_manifest::kyaml_numbers);
    Ok(objects)
}

/// [`build`], written as a multi-document YAML stream like `kustomize build` prints.
///
/// # Errors
/// See [`build`].
pub fn build_yaml(fs: &dyn FileSystem, dir: &Path, options: &Options) -> Result<String, Error> {
    Ok(keelson_manifest::to_yaml_stream(&build(fs, dir, options)?))
}

/// Builds a Flux Kustomization path: its kustomization file if it has one, otherwise the
/// kustomization Flux generates ([`implicit_kustomization`]).
///
/// # Errors
/// See [`build`].
pub fn build_flux(fs: &dyn FileSystem, dir: &Path, options: &Options) -> Result<Vec<Value>, Error> {
    let dir = fs::clean(dir);
    if build::find_kustomization_file(fs, &dir)?.is_some() {
        return build(fs, &dir, options);
    }
    let resources = implicit_kustomization(fs, &dir)?;
    let k = kustomization::Kustomization {
        resources: resources
            .iter()
            .map(|p| {
                p.strip_prefix(&dir)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        ..Default::default()
    };
    let mut builder = build::Builder::new(fs, options);
    let resources = builder.build_root(&dir, Some((dir.join("kustomization.yaml"), k)))?;
    let mut objects: Vec<Value> = resources.into_iter().map(|r| r.obj).collect();
    sort::apply(&mut objects, None);
    // kustomize's output passes through JSON: integral floats come out as integers.
    objects.iter_mut().for_each(keelson_manifest::kyaml_numbers);
    Ok(objects)
}

/// Runs the transformers of a kustomization over `objects` held in memory: the objects become
/// the only resource of a kustomization made of `fields` (e.g. `patches`, `images`,
/// `commonLabels`), built with [`build`]. This is what Flux's Helm post-renderers do with a
/// release manifest.
///
/// # Errors
/// [`Error`] if `fields` is not a valid kustomization (fields other than resources) or a
/// transformer fails (a patch matching nothing is not an error, as in kustomize).
pub fn transform_objects(
    objects: &[Value],
    fields: &serde_json::Map<String, Value>,
) -> Result<Vec<Value>, Error> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let dir = PathBuf::from("/in-memory");
    let mut kustomization = fields.clone();
    kustomization.insert(
        "apiVersion".into(),
        "kustomize.config.k8s.io/v1beta1".into(),
    );
    kustomization.insert("kind".into(), "Kustomization".into());
    kustomization.insert("resources".into(), serde_json::json!(["objects.yaml"]));
    let mut fs = MemoryFs::new();
    fs.insert(
        dir.join("objects.yaml"),
        keelson_manifest::to_yaml_stream(objects),
    );
    fs.insert(
        dir.join("kustomization.yaml"),
        keelson_manifest::to_yaml(&Value::Object(kustomization)),
    );
    build(&fs, &dir, &Options::default())
}

/// The resources of the kustomization Flux's kustomize-controller generates for a path without
/// a kustomization file: every `.yaml`/`.yml` file below `dir` holding Kubernetes objects, and
/// every subdirectory that has a kustomization file (not descended into), in path order.
///
/// # Errors
/// [`Error`] if a directory cannot be read or a manifest does not decode as Kubernetes YAML.
pub fn implicit_kustomization(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    walk_implicit(fs, dir, &mut out)?;
    Ok(out)
}

fn walk_implicit(fs: &dyn FileSystem, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = fs.read_dir(dir).map_err(|source| Error::Io {
        path: dir.into(),
        source,
    })?;
    for entry in entries {
        if fs.is_dir(&entry) {
            if build::find_kustomization_file(fs, &entry)?.is_some() {
                out.push(entry);
            } else {
                walk_implicit(fs, &entry, out)?;
            }
            continue;
        }
        let ext = entry.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "yaml" && ext != "yml" {
            continue;
        }
        let bytes = fs.read(&entry).map_err(|source| Error::Io {
            path: entry.clone(),
            source,
        })?;
        let text =
            String::from_utf8(bytes).map_err(|_| Error::invalid(&entry, "not UTF-8 text"))?;
        let docs = keelson_manifest::parse_documents(&text).map_err(|source| Error::Yaml {
            path: entry.clone(),
            source,
        })?;
        let mut objects = Vec::new();
        for (i, doc) in docs.into_iter().enumerate() {
            build::flatten(doc, &mut objects).map_err(|m| {
                Error::invalid(
                    &entry,
                    format!("failed to decode Kubernetes YAML in document {i}: {m}"),
                )
            })?;
        }
        out.push(entry);
    }
    Ok(())
}
