//! Helpers for decrypting Kubernetes manifests during a Kustomization build, following Flux's
//! kustomize-controller:
//! - age identities come from the `*.agekey` entries of the decryption Secret;
//! - a manifest with a top-level `sops` section (and a MAC) is decrypted as a whole;
//! - a `Secret` whose `data` values are themselves sops files (base64-encoded) has each such value
//!   decrypted, the format chosen from the data key's extension;
//! - generator sources (`envs`, `files`) that are sops files are decrypted before generation.
//!
//! Errors never contain decrypted values.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;
use crate::format::{Format, StoreOptions};
use crate::keys::Identities;
use crate::tree::{Branch, Tree, Value};

/// The suffix of Secret entries holding age identities.
pub const AGE_KEY_SUFFIX: &str = ".agekey";

/// Collects the age identities of a decryption Secret's entries (`name`, raw bytes): every entry
/// whose name ends with `.agekey`. Other entries (PGP keys, cloud credentials) are ignored.
pub fn identities_from_secret<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Identities, Error> {
    let mut ids = Identities::new();
    for (name, bytes) in entries {
        if !name.ends_with(AGE_KEY_SUFFIX) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        ids.add_text(&text, &format!("Secret entry {name}"))?;
    }
    Ok(ids)
}

/// Whether a manifest (as JSON) is a sops-encrypted document: it has a `sops` mapping with a
/// non-empty `mac`.
pub fn is_sops_encrypted(doc: &serde_json::Value) -> bool {
    doc.get("sops")
        .and_then(|s| s.get("mac"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| !m.is_empty())
}

fn json_to_tree(doc: &serde_json::Value) -> Result<Tree, Error> {
    let text = doc.to_string();
    let branch = crate::json::parse(&text).map_err(|message| Error::Parse {
        format: "json",
        message,
    })?;
    Ok(Tree {
        branches: vec![branch],
    })
}

fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null | Value::Comment(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Str(s) | Value::Time(s) => serde_json::Value::String(s.clone()),
        Value::Bytes(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
        Value::Map(b) => branch_to_json(b),
        Value::Seq(items) => serde_json::Value::Array(
            items
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .map(value_to_json)
                .collect(),
        ),
    }
}

fn branch_to_json(b: &Branch) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in b.entries() {
        map.insert(k.to_string(), value_to_json(v));
    }
    serde_json::Value::Object(map)
}

/// Decrypts a sops-encrypted manifest (see [`is_sops_encrypted`]) and returns the plain manifest
/// without the `sops` section. Fails closed: wrong key, tampered value or MAC mismatch is an
/// error.
pub fn decrypt_document(
    doc: &serde_json::Value,
    identities: &Identities,
) -> Result<serde_json::Value, Error> {
    let tree = json_to_tree(doc)?;
    let input = crate::json::emit(&tree.branches[0], Some(0)).map_err(|message| Error::Parse {
        format: "json",
        message,
    })?;
    let plain = crate::decrypt_to_tree(input.as_bytes(), Format::Json, identities)?;
    Ok(plain
        .branches
        .first()
        .map_or(serde_json::Value::Null, branch_to_json))
}

/// Decrypts, in place, every `data` value of a `Secret` manifest that is itself a sops file
/// (base64-encoded; format from the data key's extension, binary otherwise). Returns how many
/// values were decrypted. Values that are not sops files are left alone.
pub fn decrypt_secret_data(
    doc: &mut serde_json::Value,
    identities: &Identities,
) -> Result<usize, Error> {
    let Some(data) = doc
        .get_mut("data")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return Ok(0);
    };
    let mut count = 0;
    for (key, value) in data.iter_mut() {
        let Some(encoded) = value.as_str() else {
            continue;
        };
        let Ok(bytes) = STANDARD.decode(encoded.as_bytes()) else {
            continue;
        };
        if let Some(plain) =
            decrypt_source(key, &bytes, identities).map_err(|e| e.in_file(format!("data.{key}")))?
        {
            *value = serde_json::Value::String(STANDARD.encode(plain));
            count += 1;
        }
    }
    Ok(count)
}

/// Decrypts a generator source file (`envs`/`files` entry) or a Secret data value if it is a
/// sops file in the format given by `name`'s extension; `Ok(None)` if it is not encrypted.
pub fn decrypt_source(
    name: &str,
    content: &[u8],
    identities: &Identities,
) -> Result<Option<Vec<u8>>, Error> {
    decrypt_source_as(
        Format::from_path(std::path::Path::new(name)),
        content,
        identities,
    )
}

/// Like [`decrypt_source`] with an explicit format: Flux reads `envs` generator sources as
/// dotenv whatever their name, and `files` sources by extension.
pub fn decrypt_source_as(
    format: Format,
    content: &[u8],
    identities: &Identities,
) -> Result<Option<Vec<u8>>, Error> {
    let Ok((mut tree, metadata)) = crate::format::load_encrypted(content, format) else {
        return Ok(None);
    };
    let key = crate::data_key(&metadata, identities)?;
    crate::decrypt_tree(&mut tree, &metadata, &key)?;
    crate::format::emit_plain(&tree, format, &StoreOptions::default()).map(Some)
}
