//! Flux's postBuild variable substitution; the implementation lives in the pure
//! [`keelson_kustomize::substitute`] module, shared with the offline gate.

pub use keelson_kustomize::substitute::{SubstituteError, substitute, valid_name};
