//! YAML: reading with order and comments, writing as go-yaml v3 (which sops uses) does.

pub mod emit;
pub mod parse;
pub mod resolve;
