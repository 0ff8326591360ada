//! The SOPS file format.
//!
//! Decrypts (and encrypts) YAML, JSON, dotenv, INI and binary files in the format written by the
//! `sops` tool (v3), with age recipients. Pure: keys are passed in, nothing is read from the
//! environment or the network.
//!
//! How the pieces fit: a [`Format`] reads a file into a [`tree::Tree`] plus its
//! [`metadata::Metadata`]; [`data_key`] recovers the 32-byte data key from the metadata with the
//! caller's [`Identities`] (several recipients, key groups and Shamir thresholds supported); the
//! engine decrypts every value the metadata's rules select (AES-256-GCM, the value's key path as
//! additional data) and checks the MAC over the plaintext, failing closed on a mismatch. Encryption
//! runs the same road backwards. [`kube`] holds the helpers the Kustomization reconciler uses, and
//! [`config`] reads `.sops.yaml` creation rules.
//!
//! # Example
//! ```
//! use keelson_sops::{EncryptSettings, Format, Identities, Recipient, StoreOptions};
//!
//! let identities = Identities::parse(
//!     "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM",
//!     "example",
//! )?;
//! let recipients = identities
//!     .recipients()
//!     .iter()
//!     .map(|r| Recipient::parse(r))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let settings = EncryptSettings::new(recipients);
//! let plain = b"password: hunter2\n";
//! let encrypted = keelson_sops::encrypt(plain, Format::Yaml, &settings, &StoreOptions::default())?;
//! let decrypted = keelson_sops::decrypt(&encrypted, Format::Yaml, &identities, &StoreOptions::default())?;
//! assert_eq!(decrypted, plain);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cipher;
pub mod config;
pub mod dotenv;
mod engine;
pub mod error;
pub mod format;
pub mod ini;
pub mod json;
pub mod keys;
pub mod kube;
pub mod metadata;
pub mod tree;
pub mod yaml;

pub use error::Error;
pub use format::{Format, StoreOptions};
pub use keys::{Identities, Recipient};
pub use metadata::{Metadata, Rules};

use engine::Selector;
use keys::shamir;
use metadata::{AgeKey, KeyGroup, SOPS_FORMAT_VERSION};
use tree::{Tree, Value};

/// Recovers the data key from the metadata with the given identities.
///
/// With one key group, any age key of the group that one of the identities opens gives the key.
/// With several groups, each group yields a Shamir share and at least `shamir_threshold` groups
/// (all of them when unset) must open.
pub fn data_key(metadata: &Metadata, identities: &Identities) -> Result<[u8; 32], Error> {
    let all_recipients: Vec<&str> = metadata
        .key_groups
        .iter()
        .flat_map(|g| g.age.iter().map(|k| k.recipient.as_str()))
        .collect();
    if all_recipients.is_empty() {
        let others: Vec<&str> = metadata
            .key_groups
            .iter()
            .flat_map(|g| g.other.iter().map(String::as_str))
            .collect();
        return Err(Error::UnsupportedKeys {
            keys: others.join(", "),
        });
    }
    let recipients = all_recipients.join(", ");
    if identities.is_empty() {
        return Err(Error::NoIdentities { recipients });
    }
    let mut parts = Vec::new();
    for group in &metadata.key_groups {
        if let Some(part) = group
            .age
            .iter()
            .find_map(|k| identities.unwrap_key(&k.enc).ok())
        {
            parts.push(part);
        }
    }
    let key = if metadata.key_groups.len() > 1 {
        let need = if metadata.shamir_threshold == 0 {
            metadata.key_groups.len()
        } else {
            metadata.shamir_threshold
        };
        if parts.is_empty() {
            return Err(Error::NoMatchingKey {
                count: identities.len(),
                recipients,
            });
        }
        if parts.len() < need {
            return Err(Error::ShamirThreshold {
                got: parts.len(),
                need,
            });
        }
        shamir::combine(&parts).map_err(Error::Shamir)?
    } else {
        match parts.pop() {
            Some(p) => p,
            None => {
                return Err(Error::NoMatchingKey {
                    count: identities.len(),
                    recipients,
                });
            }
        }
    };
    <[u8; 32]>::try_from(key.as_slice()).map_err(|_| Error::DataKeyLength(key.len()))
}

/// Decrypts a parsed encrypted tree in place with its data key and verifies the MAC.
pub fn decrypt_tree(tree: &mut Tree, metadata: &Metadata, key: &[u8; 32]) -> Result<(), Error> {
    let selector = Selector::new(&metadata.rules)?;
    let computed = engine::decrypt_tree(tree, &selector, key)?;
    let stored =
        cipher::decrypt(&metadata.mac, key, &metadata.last_modified).map_err(Error::Mac)?;
    match stored {
        Value::Str(s) if s == computed => Ok(()),
        _ => Err(Error::MacMismatch),
    }
}

