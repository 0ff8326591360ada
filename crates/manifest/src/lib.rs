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
//! Alias expansion is bounded with go-yaml v3's rule ([`AliasBudget`]): a "billion laughs"
//! document is refused with its document and line instead of filling memory.
//! [`Dialect::Kyaml`] and [`kyaml_numbers`] give the values as kustomize's YAML layer leaves
//! them (folded scalars, integral floats), which differs from the YAML spec.
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

mod alias;
mod emit;
mod id;
mod kyaml;
mod nulls;
mod parse;

pub use alias::{AliasBudget, AliasLimit, allowed_alias_ratio};
pub use emit::{to_yaml, to_yaml_stream, yaml11_non_string};
pub use id::{ObjectId, split_api_version, str_at};
pub use kyaml::{json_float_numbers, kyaml_folded, kyaml_numbers};
pub use nulls::{drop_nulls, without_nulls};
pub use parse::{
    Dialect, Document, ParseError, parse_documents, parse_documents_as, parse_stream,
    parse_stream_as, parse_value, resolve_plain,
};
