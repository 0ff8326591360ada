//! Kubernetes manifests as data.
//!
//! Objects are [`serde_json::Value`]s (with `preserve_order`, so fields keep their order): that is
//! the form the apply and controller crates consume, so no conversion is needed. This crate reads
//! multi-document YAML into such values ([`parse_documents`]), writes them back as YAML the way
//! `kustomize build` does ([`to_yaml_stream`]), and identifies objects by group, version, kind,
//! namespace and name ([`ObjectId`], with Flux's inventory id format). Pure: no cluster, no
//! network.
//!
//! The YAML reader accepts what real repositories contain and kustomize accepts: anchors (a
//! repeated anchor name rebinds it), aliases, merge keys (`<<`), the YAML 1.1 `=` value (a plain
//! string), and resolves plain scalars the way go-yaml v3 does; quoted scalars stay strings.
//!
//! # Example
//! ```
//! let docs = keelson_manifest::parse_documents(
//!     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\n",
//! )?;
//! let id = keelson_manifest::ObjectId::of(&docs[0]);
//! assert_eq!(id.inventory_id(), "prod_web_apps_Deployment");
//! assert!(keelson_manifest::to_yaml_stream(&docs).starts_with("apiVersion: apps/v1\n"));
//! # Ok::<(), keelson_manifest::ParseError>(())
//! ```

mod emit;
mod id;
mod parse;

pub use emit::{to_yaml, to_yaml_stream, yaml11_non_string};
pub use id::{ObjectId, split_api_version, str_at};
pub use parse::{Document, ParseError, parse_documents, parse_stream, parse_value, resolve_plain};
