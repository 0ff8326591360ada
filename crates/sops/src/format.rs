//! The file formats ("stores" in sops): reading plain and encrypted files into the tree and
//! metadata, and writing them back.

use std::path::Path;

use crate::error::Error;
use crate::metadata::{Metadata, MetadataError, flatten, unflatten};
use crate::tree::{Branch, Item, Tree, Value};
use crate::{dotenv, ini, json, yaml};

/// A sops file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (several documents allowed).
    Yaml,
    /// JSON with a top-level object.
    Json,
    /// dotenv `KEY=value` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any file, encrypted as a whole into a JSON document with a `data` key.
    Binary,
}

impl Format {
    /// The format sops picks from a file name: `.yaml`/`.yml`, `.json`, `.env`, `.ini`, else
    /// binary.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// Parses a `--input-type` style name.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            _ => return None,
        })
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

/// Output settings (sops' `stores` configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// YAML indentation step (sops default 4).
    pub yaml_indent: usize,
    /// JSON indentation: `None` for a tab (sops default), else spaces.
    pub json_indent: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            yaml_indent: 4,
            json_indent: None,
        }
    }
}

fn parse_err(format: Format, message: impl ToString) -> Error {
    Error::Parse {
        format: format.name(),
        message: message.to_string(),
    }
}

fn text(input: &[u8], format: Format) -> Result<&str, Error> {
    std::str::from_utf8(input).map_err(|e| parse_err(format, format!("not UTF-8: {e}")))
}

/// Reads a plain (unencrypted) file.
pub fn load_plain(input: &[u8], format: Format) -> Result<Tree, Error> {
    let branches = match format {
        Format::Yaml => {
            let text = text(input, format)?;
            // Like sops (go-yaml's decoder reports EOF): a stream without any document is an
            // error, not an empty file.
            let has_content = text.lines().any(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            });
            if !has_content {
                return Err(parse_err(format, "the file contains no YAML document"));
            }
            yaml::parse::parse(text).map_err(|e| parse_err(format, e))?
        }
        Format::Json => vec![json::parse(text(input, format)?).map_err(|e| parse_err(format, e))?],
        Format::Dotenv => {
            vec![dotenv::parse(text(input, format)?).map_err(|e| parse_err(format, e))?]
        }
        Format::Ini => vec![ini::parse(text(input, format)?).map_err(|e| parse_err(format, e))?],
        Format::Binary => {
            let mut b = Branch::default();
            let value = match String::from_utf8(input.to_vec()) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            };
            b.push("data", value);
            vec![b]
        }
    };
    Ok(Tree { branches })
}

/// Whether a plain tree already carries sops metadata.
pub fn has_metadata(tree: &Tree, format: Format) -> bool {
    tree.branches.first().is_some_and(|b| match format {
        Format::Dotenv => b.entries().any(|(k, _)| k.starts_with("sops_")),
        _ => b.get("sops").is_some(),
    })
}

/// Reads an encrypted file: its tree (without the metadata) and its metadata.
pub fn load_encrypted(input: &[u8], format: Format) -> Result<(Tree, Metadata), Error> {
    let read_as = if format == Format::Binary {
        Format::Json
    } else {
        format
    };
    let mut tree = load_plain(input, read_as).map_err(|e| match (format, e) {
        (Format::Binary, Error::Parse { message, .. }) => Error::Parse {
            format: "binary (sops JSON envelope)",
            message,
        },
        (_, e) => e,
    })?;
    let meta_branch = match format {
        Format::Dotenv => {
            let first = tree.branches.first_mut().ok_or(MetadataError::NotFound)?;
            let mut pairs = Vec::new();
            first.0.retain(|item| match item {
                Item::Entry(k, v) if k.starts_with("sops_") => {
                    pairs.push((k["sops_".len()..].to_string(), v.clone()));
                    false
                }
                _ => true,
            });
            if pairs.is_empty() {
                return Err(MetadataError::NotFound.into());
            }
            unflatten(pairs)?
        }
        _ => {
            let mut found = None;
            for (i, branch) in tree.branches.iter_mut().enumerate() {
                while let Some(v) = branch.remove("sops") {
                    if i == 0 {
                        found = Some(v);
                    }
                }
            }
            let value = found.ok_or(MetadataError::NotFound)?;
            let Value::Map(m) = value else {
                return Err(MetadataError::Field {
                    field: "sops".into(),
                    problem: "not a mapping".into(),
                }
                .into());
            };
            if format == Format::Ini {
                let pairs = m
                    .entries()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::Str(s) => Value::Str(s.replace("\\n", "\n")),
                            other => other.clone(),
                        };
                        (k.to_string(), v)
                    })
                    .collect();
                unflatten(pairs)?
            } else {
                m
            }
        }
    };
    let metadata = Metadata::from_branch(&meta_branch)?;
    Ok((tree, metadata))
}

