//! age keys: parsing identities and recipients, and wrapping/unwrapping the data key.
//!
//! sops encrypts the 32-byte data key (or its Shamir share) to each age recipient as an
//! ASCII-armored age file, stored in the `enc` field of the metadata.

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;

/// Why an age key could not be parsed or used. Never carries secret key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A line of an identity file is not an age X25519 identity.
    #[error("{source_name}: line {line} is not an age X25519 identity (AGE-SECRET-KEY-1…)")]
    BadIdentity {
        /// Where the identities came from (file name or variable).
        source_name: String,
        /// 1-based line number.
        line: usize,
    },
    /// A post-quantum (ML-KEM) age identity, which this build cannot use.
    #[error(
        "{source_name}: line {line} holds a post-quantum age identity (AGE-SECRET-KEY-PQ-1…), which is not supported"
    )]
    PostQuantum {
        /// Where the identities came from.
        source_name: String,
        /// 1-based line number.
        line: usize,
    },
    /// A recipient string is not an age X25519 recipient.
    #[error("{0:?} is not an age X25519 recipient (age1…)")]
    BadRecipient(String),
    /// age could not encrypt the data key.
    #[error("failed to encrypt the data key to age recipient {recipient}: {message}")]
    Wrap {
        /// The recipient.
        recipient: String,
        /// age's message.
        message: String,
    },
}

/// A set of age X25519 identities (private keys) used to decrypt data keys.
#[derive(Clone, Default)]
pub struct Identities {
    keys: Vec<x25519::Identity>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Identities")
            .field("count", &self.keys.len())
            .finish()
    }
}

impl Identities {
    /// No identities.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses identities from the text of an age key file (as written by `age-keygen`): one
    /// `AGE-SECRET-KEY-1…` per line, `#` comments and blank lines ignored. `source_name` names the
    /// origin in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, KeyError> {
        let mut ids = Identities::new();
        ids.add_text(text, source_name)?;
        Ok(ids)
    }

    /// Adds the identities found in `text` (see [`Identities::parse`]). Several keys on one line,
    /// separated by whitespace or commas, are accepted too (as in `SOPS_AGE_KEY`).
    pub fn add_text(&mut self, text: &str, source_name: &str) -> Result<(), KeyError> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for word in line
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
            {
                if word.starts_with("AGE-SECRET-KEY-PQ-") {
                    return Err(KeyError::PostQuantum {
                        source_name: source_name.to_string(),
                        line: n + 1,
                    });
                }
                let id = x25519::Identity::from_str(word).map_err(|_| KeyError::BadIdentity {
                    source_name: source_name.to_string(),
                    line: n + 1,
                })?;
                self.keys.push(id);
            }
        }
        Ok(())
    }

    /// Merges another set into this one.
    pub fn extend(&mut self, other: Identities) {
        self.keys.extend(other.keys);
    }

    /// Whether there are no identities.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many identities there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The public recipients of these identities (`age1…`).
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }

    /// Tries to decrypt an armored age file holding a data key (or share).
    pub(crate) fn unwrap_key(&self, armored: &str) -> Result<Vec<u8>, String> {
        if self.keys.is_empty() {
            return Err("no age identities were given".to_string());
        }
        let reader = ArmoredReader::new(armored.trim_start().as_bytes());
        let decryptor =
            age::Decryptor::new(reader).map_err(|e| format!("malformed age file: {e}"))?;
        let ids = self.keys.iter().map(|k| k as &dyn age::Identity);
        let mut out = Vec::new();
        decryptor
            .decrypt(ids)
            .map_err(|e| e.to_string())?
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// An age X25519 recipient (public key).
#[derive(Clone, Debug)]
pub struct Recipient {
    text: String,
    key: x25519::Recipient,
}

impl Recipient {
    /// Parses `age1…`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let key =
            x25519::Recipient::from_str(text).map_err(|_| KeyError::BadRecipient(text.into()))?;
        Ok(Recipient {
            text: text.to_string(),
            key,
        })
    }

    /// Parses a comma-separated list (as `--age` and `.sops.yaml` take).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, KeyError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Recipient::parse)
            .collect()
    }

    /// The `age1…` string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Encrypts `secret` to this recipient as an ASCII-armored age file.
    pub(crate) fn wrap_key(&self, secret: &[u8]) -> Result<String, KeyError> {
        let err = |e: &dyn std::fmt::Display| KeyError::Wrap {
            recipient: self.text.clone(),
            message: e.to_string(),
        };
        let recipient: &dyn age::Recipient = &self.key;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient)).map_err(|e| err(&e))?;
        let mut out = Vec::new();
        let armor =
            ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| err(&e))?;
        let mut writer = encryptor.wrap_output(armor).map_err(|e| err(&e))?;
        writer.write_all(secret).map_err(|e| err(&e))?;
        let armor = writer.finish().map_err(|e| err(&e))?;
        armor.finish().map_err(|e| err(&e))?;
        let mut text = String::from_utf8_lossy(&out).into_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }
}

