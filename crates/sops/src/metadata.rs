//! The `sops` metadata section: key groups, MAC, last-modified time and encryption rules.
//!
//! YAML and JSON keep it as a nested `sops` mapping; INI flattens it below a `[sops]` section and
//! dotenv flattens it completely into `sops_…` keys (`__map_` and `__list_N` separators).

use crate::tree::{Branch, Item, Value};

/// The sops version whose file format keelson writes.
pub const SOPS_FORMAT_VERSION: &str = "3.13.3";

/// The key types sops knows that keelson cannot use (listed in errors).
const OTHER_KEY_TYPES: [&str; 6] = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"];

/// One age recipient with the data key (or share) encrypted to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeKey {
    /// The `age1…` recipient.
    pub recipient: String,
    /// The armored age file holding the encrypted data key.
    pub enc: String,
}

/// A key group: every key in it encrypts the same data key (or Shamir share).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyGroup {
    /// The age keys.
    pub age: Vec<AgeKey>,
    /// Keys of other types (PGP, KMS, Vault…), as `type identifier`; kept only to explain why a
    /// file cannot be decrypted.
    pub other: Vec<String>,
}

/// Which values are encrypted: at most one rule may be set; none means the default
/// `unencrypted_suffix: _unencrypted`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    /// Keys ending with this suffix (and everything below them) stay in clear.
    pub unencrypted_suffix: Option<String>,
    /// Only keys ending with this suffix (and everything below) are encrypted.
    pub encrypted_suffix: Option<String>,
    /// Keys matching this regex (and everything below) stay in clear.
    pub unencrypted_regex: Option<String>,
    /// Only keys matching this regex (and everything below) are encrypted.
    pub encrypted_regex: Option<String>,
    /// Values after a comment matching this regex stay in clear.
    pub unencrypted_comment_regex: Option<String>,
    /// Only values after a comment matching this regex are encrypted.
    pub encrypted_comment_regex: Option<String>,
    /// The MAC covers only the encrypted values.
    pub mac_only_encrypted: bool,
}

impl Rules {
    fn fields(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("unencrypted_suffix", &self.unencrypted_suffix),
            ("encrypted_suffix", &self.encrypted_suffix),
            ("unencrypted_regex", &self.unencrypted_regex),
            ("encrypted_regex", &self.encrypted_regex),
            ("unencrypted_comment_regex", &self.unencrypted_comment_regex),
            ("encrypted_comment_regex", &self.encrypted_comment_regex),
        ]
    }

    /// How many of the six selection rules are set.
    pub fn count(&self) -> usize {
        self.fields()
            .iter()
            .filter(|(_, v)| v.as_deref().is_some_and(|s| !s.is_empty()))
            .count()
    }
}

/// The parsed `sops` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// The key groups (one unless Shamir sharing is used).
    pub key_groups: Vec<KeyGroup>,
    /// How many groups are needed to recover the data key (0 = all).
    pub shamir_threshold: usize,
    /// `lastmodified`, RFC 3339; the MAC's additional data.
    pub last_modified: String,
    /// The encrypted MAC.
    pub mac: String,
    /// The encryption rules.
    pub rules: Rules,
    /// The sops version that wrote the file.
    pub version: String,
}

/// Why the metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// There is no `sops` section.
    #[error("sops metadata not found (the file is not encrypted with sops)")]
    NotFound,
    /// A field has the wrong shape.
    #[error("invalid sops metadata field {field}: {problem}")]
    Field {
        /// The field path, e.g. `sops.age[0].enc`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// More than one encryption rule is set.
    #[error(
        "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file"
    )]
    ConflictingRules,
    /// No key at all.
    #[error("no keys found in the sops metadata")]
    NoKeys,
    /// Flattened metadata is inconsistent.
    #[error("invalid flattened sops metadata key {key}: {problem}")]
    Flattened {
        /// The flattened key.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

fn field_err(field: &str, problem: &str) -> MetadataError {
    MetadataError::Field {
        field: field.to_string(),
        problem: problem.to_string(),
    }
}

fn as_string(v: &Value, field: &str) -> Result<String, MetadataError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err(field_err(field, "expected a string")),
    }
}

