//! Helm chart rendering.
//!
//! A Go `text/template` engine with Sprig and Helm's own functions, chart loading and value
//! coalescing, producing what `helm template` produces. Pure: no cluster, no network.
//!
//! The layers: [`template`] (Go's template language), [`funcs`] (the function table),
//! [`value`]/[`gofmt`]/[`yaml`]/[`json`] (Go values and how Go prints, reads and writes them),
//! [`chart`] (loading charts from folders and `.tgz` archives), [`values`] (Helm's value
//! coalescing), [`valuesfrom`] (a Flux HelmRelease's `valuesFrom` + `values` composition, shared
//! by the reconciler and the offline gate), [`postrender`] (its kustomize post-renderers, shared
//! likewise), [`render`] (what `helm template` does) and
//! [`release`] (what an install or upgrade needs: CRDs, the manifest in install order, hooks
//! with their events, weights and delete policies, NOTES, and Helm's JSON form of the chart,
//! all as `Send` data).
//!
//! For a HelmRelease reconciler: [`release::render_release_archive`] takes a chart artifact's
//! bytes, the merged values as JSON and [`render::RenderOptions`] (release name, namespace,
//! revision, upgrade or install, the cluster's version and API versions, a
//! [`render::Lookup`] for `lookup`) and returns a [`release::ReleaseRender`].
//!
//! # Example
//! ```
//! use keelson_helm::{template::parse::TemplateSet, template::exec::Exec, value::Value};
//! let mut set = TemplateSet::new();
//! set.add("t", r#"{{ range $i, $v := . }}{{ $i }}={{ $v | upper }} {{ end }}"#).unwrap();
//! let mut out = String::new();
//! let data = Value::list(vec![Value::from("a"), Value::from("b")]);
//! Exec::new(std::rc::Rc::new(set), keelson_helm::funcs::funcs())
//!     .execute("t", data, &mut out)
//!     .unwrap();
//! assert_eq!(out, "0=A 1=B ");
//! ```

pub mod chart;
pub mod crypto;
pub mod funcs;
pub mod gofmt;
pub mod json;
pub mod postrender;
pub mod release;
pub mod render;
pub mod schema;
pub mod semver;
pub mod template;
pub mod toml;
pub mod value;
pub mod values;
pub mod valuesfrom;
pub mod yaml;
pub mod yaml_emit;
