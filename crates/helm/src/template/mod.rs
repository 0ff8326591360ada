//! A Go `text/template` engine: [`parse`] turns source into trees, [`exec`] runs them.

pub mod exec;
pub(crate) mod number;
pub mod parse;