/// Shamir secret sharing over GF(2^8) with the AES polynomial, share layout `y… || x` (the scheme
/// sops takes from HashiCorp Vault).
pub(crate) mod shamir {
    use aes_gcm::aead::OsRng;
    use aes_gcm::aead::rand_core::RngCore;

    fn mul(a: u8, b: u8) -> u8 {
        let (mut a, mut b, mut p) = (a, b, 0u8);
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            let hi = a & 0x80;
            a <<= 1;
            if hi != 0 {
                a ^= 0x1b;
            }
            b >>= 1;
        }
        p
    }

    fn inv(a: u8) -> u8 {
        // a^254 = a^-1 in GF(2^8).
        let mut result = 1u8;
        let mut base = a;
        let mut e = 254u32;
        while e > 0 {
            if e & 1 == 1 {
                result = mul(result, base);
            }
            base = mul(base, base);
            e >>= 1;
        }
        result
    }

    /// Recombines shares; errors on fewer than two, unequal lengths or duplicate x.
    pub fn combine(parts: &[Vec<u8>]) -> Result<Vec<u8>, &'static str> {
        if parts.len() < 2 {
            return Err("less than two parts cannot be used to reconstruct the secret");
        }
        let len = parts[0].len();
        if len < 2 || parts.iter().any(|p| p.len() != len) {
            return Err("all parts must be the same length and at least two bytes");
        }
        let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
        for (i, x) in xs.iter().enumerate() {
            if xs[..i].contains(x) {
                return Err("duplicate part detected");
            }
        }
        let mut secret = vec![0u8; len - 1];
        for (idx, byte) in secret.iter_mut().enumerate() {
            let mut result = 0u8;
            for i in 0..parts.len() {
                let mut basis = 1u8;
                for j in 0..parts.len() {
                    if i != j {
                        // (0 - x_j) / (x_i - x_j) in characteristic 2
                        basis = mul(basis, mul(xs[j], inv(xs[i] ^ xs[j])));
                    }
                }
                result ^= mul(parts[i][idx], basis);
            }
            *byte = result;
        }
        Ok(secret)
    }

    /// Splits `secret` into `parts` shares, any `threshold` of which recombine it.
    pub fn split(
        secret: &[u8],
        parts: usize,
        threshold: usize,
    ) -> Result<Vec<Vec<u8>>, &'static str> {
        if parts < threshold || parts > 255 || !(2..=255).contains(&threshold) || secret.is_empty()
        {
            return Err("invalid Shamir parameters");
        }
        let mut out: Vec<Vec<u8>> = (0..parts)
            .map(|i| {
                let mut v = vec![0u8; secret.len() + 1];
                v[secret.len()] = (i + 1) as u8;
                v
            })
            .collect();
        for (idx, &s) in secret.iter().enumerate() {
            let mut coeffs = vec![0u8; threshold];
            coeffs[0] = s;
            OsRng.fill_bytes(&mut coeffs[1..]);
            for (i, share) in out.iter_mut().enumerate() {
                let x = (i + 1) as u8;
                let mut y = 0u8;
                for &c in coeffs.iter().rev() {
                    y = mul(y, x) ^ c;
                }
                share[idx] = y;
            }
        }
        Ok(out)
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]
        use super::*;

        #[test]
        fn split_combine() {
            let secret: Vec<u8> = (0..32).collect();
            let parts = split(&secret, 3, 2).unwrap();
            assert_eq!(combine(&parts[..2]).unwrap(), secret);
            assert_eq!(combine(&parts[1..]).unwrap(), secret);
            assert_eq!(
                combine(&[parts[0].clone(), parts[2].clone()]).unwrap(),
                secret
            );
        }
    }
}
