//! Value encryption: AES-256-GCM with a 32-byte IV, the path as additional data, and the type tag
//! sops writes as `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::tree::{Comment, Value, go_float_f};

/// AES-256-GCM with the 32-byte nonce sops uses.
type SopsGcm = AesGcm<Aes256, U32>;

/// Why a value could not be encrypted or decrypted. Never carries the value itself.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// The text is not in the `ENC[AES256_GCM,…]` format.
    #[error("value is not in sops' ENC[AES256_GCM,…] format")]
    Format,
    /// One of the base64 fields is malformed.
    #[error("malformed base64 in the {0} field of an encrypted value")]
    Base64(&'static str),
    /// The IV or tag has the wrong length.
    #[error("encrypted value has a {field} of {len} bytes")]
    Length {
        /// `iv` or `tag`.
        field: &'static str,
        /// The length found.
        len: usize,
    },
    /// Authentication failed: wrong data key, tampered value, or value moved to another path.
    #[error("authentication failed (wrong data key, tampered value, or value moved)")]
    Authentication,
    /// The decrypted bytes do not parse as the declared type.
    #[error("decrypted value does not parse as its declared type {0}")]
    Type(String),
    /// The type tag is unknown.
    #[error("unknown value type {0:?}")]
    UnknownType(String),
    /// The value cannot be encrypted (a collection or null).
    #[error("value of this kind cannot be encrypted")]
    Unsupported,
}

/// Whether a string looks like a sops-encrypted value.
pub fn is_encrypted(text: &str) -> bool {
    text.starts_with("ENC[AES256_GCM,data:")
}

struct Parsed {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse(text: &str) -> Result<Parsed, CipherError> {
    let rest = text
        .strip_prefix("ENC[AES256_GCM,data:")
        .ok_or(CipherError::Format)?;
    let (data, rest) = rest.split_once(",iv:").ok_or(CipherError::Format)?;
    let (iv, rest) = rest.split_once(",tag:").ok_or(CipherError::Format)?;
    let (tag, rest) = rest.split_once(",type:").ok_or(CipherError::Format)?;
    let end = rest.rfind(']').ok_or(CipherError::Format)?;
    let kind = &rest[..end];
    if data.is_empty() || iv.is_empty() || tag.is_empty() || kind.is_empty() {
        return Err(CipherError::Format);
    }
    let decode = |field: &'static str, s: &str| {
        STANDARD
            .decode(s.as_bytes())
            .map_err(|_| CipherError::Base64(field))
    };
    Ok(Parsed {
        data: decode("data", data)?,
        iv: decode("iv", iv)?,
        tag: decode("tag", tag)?,
        kind: kind.to_string(),
    })
}

fn cipher(key: &[u8; 32]) -> SopsGcm {
    SopsGcm::new(key.into())
}

/// Decrypts one `ENC[…]` value; `aad` is the value's path joined by `:` plus a trailing `:`.
/// An empty string decrypts to an empty string, as in sops.
pub fn decrypt(text: &str, key: &[u8; 32], aad: &str) -> Result<Value, CipherError> {
    if text.is_empty() {
        return Ok(Value::Str(String::new()));
    }
    let parsed = parse(text)?;
    if parsed.iv.len() != 32 {
        return Err(CipherError::Length {
            field: "iv",
            len: parsed.iv.len(),
        });
    }
    if parsed.tag.len() != 16 {
        return Err(CipherError::Length {
            field: "tag",
            len: parsed.tag.len(),
        });
    }
    let mut sealed = parsed.data;
    sealed.extend_from_slice(&parsed.tag);
    let plain = cipher(key)
        .decrypt(
            Nonce::<U32>::from_slice(&parsed.iv),
            Payload {
                msg: &sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CipherError::Authentication)?;
    let type_err = || CipherError::Type(parsed.kind.clone());
    let as_text = || String::from_utf8(plain.clone()).map_err(|_| type_err());
    Ok(match parsed.kind.as_str() {
        // Go strings may hold any bytes (binary files); keep those as bytes.
        "str" => match String::from_utf8(plain) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        "time" => Value::Time(as_text()?),
        "int" => Value::Int(as_text()?.parse::<i64>().map_err(|_| type_err())?),
        "float" => Value::Float(parse_go_float(&as_text()?).ok_or_else(type_err)?),
        "bool" => Value::Bool(parse_go_bool(&as_text()?).ok_or_else(type_err)?),
        "bytes" => Value::Bytes(plain),
        "comment" => Value::Comment(Comment::line(as_text()?)),
        other => return Err(CipherError::UnknownType(other.to_string())),
    })
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.replace('_', "").parse::<f64>().ok(),
    }
}

/// The plaintext bytes and type tag sops encrypts for a value.
fn plaintext(value: &Value) -> Result<(Vec<u8>, &'static str), CipherError> {
    Ok(match value {
        Value::Str(s) => (s.as_bytes().to_vec(), "str"),
        Value::Int(i) => (i.to_string().into_bytes(), "int"),
        Value::Float(f) => (go_float_f(*f).into_bytes(), "float"),
        Value::Bool(b) => (
            if *b {
                b"True".to_vec()
            } else {
                b"False".to_vec()
            },
            "bool",
        ),
        // sops turns byte values into strings before encrypting them.
        Value::Bytes(b) => (b.clone(), "str"),
        Value::Time(t) => (t.as_bytes().to_vec(), "time"),
        Value::Comment(c) => (c.value.as_bytes().to_vec(), "comment"),
        Value::Null | Value::Map(_) | Value::Seq(_) => return Err(CipherError::Unsupported),
    })
}

/// Encrypts one value with a fresh random IV; empty strings (and empty comments) stay empty, as
/// in sops.
pub fn encrypt(value: &Value, key: &[u8; 32], aad: &str) -> Result<String, CipherError> {
    match value {
        Value::Str(s) if s.is_empty() => return Ok(String::new()),
        Value::Bytes(b) if b.is_empty() => return Ok(String::new()),
        Value::Comment(c) if c.value.is_empty() => return Ok(String::new()),
        _ => {}
    }
    let (plain, kind) = plaintext(value)?;
    let mut iv = [0u8; 32];
    OsRng.fill_bytes(&mut iv);
    let sealed = cipher(key)
        .encrypt(
            Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: &plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CipherError::Authentication)?;
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
        STANDARD.encode(data),
        STANDARD.encode(iv),
        STANDARD.encode(tag),
        kind
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_each_type() {
        let key = [7u8; 32];
        for v in [
            Value::Str("hello".into()),
            Value::Int(-42),
            Value::Float(1.5),
            Value::Bool(true),
            Value::Bytes(vec![0xff, 0xfe]),
            Value::Comment(Comment::line(" note")),
        ] {
            let enc = encrypt(&v, &key, "a:b:").unwrap();
            assert!(is_encrypted(&enc));
            assert_eq!(decrypt(&enc, &key, "a:b:").unwrap(), v);
            assert!(matches!(
                decrypt(&enc, &key, "a:c:"),
                Err(CipherError::Authentication)
            ));
        }
        assert_eq!(encrypt(&Value::Str(String::new()), &key, "x:").unwrap(), "");
    }
}