fn opt_string(m: &Branch, key: &str) -> Result<Option<String>, MetadataError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let s = as_string(v, &format!("sops.{key}"))?;
            Ok(if s.is_empty() { None } else { Some(s) })
        }
    }
}

fn list<'a>(m: &'a Branch, key: &str, field: &str) -> Result<Vec<&'a Value>, MetadataError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Seq(items)) => Ok(items
            .iter()
            .filter(|v| !matches!(v, Value::Comment(_)))
            .collect()),
        Some(_) => Err(field_err(&format!("{field}.{key}"), "expected a list")),
    }
}

fn group_from(m: &Branch, field: &str) -> Result<KeyGroup, MetadataError> {
    let mut group = KeyGroup::default();
    for (i, entry) in list(m, "age", field)?.into_iter().enumerate() {
        let f = format!("{field}.age[{i}]");
        let Value::Map(entry) = entry else {
            return Err(field_err(&f, "expected a mapping"));
        };
        let recipient = entry
            .get("recipient")
            .map(|v| as_string(v, &f))
            .transpose()?
            .unwrap_or_default();
        let enc = entry
            .get("enc")
            .map(|v| as_string(v, &f))
            .transpose()?
            .unwrap_or_default();
        group.age.push(AgeKey { recipient, enc });
    }
    for kind in OTHER_KEY_TYPES {
        for entry in list(m, kind, field)? {
            let id = match entry {
                Value::Map(e) => [
                    "fp",
                    "arn",
                    "resource_id",
                    "key_name",
                    "vault_url",
                    "key_id",
                ]
                .iter()
                .find_map(|k| e.get(k).and_then(Value::as_str))
                .unwrap_or("")
                .to_string(),
                _ => String::new(),
            };
            group.other.push(format!("{kind} {id}").trim().to_string());
        }
    }
    Ok(group)
}