fn emit_err(format: Format, message: impl ToString) -> Error {
    Error::Emit {
        format: format.name(),
        message: message.to_string(),
    }
}

/// Writes a plain (decrypted) tree.
pub fn emit_plain(tree: &Tree, format: Format, opts: &StoreOptions) -> Result<Vec<u8>, Error> {
    let first = || tree.branches.first().cloned().unwrap_or_default();
    Ok(match format {
        Format::Yaml => yaml::emit::emit(&tree.branches, opts.yaml_indent).into_bytes(),
        Format::Json => json::emit(&first(), opts.json_indent)
            .map_err(|e| emit_err(format, e))?
            .into_bytes(),
        Format::Dotenv => dotenv::emit(&first())
            .map_err(|e| emit_err(format, e))?
            .into_bytes(),
        Format::Ini => ini::emit(&first())
            .map_err(|e| emit_err(format, e))?
            .into_bytes(),
        Format::Binary => {
            if tree.branches.len() != 1 {
                return Err(emit_err(format, "there must be exactly one tree branch"));
            }
            match first().get("data") {
                Some(Value::Str(s)) => s.clone().into_bytes(),
                Some(Value::Bytes(b)) => b.clone(),
                Some(_) => return Err(emit_err(format, "'data' key does not have a string value")),
                None => return Err(emit_err(format, "no binary data found in tree")),
            }
        }
    })
}

/// Writes an encrypted tree with its metadata.
pub fn emit_encrypted(
    tree: &Tree,
    metadata: &Metadata,
    format: Format,
    opts: &StoreOptions,
) -> Result<Vec<u8>, Error> {
    let meta = metadata.to_branch();
    let mut out = tree.clone();
    match format {
        Format::Dotenv => {
            for branch in &mut out.branches {
                for (k, _) in branch.entries() {
                    if k.starts_with("sops_") {
                        return Err(Error::ReservedKey(k.to_string()));
                    }
                }
                for (k, v) in flatten(&meta, "sops_") {
                    branch.push(k, v);
                }
            }
            emit_plain(&out, format, opts)
        }
        Format::Ini => {
            let flat: Vec<(String, Value)> = flatten(&meta, "")
                .into_iter()
                .map(|(k, v)| match v {
                    Value::Str(s) => (k, Value::Str(s.replace('\n', "\\n"))),
                    other => (k, other),
                })
                .collect();
            let mut section = Branch::default();
            for (k, v) in flat {
                section.push(k, v);
            }
            for branch in &mut out.branches {
                if branch.get("sops").is_some() {
                    return Err(Error::ReservedKey("sops".into()));
                }
                branch.push("sops", Value::Map(section.clone()));
            }
            emit_plain(&out, format, opts)
        }
        _ => {
            for branch in &mut out.branches {
                if branch.get("sops").is_some() {
                    return Err(Error::ReservedKey("sops".into()));
                }
                branch.push("sops", Value::Map(meta.clone()));
            }
            let as_format = if format == Format::Binary {
                Format::Json
            } else {
                format
            };
            emit_plain(&out, as_format, opts)
        }
    }
}