/// Decrypts an encrypted file and returns its parsed plaintext tree.
pub fn decrypt_to_tree(
    input: &[u8],
    format: Format,
    identities: &Identities,
) -> Result<Tree, Error> {
    let (mut tree, metadata) = format::load_encrypted(input, format)?;
    let key = data_key(&metadata, identities)?;
    decrypt_tree(&mut tree, &metadata, &key)?;
    Ok(tree)
}

/// Decrypts an encrypted file and writes the plaintext in the same format, as `sops -d` does.
pub fn decrypt(
    input: &[u8],
    format: Format,
    identities: &Identities,
    opts: &StoreOptions,
) -> Result<Vec<u8>, Error> {
    let tree = decrypt_to_tree(input, format, identities)?;
    format::emit_plain(&tree, format, opts)
}

/// Whether the input is a sops-encrypted file of the given format.
pub fn is_encrypted(input: &[u8], format: Format) -> bool {
    format::load_encrypted(input, format).is_ok()
}

/// What [`encrypt`] needs: recipients (per key group), the encryption rules, and optionally a
/// fixed modification time.
#[derive(Debug, Clone)]
pub struct EncryptSettings {
    /// The key groups; usually one. With several, the data key is split with Shamir.
    pub key_groups: Vec<Vec<Recipient>>,
    /// Groups needed to recover the key (0 = all); only with several groups.
    pub shamir_threshold: usize,
    /// Which values to encrypt.
    pub rules: Rules,
    /// `lastmodified` to record (RFC 3339, UTC); the current time when `None`.
    pub last_modified: Option<String>,
}

impl EncryptSettings {
    /// One key group with these recipients, default rules.
    pub fn new(recipients: Vec<Recipient>) -> Self {
        EncryptSettings {
            key_groups: vec![recipients],
            shamir_threshold: 0,
            rules: Rules::default(),
            last_modified: None,
        }
    }
}

/// Encrypts a parsed plain tree in place and returns the metadata to store with it.
pub fn encrypt_tree(tree: &mut Tree, settings: &EncryptSettings) -> Result<Metadata, Error> {
    if settings.key_groups.iter().all(Vec::is_empty) {
        return Err(Error::NoRecipients);
    }
    let mut rules = settings.rules.clone();
    match rules.count() {
        0 => rules.unencrypted_suffix = Some("_unencrypted".to_string()),
        1 => {}
        _ => return Err(metadata::MetadataError::ConflictingRules.into()),
    }
    let mut key = [0u8; 32];
    {
        use aes_gcm::aead::OsRng;
        use aes_gcm::aead::rand_core::RngCore;
        OsRng.fill_bytes(&mut key);
    }
    let groups = settings.key_groups.len();
    let threshold = if groups > 1 {
        if settings.shamir_threshold == 0 {
            groups
        } else {
            settings.shamir_threshold
        }
    } else {
        0
    };
    let parts = if groups > 1 {
        shamir::split(&key, groups, threshold).map_err(Error::Shamir)?
    } else {
        vec![key.to_vec()]
    };
    let mut key_groups = Vec::new();
    for (recipients, part) in settings.key_groups.iter().zip(&parts) {
        let mut group = KeyGroup::default();
        for r in recipients {
            group.age.push(AgeKey {
                recipient: r.as_str().to_string(),
                enc: r.wrap_key(part)?,
            });
        }
        key_groups.push(group);
    }
    let selector = Selector::new(&rules)?;
    let mac = engine::encrypt_tree(tree, &selector, &key)?;
    let last_modified = settings.last_modified.clone().unwrap_or_else(now_rfc3339);
    let mac = cipher::encrypt(&Value::Str(mac), &key, &last_modified).map_err(Error::Mac)?;
    Ok(Metadata {
        key_groups,
        shamir_threshold: threshold,
        last_modified,
        mac,
        rules,
        version: SOPS_FORMAT_VERSION.to_string(),
    })
}

/// Encrypts a plain file and writes it in the sops format (binary files become a JSON envelope).
pub fn encrypt(
    input: &[u8],
    format: Format,
    settings: &EncryptSettings,
    opts: &StoreOptions,
) -> Result<Vec<u8>, Error> {
    let mut tree = format::load_plain(input, format)?;
    if format != Format::Binary && format::has_metadata(&tree, format) {
        return Err(Error::AlreadyEncrypted);
    }
    let metadata = if format == Format::Binary {
        // The binary store has one value that is always encrypted: sops ignores the rules.
        let settings = EncryptSettings {
            rules: Rules::default(),
            ..settings.clone()
        };
        encrypt_tree(&mut tree, &settings)?
    } else {
        encrypt_tree(&mut tree, settings)?
    };
    format::emit_encrypted(&tree, &metadata, format, opts)
}

/// The current time as RFC 3339 UTC with seconds (`2006-01-02T15:04:05Z`).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