impl Metadata {
    /// Reads the metadata from the (unflattened) `sops` mapping.
    pub fn from_branch(m: &Branch) -> Result<Self, MetadataError> {
        let top = group_from(m, "sops")?;
        let mut key_groups = Vec::new();
        if !top.age.is_empty() || !top.other.is_empty() {
            key_groups.push(top);
        } else {
            for (i, g) in list(m, "key_groups", "sops")?.into_iter().enumerate() {
                let f = format!("sops.key_groups[{i}]");
                let Value::Map(g) = g else {
                    return Err(field_err(&f, "expected a mapping"));
                };
                key_groups.push(group_from(g, &f)?);
            }
        }
        if key_groups.is_empty() {
            return Err(MetadataError::NoKeys);
        }
        let shamir_threshold = match m.get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            Some(Value::Str(s)) if s.is_empty() => 0,
            Some(Value::Str(s)) => s
                .parse()
                .map_err(|_| field_err("sops.shamir_threshold", "expected a number"))?,
            Some(_) => return Err(field_err("sops.shamir_threshold", "expected a number")),
        };
        let mac_only_encrypted = match m.get("mac_only_encrypted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Str(s)) => crate::cipher::parse_go_bool(s)
                .ok_or_else(|| field_err("sops.mac_only_encrypted", "expected a boolean"))?,
            Some(Value::Int(i)) => *i != 0,
            Some(_) => return Err(field_err("sops.mac_only_encrypted", "expected a boolean")),
        };
        let mut rules = Rules {
            unencrypted_suffix: opt_string(m, "unencrypted_suffix")?,
            encrypted_suffix: opt_string(m, "encrypted_suffix")?,
            unencrypted_regex: opt_string(m, "unencrypted_regex")?,
            encrypted_regex: opt_string(m, "encrypted_regex")?,
            unencrypted_comment_regex: opt_string(m, "unencrypted_comment_regex")?,
            encrypted_comment_regex: opt_string(m, "encrypted_comment_regex")?,
            mac_only_encrypted,
        };
        match rules.count() {
            0 => rules.unencrypted_suffix = Some("_unencrypted".to_string()),
            1 => {}
            _ => return Err(MetadataError::ConflictingRules),
        }
        let last_modified = opt_string(m, "lastmodified")?
            .ok_or_else(|| field_err("sops.lastmodified", "missing"))?;
        Ok(Metadata {
            key_groups,
            shamir_threshold,
            last_modified: normalize_rfc3339(&last_modified),
            mac: opt_string(m, "mac")?.unwrap_or_default(),
            rules,
            version: opt_string(m, "version")?.unwrap_or_default(),
        })
    }

    /// Writes the metadata as the `sops` mapping, keys sorted as sops writes them.
    pub fn to_branch(&self) -> Branch {
        fn age_list(keys: &[AgeKey]) -> Value {
            Value::Seq(
                keys.iter()
                    .map(|k| {
                        let mut b = Branch::default();
                        b.push("enc", Value::Str(k.enc.clone()));
                        b.push("recipient", Value::Str(k.recipient.clone()));
                        Value::Map(b)
                    })
                    .collect(),
            )
        }
        let mut entries: Vec<(String, Value)> = Vec::new();
        if self.key_groups.len() == 1 {
            entries.push(("age".into(), age_list(&self.key_groups[0].age)));
        } else {
            let groups = self
                .key_groups
                .iter()
                .map(|g| {
                    let mut b = Branch::default();
                    b.push("age", age_list(&g.age));
                    b.push("hc_vault", Value::Seq(Vec::new()));
                    Value::Map(b)
                })
                .collect();
            entries.push(("key_groups".into(), Value::Seq(groups)));
            entries.push((
                "shamir_threshold".into(),
                Value::Int(self.shamir_threshold as i64),
            ));
        }
        entries.push((
            "lastmodified".into(),
            Value::Str(self.last_modified.clone()),
        ));
        entries.push(("mac".into(), Value::Str(self.mac.clone())));
        for (name, value) in self.rules.fields() {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                entries.push((name.into(), Value::Str(v.clone())));
            }
        }
        if self.rules.mac_only_encrypted {
            entries.push(("mac_only_encrypted".into(), Value::Bool(true)));
        }
        entries.push(("version".into(), Value::Str(self.version.clone())));
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Branch(
            entries
                .into_iter()
                .map(|(k, v)| Item::Entry(k, v))
                .collect(),
        )
    }
}

/// Drops fractional seconds, as Go's `time.Format(time.RFC3339)` of the parsed time does.
fn normalize_rfc3339(s: &str) -> String {
    match s.find('.') {
        Some(dot) if s[..dot].contains('T') => {
            let rest = &s[dot + 1..];
            let tz = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            format!("{}{}", &s[..dot], &rest[tz..])
        }
        _ => s.to_string(),
    }
}

const MAP_SEP: &str = "__map_";
const LIST_SEP: &str = "__list_";

/// Flattens a mapping into `key__map_sub` / `key__list_0` entries (sops' `flattenTreeBranch`).
pub fn flatten(branch: &Branch, prefix: &str) -> Vec<(String, Value)> {
    fn descend(value: &Value, key: String, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Map(b) => {
                for (k, v) in b.entries() {
                    descend(v, format!("{key}{MAP_SEP}{k}"), out);
                }
            }
            Value::Seq(items) => {
                for (i, v) in items
                    .iter()
                    .filter(|v| !matches!(v, Value::Comment(_)))
                    .enumerate()
                {
                    descend(v, format!("{key}{LIST_SEP}{i}"), out);
                }
            }
            other => out.push((key, other.clone())),
        }
    }
    let mut out = Vec::new();
    for (k, v) in branch.entries() {
        descend(v, format!("{prefix}{k}"), &mut out);
    }
    out
}

#[derive(Default)]
struct Node {
    value: Option<Value>,
    keys: Vec<(String, Node)>,
    indices: Vec<(usize, Node)>,
}

/// Rebuilds the nested metadata from flattened `(key, value)` pairs (prefix already removed).
pub fn unflatten(pairs: Vec<(String, Value)>) -> Result<Branch, MetadataError> {
    let mut root = Node::default();
    for (key, value) in pairs {
        let mut node = &mut root;
        for token in tokenize(&key) {
            node = match token {
                Token::Key(k) => {
                    let pos = match node.keys.iter().position(|(name, _)| *name == k) {
                        Some(p) => p,
                        None => {
                            node.keys.push((k, Node::default()));
                            node.keys.len() - 1
                        }
                    };
                    &mut node.keys[pos].1
                }
                Token::Index(i) => {
                    let pos = match node.indices.iter().position(|(n, _)| *n == i) {
                        Some(p) => p,
                        None => {
                            node.indices.push((i, Node::default()));
                            node.indices.len() - 1
                        }
                    };
                    &mut node.indices[pos].1
                }
            };
        }
        if node.value.is_some() {
            return Err(MetadataError::Flattened {
                key,
                problem: "duplicate value".into(),
            });
        }
        node.value = Some(value);
    }
    match convert(root)? {
        Value::Map(b) => Ok(b),
        _ => Err(MetadataError::Flattened {
            key: String::new(),
            problem: "root is not a mapping".into(),
        }),
    }
}

fn convert(mut node: Node) -> Result<Value, MetadataError> {
    let kinds =
        node.value.is_some() as u8 + !node.keys.is_empty() as u8 + !node.indices.is_empty() as u8;
    if kinds > 1 {
        return Err(MetadataError::Flattened {
            key: String::new(),
            problem: "type mismatch".into(),
        });
    }
    if let Some(v) = node.value {
        return Ok(v);
    }
    if !node.indices.is_empty() {
        node.indices.sort_by_key(|(i, _)| *i);
        if node.indices.iter().enumerate().any(|(n, (i, _))| n != *i) {
            return Err(MetadataError::Flattened {
                key: String::new(),
                problem: "incomplete list".into(),
            });
        }
        return Ok(Value::Seq(
            node.indices
                .into_iter()
                .map(|(_, n)| convert(n))
                .collect::<Result<_, _>>()?,
        ));
    }
    node.keys.sort_by(|a, b| a.0.cmp(&b.0));
    let mut b = Branch::default();
    for (k, n) in node.keys {
        b.push(k, convert(n)?);
    }
    Ok(Value::Map(b))
}

enum Token {
    Key(String),
    Index(usize),
}

fn tokenize(path: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut state_list = false;
    loop {
        let next_map = rest.find(MAP_SEP);
        let next_list = rest.find(LIST_SEP);
        let (end, sep_list) = match (next_map, next_list) {
            (Some(m), Some(l)) if l < m => (Some(l), true),
            (Some(m), _) => (Some(m), false),
            (None, Some(l)) => (Some(l), true),
            (None, None) => (None, false),
        };
        let part = &rest[..end.unwrap_or(rest.len())];
        tokens.push(if state_list {
            Token::Index(part.parse().unwrap_or(0))
        } else {
            Token::Key(part.to_string())
        });
        match end {
            Some(e) => {
                rest = &rest[e + if sep_list {
                    LIST_SEP.len()
                } else {
                    MAP_SEP.len()
                }..];
                state_list = sep_list;
            }
            None => break,
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flatten_round_trip() {
        let mut inner = Branch::default();
        inner.push("enc", Value::Str("E".into()));
        inner.push("recipient", Value::Str("R".into()));
        let mut m = Branch::default();
        m.push("age", Value::Seq(vec![Value::Map(inner)]));
        m.push("lastmodified", Value::Str("t".into()));
        let flat = flatten(&m, "");
        assert_eq!(flat[0].0, "age__list_0__map_enc");
        assert_eq!(unflatten(flat).unwrap(), m);
    }

    #[test]
    fn rfc3339_fraction_dropped() {
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05.123Z"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05Z"),
            "2024-01-02T03:04:05Z"
        );
    }
}
